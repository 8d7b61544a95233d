from setuptools import find_packages, setup

PACKAGE = "demo_recorder"

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
    description="Kinesthetic demos from ROS topics into rosbag2 (MCAP) episodes; a pyrealsense2 camera node.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "demo_recorder = demo_recorder.recorder_node:main",
            "camera = demo_recorder.camera_node:main",
            "keys = demo_recorder.keys_node:main",
        ],
    },
)
