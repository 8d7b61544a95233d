"""Evaluation rollouts of a policy, each recorded as an episode, into a results ledger.

    ros2 launch vip_bringup evaluate.launch.py --show-args
    ros2 launch vip_bringup evaluate.launch.py policy:=runs/fold_towel-rwr rollouts:=10 robot_ip:=172.16.0.2
    ros2 run demo_recorder keys        # in another terminal: Enter starts a rollout, s/f judge it
"""

from vip_bringup.launch_builder import evaluate_launch_description


def generate_launch_description():
    return evaluate_launch_description()
