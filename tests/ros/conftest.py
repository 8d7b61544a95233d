"""Fixtures of the process-level ROS 2 tests (see rosproc.py): a domain, nodes, a probe."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from rosproc import PACKAGE_DIRS, Domain, Node, Probe, ensure_workspace, node_env

for _pkg in PACKAGE_DIRS:  # plans and parameter schemas, read in this process as in tests/ros_static
    if str(_pkg) not in sys.path:
        sys.path.insert(0, str(_pkg))


@pytest.fixture(scope="session")
def ros_workspace():
    """Our four packages installed into .rosinstall (redone only when their sources changed)."""
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:  # the suite's environment must have it: `make setup` installs it
        pytest.fail(f"rclpy is not installed ({exc}); run `make setup` (pip: vipflow[ros])")
    ensure_workspace()


@pytest.fixture(scope="session")
def ros_interfaces(ros_workspace):
    """The test franka_msgs / controller_manager_msgs, built with rosidl from the wheels (cached)."""
    ensure_workspace(interfaces=True)


class RosTest:
    """One test's DDS domain, its node processes and its probe; all torn down after the test."""

    def __init__(self, log_dir: Path, interfaces: bool = False) -> None:
        self.domain = Domain()
        self.log_dir = log_dir
        self.interfaces = interfaces
        self.env = node_env(self.domain.id, interfaces=interfaces)
        self.nodes: list[Node] = []
        self._probe: Probe | None = None

    def start(self, executable: str, **kw) -> Node:
        node = Node(executable, self.env, self.log_dir, **kw)
        self.nodes.append(node)
        return node

    @property
    def probe(self) -> Probe:
        if self._probe is None:
            self._probe = Probe(self.domain.id)
        return self._probe

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        if self._probe is not None:
            self._probe.close()
        self.domain.release()


@pytest.fixture
def ros(ros_workspace, tmp_path):
    test = RosTest(tmp_path)
    yield test
    test.close()


@pytest.fixture
def ros_with_franka(ros_interfaces, tmp_path):
    test = RosTest(tmp_path, interfaces=True)
    yield test
    test.close()


@pytest.fixture(scope="session")
def encoder_file(tmp_path_factory):
    """A real VIP-family encoder (small, random: no weights can be downloaded) in our export format."""
    import torch

    from vipflow.encoders import load_encoder, save_encoder

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_encoder("vip", arch="convnet-small", random_init=True, seed=0)
    path = save_encoder(encoder, tmp_path_factory.mktemp("encoder") / "encoder.safetensors")
    return path, encoder


@pytest.fixture(scope="session")
def kitchen_policy(tmp_path_factory):
    """An RWR policy trained here on simulated slide_cabinet demos (2 expert, 1 failed; 64 px) with
    the shipped kitchen encoder: (checkpoint, encoder weights, demo dataset). In process, the same
    recipe opens the cabinet in 2 of 2 rollouts (`vipflow demo --experts 2 --failures 1 --steps 1500`)."""
    from vipflow.sim import configure_gl

    configure_gl()
    from vipflow.sim.encoder import kitchen_encoder
    from vipflow.sim.workflow import WorkflowConfig, WorkflowResult, record_demos, train_policies

    out = tmp_path_factory.mktemp("kitchen_policy")
    cfg = WorkflowConfig(
        out_dir=out,
        n_expert=2,
        n_failure=1,
        image_size=64,
        methods=("rwr",),
        seeds=1,
        policy_steps=1500,
        progress=False,
    )
    encoder, encoder_path, _ = kitchen_encoder(cfg.task, cache_dir=out / "encoder", progress=False)
    dataset = out / "demos"
    demos = record_demos(dataset, cfg.task, n_expert=2, n_failure=1, seed=0, image_size=64, progress=False)
    result = WorkflowResult(cfg, encoder_path, False, demos, None)
    train_policies(cfg, dataset, encoder, encoder_path, result, say=lambda _line: None)
    return result.policies[("rwr", 0)], encoder_path, dataset
