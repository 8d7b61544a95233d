"""Placeholder: being written (replace this whole file)."""


def register(sub) -> None:
    sub.add_parser("demo", help="(not written yet)")
