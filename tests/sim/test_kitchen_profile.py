"""The simulator's limits profile describes the simulated arm, and the factory opens the kitchen."""

from __future__ import annotations

import numpy as np

from vipflow.evaluation.sim_backend import SimBackend
from vipflow.hardware import RobotTarget
from vipflow.hardware.factory import SimulatorSpec, open_hardware
from vipflow.hardware.simulator import KITCHEN_BASE, KITCHEN_ENVELOPE, KITCHEN_Q_MAX, KITCHEN_Q_MIN
from vipflow.runtime.limits import SIM_KITCHEN_LIMITS, SIM_PROFILE, SafetyLimits


def test_kitchen_envelope_is_the_model(slide_sim):
    np.testing.assert_allclose(slide_sim.model.jnt_range[:7], np.stack([KITCHEN_Q_MIN, KITCHEN_Q_MAX], 1))
    np.testing.assert_allclose(slide_sim.data.body("panda0_link0").xpos, KITCHEN_BASE)
    hand = slide_sim.state().ee_pose[:3]
    assert np.all(hand >= KITCHEN_ENVELOPE.workspace_min) and np.all(hand <= KITCHEN_ENVELOPE.workspace_max)


def test_sim_backend_applies_the_sim_profile_to_any_base_limits():
    backend = SimBackend("slide_cabinet", seed=0, image_size=32)
    try:
        for base, step in ((SafetyLimits(), 0.01), (SIM_KITCHEN_LIMITS, 0.025)):
            limits = backend.limits(base)
            assert limits.profile == SIM_PROFILE and limits.kinematics == "none"
            assert limits.step.max_translation_m == step  # the steps are the caller's
            assert np.all(np.asarray(limits.workspace.max) - limits.workspace.min > 0.7)  # around the task
    finally:
        backend.stop()


def test_the_factory_opens_camera_robot_and_clock_on_one_simulation():
    spec = SimulatorSpec("microwave", seed=3, image_size=32)
    hw = open_hardware(spec, spec)
    try:
        assert hw.camera.sim is hw.robot.sim is hw.sim and hw.sim.task.name == "microwave"
        t0 = hw.clock.now_ns()
        hw.robot.start()
        state = hw.robot.state()
        hw.robot.send(RobotTarget(gripper_width=state.gripper_width, ee_pose=state.ee_pose))
        assert hw.clock.now_ns() == t0 + 40_000_000  # one send, one 40 ms physics step
    finally:
        hw.sim.close()

