"""Placeholder: being written (replace this whole file)."""


def register(sub) -> None:
    sub.add_parser("evaluate", help="(not written yet)")
