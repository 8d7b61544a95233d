#!/usr/bin/env bash
# Source ROS 2, franka_ros2 and the vipflow workspace, then run the command (default: bash).
set -e
# shellcheck disable=SC1091
source /etc/profile.d/vip_ros.sh
exec "$@"
