"""vipflow: the ROS-free core of the VIP/LIV robot-learning suite."""

__version__ = "0.1.0"
