"""rwr_policy_node: an offline RWR/BC policy driving the arm at 25 Hz, and evaluation rollouts."""
