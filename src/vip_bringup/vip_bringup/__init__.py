"""vip_bringup: launch files, task configs and the simulated-kitchen bridge of the VIP/LIV suite."""
