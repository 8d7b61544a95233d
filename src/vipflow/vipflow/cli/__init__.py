"""Command-line interface: one `vipflow` entry point, one module per subcommand."""
