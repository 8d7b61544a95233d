"""Scripted experts, near-task resets and the failure generator on the real kitchen physics."""

from __future__ import annotations

import numpy as np
import pytest

from vipflow.sim import TASKS, KitchenSim
from vipflow.sim.demos import demo_styles
from vipflow.sim.experts import ExpertStyle, make_expert


def run(sim: KitchenSim, style: ExpertStyle, seed: int) -> bool:
    """One episode of the task's horizon, stepping the expert directly (no rendering)."""
    sim.reset(seed)
    expert = make_expert(sim.task.name, style, horizon=sim.task.horizon, seed=seed)
    for _ in range(sim.task.horizon):
        sim.step(expert(sim))
    return sim.success()


@pytest.fixture(scope="module", params=sorted(TASKS))
def task_sim(request):
    sim = KitchenSim(request.param, seed=0, image_size=32)
    yield sim
    sim.close()


@pytest.mark.slow
def test_expert_succeeds_20_of_20(task_sim):
    """50 steps (2 s at 25 Hz) for slide cabinet, microwave, light switch; 100 for the hinge door."""
    wins = sum(run(task_sim, ExpertStyle(), seed) for seed in range(20))
    assert wins == 20, f"{task_sim.task.name}: expert {wins}/20"


def test_failure_styles_fail_and_noisy_experts_still_succeed(task_sim):
    specs = demo_styles(n_expert=2, n_failure=4, seed=3)
    outcomes = [run(task_sim, spec.style, spec.seed) for spec in specs]
    assert outcomes[:2] == [True, True], [s.kind for s in specs]
    assert not any(outcomes[2:]), [s.kind for s in specs]
    assert [s.kind for s in specs[2:]] == [
        "failure:miss", "failure:give_up", "failure:wrong_way", "failure:freeze"
    ]


def test_reset_is_randomised_near_the_task_and_reproducible(task_sim):
    task = task_sim.task
    starts = []
    for seed in range(6):
        task_sim.reset(seed)
        starts.append(task_sim.state().ee_pose[:3].copy())
        assert not task_sim.success()
    starts = np.array(starts)
    task_sim.reset(0)
    site = task_sim.site_position(task.site)
    offsets = starts - site - np.asarray(task.reset_offset)
    assert np.all(np.abs(offsets) <= task.reset_noise + 0.01)  # IK lands within 1 cm of the draw
    assert np.ptp(starts, axis=0).max() > task.reset_noise * 0.5  # starts really differ
    np.testing.assert_allclose(task_sim.state().ee_pose[:3], starts[0], atol=1e-9)
    distance = np.linalg.norm(starts[0] - site)
    assert 0.05 < distance < 0.25  # the gripper starts 5–25 cm from the handle


def record_states(sim: KitchenSim, spec) -> list:
    """One demo by the scripted hand (no rendering): the robot states at every tick."""
    sim.reset(spec.seed)
    expert = make_expert(sim.task.name, spec.style, horizon=sim.task.horizon, seed=spec.seed)
    states = [sim.state()]
    for _ in range(sim.task.horizon):
        sim.step(expert(sim))
        states.append(sim.state())
    assert sim.success()
    return states


def state_derived_actions(states: list) -> np.ndarray:
    from vipflow.actions import actions_from_states

    return actions_from_states(
        "ee_delta",
        np.array([s.joint_pos for s in states]),
        np.array([s.ee_pose for s in states]),
        np.array([s.gripper_width for s in states]),
    )


@pytest.mark.parametrize("task, demos", [("slide_cabinet", 3), ("microwave", 2)])
def test_replaying_a_demos_state_derived_actions_repeats_it(task, demos):
    """The action space round trip through the simulated arm: ee_delta labels derived from the
    recorded states (kinesthetic style), sent back through target_from_action and Robot.send
    from the same start, repeat the demo: pushing a sliding door, and pulling the microwave
    door by its handle, which needs the grasp-aware gripper label (a label of the width the
    handle stopped the fingers at commands no squeeze and the handle slips out)."""
    from vipflow.actions import target_from_action

    sim = KitchenSim(task, seed=0, image_size=16)
    robot = sim.robot()
    robot.start()
    try:
        for spec in demo_styles(n_expert=demos, n_failure=0, seed=11):
            actions = state_derived_actions(record_states(sim, spec))
            sim.reset(spec.seed)
            assert not sim.success()
            for action in actions:
                robot.send(target_from_action("ee_delta", robot.state(), action))
            assert sim.success(), f"{task} demo {spec.seed} did not replay"
    finally:
        sim.close()


def test_the_robot_controller_realises_increments_against_a_load():
    """Replaying a light-switch demo's increments: the bare servo law (``KitchenSim.step``, the
    hand's) realises only part of each step while the lever resists and the switch stays off;
    the robot's controller (``Robot.send``: integral action on the tracking error) realises
    them and turns it on."""
    from vipflow.actions import target_from_action

    sim = KitchenSim("light_switch", seed=0, image_size=16)
    robot = sim.robot()
    robot.start()
    try:
        spec = demo_styles(n_expert=1, n_failure=0, seed=11)[0]
        states = record_states(sim, spec)
        actions = state_derived_actions(states)
        reached = {}
        for name, send in (("servo law", sim.step), ("robot", robot.send)):
            sim.reset(spec.seed)
            for action in actions:
                send(target_from_action("ee_delta", sim.state(), action))
            reached[name] = (sim.success(), sim.state().ee_pose[0])
        sweep_end = states[-1].ee_pose[0]  # the hand sweeps the lever toward -x
        assert reached["robot"][0] and not reached["servo law"][0], reached
        assert reached["robot"][1] == pytest.approx(sweep_end, abs=0.01)
        assert reached["servo law"][1] - sweep_end > 0.03  # more than 3 cm short
    finally:
        sim.close()
