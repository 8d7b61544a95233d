"""ROS names that more than one node package uses and no task config sets, declared once.

The topics a task config sets (camera, arm state, pose commands, embeddings, rewards) are
declared by :class:`vipflow.task_config.TopicSpec`; node parameters take their defaults from it
(:func:`vipflow.config_schema.option_from`). The operator's key and prompt topics live with the
remote keys (:mod:`vipflow.ros.remote_keys`).
"""

from __future__ import annotations

ACTION_TOPIC = "/vip/action"  # the policy's output before the safety layer
POLICY_STATUS_TOPIC = "/vip/policy_status"  # the policy node's state, as JSON
STAMPED_SUFFIX = "_stamped"  # the reward topic's PointStamped twin: <reward topic>_stamped

# The simulated kitchen (vip_bringup's kitchen_sim node) and the evaluate node's topic judge.
SIM_SUCCESS_TOPIC = "/kitchen/success"
SIM_RESET_SERVICE = "/kitchen/reset"
SIM_GRIPPER_COMMAND_TOPIC = "/kitchen/gripper_command"
SIM_WORLD_FRAME = "world"  # the kitchen's poses (and so the policy's targets) are in its world frame
