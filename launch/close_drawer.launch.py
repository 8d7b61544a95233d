"""CloseDrawer (VIP paper, real robot): the RealSense, the Franka (franka_bringup),
vip_reward_node and rwr_policy_node, configured by config/tasks/close_drawer.yaml.

    ros2 launch vip_bringup close_drawer.launch.py --show-args
    ros2 launch vip_bringup close_drawer.launch.py robot_ip:=172.16.0.2 \\
        encoder_weights:=~/weights/vip_resnet50.pt policy:=runs/close_drawer-rwr
"""

from vip_bringup.launch_builder import task_launch_description


def generate_launch_description():
    return task_launch_description("close_drawer")
