from setuptools import find_packages, setup

PACKAGE = "rwr_policy_node"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="vipflow maintainers",
    maintainer_email="vipflow@users.noreply.github.com",
    description="Offline RWR/BC policies on a Franka at 25 Hz via franka_ros2; evaluation; training.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "rwr_policy_node = rwr_policy_node.policy_node:main",
            "evaluate = rwr_policy_node.policy_node:evaluate_main",
            "train = rwr_policy_node.train:main",
        ],
    },
)
