"""Placeholder: being written (replace this whole file)."""


def register(sub) -> None:
    sub.add_parser("rewards", help="(not written yet)")
