"""The ROS-free halves of our ROS 2 nodes: topic-fed hardware, node plumbing, operator keys over topics.

Nothing here imports rclpy at module level; the nodes pass rclpy in or receive CDR bytes.
"""
