import os

from setuptools import find_packages, setup

PACKAGE = "vip_bringup"


def tree(directory: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing ``directory`` (here: a symlink to the workspace's top-level
    launch/ or config/) to share/vip_bringup/<directory>, keeping its subdirectories."""
    entries = []
    for root, dirs, files in sorted(os.walk(directory)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        files = [f for f in files if not f.endswith(".pyc")]
        if files:
            dest = os.path.join("share", PACKAGE, root)
            entries.append((dest, sorted(os.path.join(root, f) for f in files)))
    return entries


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *tree("launch"),
        *tree("config"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="vipflow maintainers",
    maintainer_email="vipflow@users.noreply.github.com",
    description="Launch files, task configs and the simulated-kitchen bridge of the VIP/LIV suite.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "kitchen_sim = vip_bringup.kitchen_sim_node:main",
        ],
    },
)
