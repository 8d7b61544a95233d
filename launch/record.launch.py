"""Record kinesthetic demos of a task: camera, arm in teaching mode, reward node, demo_recorder.

    ros2 launch vip_bringup record.launch.py --show-args
    ros2 launch vip_bringup record.launch.py task:=fold_towel num_episodes:=20 robot_ip:=172.16.0.2
    ros2 run demo_recorder keys        # in another terminal: space starts, s/f label, q quits
"""

from vip_bringup.launch_builder import record_launch_description


def generate_launch_description():
    return record_launch_description()
