"""evaluate.launch.py's plan for a policy trained as `vipflow demo` trains it (no task:= given:
the policy's own task): kitchen_sim, vip_reward_node and the evaluate node as processes.

N rollouts, reset and judged by the simulator over ROS, end in a results ledger and rollout
episodes (with actions and [value, reward]) that pass `vipflow episodes validate`.
"""

from __future__ import annotations

import pytest
from rosproc import launch_plan, plan_specs, validate_episodes

from vipflow.episodes import list_episodes, read_episode
from vipflow.evaluation.ledger import Ledger

ROLLOUTS = 2


@pytest.mark.slow
def test_evaluate_plan_writes_a_ledger_and_valid_rollouts(ros, kitchen_policy, tmp_path):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState

    checkpoint, weights, demos = kitchen_policy
    site = tmp_path / "site.yaml"  # params_file:=, here: small images and the demos as the goal
    site.write_text(
        "kitchen_sim:\n  ros__parameters:\n    image_size: 64\n"
        f"evaluate:\n  ros__parameters:\n    goal:\n      dataset: {demos}\n"
    )
    out = tmp_path / "results"
    specs = plan_specs(
        "evaluate",
        policy=str(checkpoint),
        encoder_weights=str(weights),
        rollouts=str(ROLLOUTS),
        horizon="60",
        output_dir=str(out),
        reward_node="false",
        params_file=str(site),
    )
    nodes = launch_plan(ros, specs)
    assert set(nodes) == {"kitchen_sim", "evaluate"}
    states = ros.probe.collect(JointState, "/kitchen/joint_states", qos_profile_sensor_data)
    evaluate = nodes["evaluate"]
    assert evaluate.wait(600) == 0, evaluate.log()
    assert "evaluation done: " in evaluate.log()

    ledger = Ledger.load(out / "ledger.json")
    assert ledger.n == ROLLOUTS and ledger.task == "slide_cabinet"
    assert all(r.judged_by == "simulator" for r in ledger.rollouts)
    episodes = list_episodes(out / "episodes")
    assert len(episodes) == ROLLOUTS and all(e.usable for e in episodes)
    grid = read_episode(episodes[0].path).on_grid(25.0, frames=False)
    assert grid.actions is not None and grid.actions.shape[1] == 7
    assert grid.rewards is not None, "rollouts carry [value, reward] against the demos' goal"
    validate_episodes(out / "episodes", states)
