from setuptools import find_packages, setup

PACKAGE = "vip_reward_node"

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
    description="Live VIP/LIV embeddings, values and rewards for a camera topic.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "vip_reward_node = vip_reward_node.reward_node:main",
        ],
    },
)
