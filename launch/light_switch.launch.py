"""Light switch (simulated FrankaKitchen): the simulated kitchen (camera and arm),
vip_reward_node and rwr_policy_node, configured by config/tasks/light_switch.yaml.

    ros2 launch vip_bringup light_switch.launch.py --show-args
    ros2 launch vip_bringup light_switch.launch.py \\
        encoder_weights:=kitchen_vip.safetensors policy:=runs/light_switch-rwr autostart:=true
"""

from vip_bringup.launch_builder import task_launch_description


def generate_launch_description():
    return task_launch_description("light_switch")
