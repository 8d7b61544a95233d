"""25 Hz policy runtime: control loop, perception thread, safety layer, robot backends,
evaluation sessions and results ledgers."""
