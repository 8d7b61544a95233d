"""demo_recorder: kinesthetic demos from ROS topics into rosbag2 (MCAP) episodes."""
