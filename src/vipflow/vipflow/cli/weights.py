"""Placeholder: being written (replace this whole file)."""


def register(sub) -> None:
    sub.add_parser("weights", help="(not written yet)")
