"""The ament_python packages, checked statically (no ROS needed).

package.xml is well-formed format 3 and its dependencies are exactly what the code imports (plus
what it starts at run time); setup.py/setup.cfg install what `ros2 run` and the ament index need;
every console script resolves to a function; only ``*_node.py`` modules import rclpy.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from package_info import PACKAGES, console_scripts, setup_kwargs

from vipflow.ros.testing import LAUNCH_TEST_DEPENDS
from vipflow.ros.topic_hardware import TopicCamera, TopicHardwareConfig, TopicRobot, hardware_subscriptions

ROOT = Path(__file__).resolve().parents[2]
# Python modules that are ROS packages (their import name is the package name).
ROS_MODULES = {
    "rclpy",
    "rcl_interfaces",
    "rosidl_runtime_py",
    "sensor_msgs",
    "std_msgs",
    "geometry_msgs",
    "std_srvs",
    "trajectory_msgs",
    "lifecycle_msgs",
    "controller_manager_msgs",
    "franka_msgs",
    "launch",
    "launch_ros",
    "launch_testing",
    "launch_testing_ros",
    "ament_index_python",
}
# Non-ROS imports and their rosdep keys. vipflow is pip-installed with its own dependencies
# (torch, opencv-python-headless, ...): docs/ros.md; declaring those to rosdep would pull apt
# duplicates of pip packages.
ROSDEP_KEYS = {"numpy": "python3-numpy", "yaml": "python3-yaml", "pytest": "python3-pytest"}
PIP_PROVIDED = {"vipflow", "torch", "cv2", "setuptools"}
# Started (not imported) by vip_bringup's launch plans, and the controllers its YAML registers.
RUNTIME_ONLY = {
    "vip_bringup": {
        "realsense2_camera",
        "franka_bringup",
        "controller_manager",
        "franka_example_controllers",
    },
}


def _package_xml(pkg: str) -> ET.Element:
    return ET.parse(ROOT / "src" / pkg / "package.xml").getroot()


def _deps(root: ET.Element, *tags: str) -> set[str]:
    return {e.text.strip() for tag in tags for e in root.findall(tag)}


def _imports(files: list[Path]) -> set[str]:
    out: set[str] = set()
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                out.add(node.module.split(".")[0])
    return out


def _sources(pkg: str) -> tuple[list[Path], list[Path]]:
    base = ROOT / "src" / pkg
    code = sorted((base / pkg).rglob("*.py")) + [base / "setup.py"]
    tests = sorted((base / "test").glob("*.py"))
    return code, tests


def _required(pkg: str, modules: set[str]) -> set[str]:
    """ROS packages and rosdep keys the given imports need."""
    out = set()
    for mod in modules - set(sys.stdlib_module_names) - PIP_PROVIDED - {pkg}:
        if mod in ROS_MODULES or mod in PACKAGES:
            out.add(mod)
        elif mod in ROSDEP_KEYS:
            out.add(ROSDEP_KEYS[mod])
        else:
            raise AssertionError(f"{pkg} imports {mod!r}: map it to a rosdep key in this test or avoid it")
    return out


@pytest.mark.parametrize("pkg", PACKAGES)
def test_package_xml_is_format_3_ament_python(pkg):
    root = _package_xml(pkg)
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == pkg
    assert root.findtext("version") == setup_kwargs(pkg)["version"]
    assert root.findtext("description").strip() and root.findtext("license")
    assert root.find("maintainer").get("email")
    assert root.findtext("export/build_type") == "ament_python"
    text = (ROOT / "src" / pkg / "package.xml").read_text()
    assert 'href="http://download.ros.org/schema/package_format3.xsd"' in text


@pytest.mark.parametrize("pkg", PACKAGES)
def test_dependencies_match_the_imports(pkg):
    code, tests = _sources(pkg)
    root = _package_xml(pkg)
    run_imports = _imports(code)
    need_run = _required(pkg, run_imports) - {"setuptools"}
    text = "\n".join(f.read_text() for f in code)
    if "message_type(" in text:
        # message_type() resolves the hardware topics' types at run time: their packages must be there.
        subs = hardware_subscriptions(TopicHardwareConfig(), TopicCamera(), TopicRobot())
        need_run |= {msgtype.split("/")[0] for msgtype, _topic, _callback in subs}
    # interfaces imported only when the real robot's path is chosen (franka_msgs, controller_manager_msgs)
    need_run |= set(re.findall(r'import_interfaces\(\s*"(\w+)\.', text))
    need_run |= RUNTIME_ONLY.get(pkg, set())
    declared_run = _deps(root, "exec_depend", "depend")
    assert declared_run == need_run, (
        f"{pkg}/package.xml exec_depend: missing {sorted(need_run - declared_run)}, "
        f"unused {sorted(declared_run - need_run)}"
    )
    need_test = _required(pkg, _imports(tests))
    if re.search(r"vipflow\.ros(\.testing | import testing)", "\n".join(f.read_text() for f in tests)):
        need_test |= set(LAUNCH_TEST_DEPENDS)
    need_test -= declared_run
    declared_test = _deps(root, "test_depend")
    assert need_test <= declared_test, f"{pkg}: test_depend misses {sorted(need_test - declared_test)}"
    assert declared_test - need_test <= {"python3-pytest"}, (
        f"{pkg}: unused test_depend {declared_test - need_test}"
    )


@pytest.mark.parametrize("pkg", PACKAGES)
def test_setup_installs_the_marker_manifest_and_scripts_where_ros2_run_looks(pkg):
    base = ROOT / "src" / pkg
    marker = base / "resource" / pkg
    assert marker.is_file() and marker.stat().st_size == 0
    kw = setup_kwargs(pkg)
    assert kw["name"] == pkg and pkg in kw["packages"]
    data = dict(kw["data_files"])
    assert data["share/ament_index/resource_index/packages"] == [f"resource/{pkg}"]
    assert data[f"share/{pkg}"] == ["package.xml"]
    cfg = configparser.ConfigParser()
    cfg.read(base / "setup.cfg")
    assert cfg["develop"]["script_dir"] == f"$base/lib/{pkg}"
    assert cfg["install"]["install_scripts"] == f"$base/lib/{pkg}"


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_console_script_resolves_to_a_function(pkg):
    scripts = console_scripts(pkg)
    assert scripts, f"{pkg} installs no executables"
    for name, (module, func) in scripts.items():
        path = ROOT / "src" / pkg / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{pkg}: console script {name} -> {module}, but {path} does not exist"
        tree = ast.parse(path.read_text())
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert func in functions, f"{pkg}: {name} -> {module}:{func}, which {path.name} does not define"
        args = functions[func].args
        assert all(a.arg in ("args", "argv") for a in args.args), (
            f"{name}: main must be callable without arguments"
        )
        assert len(args.defaults) == len(args.args)


def test_the_installed_share_has_every_launch_file_and_config():
    data = dict(setup_kwargs("vip_bringup")["data_files"])
    launch = {Path(p).name for p in data["share/vip_bringup/launch"]}
    assert launch == {p.name for p in (ROOT / "launch").glob("*.launch.py")}
    tasks = {Path(p).name for p in data["share/vip_bringup/config/tasks"]}
    assert tasks == {p.name for p in (ROOT / "config" / "tasks").glob("*.yaml")}
    assert {"safety_default.yaml", "franka_controllers.yaml"} <= {
        Path(p).name for p in data["share/vip_bringup/config"]
    }
    for link, target in (("launch", "launch"), ("config", "config")):
        path = ROOT / "src" / "vip_bringup" / link
        assert path.is_symlink() and path.resolve() == (ROOT / target).resolve()


def _modules_importing(root: Path, module: str) -> list[Path]:
    return [f for f in sorted(root.rglob("*.py")) if module in _imports([f])]


def test_only_node_modules_import_rclpy():
    assert _modules_importing(ROOT / "src" / "vipflow", "rclpy") == [], "the core must never import rclpy"
    for pkg in PACKAGES:
        offenders = [
            f
            for f in _modules_importing(ROOT / "src" / pkg / pkg, "rclpy")
            if not f.name.endswith("_node.py")
        ]
        assert offenders == [], f"only *_node.py modules may import rclpy: {offenders}"
    # the ROS-free helpers the tests import really are importable without ROS
    for mod in ("vip_reward_node.reward_stream", "rwr_policy_node.policy_runner", "vip_bringup.plan"):
        __import__(mod)


def test_nodes_that_spin_import_the_executors_module():
    """``vipflow.ros.node_support.spin`` reaches ``rclpy.executors`` through the rclpy module it is
    handed: the node module must import that submodule."""
    for pkg in PACKAGES:
        for f in sorted((ROOT / "src" / pkg / pkg).glob("*_node.py")):
            text = f.read_text()
            if "spin(rclpy" in text:
                assert "import rclpy.executors" in text, f"{f.name} spins without importing rclpy.executors"


def test_the_launch_test_helper_plays_hardware_on_node_parameters_and_writes_a_real_encoder(tmp_path):
    from demo_recorder.params import RecorderNodeParams
    from rwr_policy_node.params import PolicyNodeParams
    from vipflow.config_schema import param_specs
    from vipflow.encoders import load_encoder
    from vipflow.ros.testing import TEST_HARDWARE, small_encoder

    for schema in (RecorderNodeParams, PolicyNodeParams):
        assert set(TEST_HARDWARE) <= {s.name for s in param_specs(schema)}, schema.__name__
    encoder, weights = small_encoder(tmp_path)
    assert weights.parent == tmp_path
    assert load_encoder("vip", weights, arch="convnet-small").fingerprint == encoder.fingerprint
