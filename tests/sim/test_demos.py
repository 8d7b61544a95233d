"""Simulated demos are real episodes: readable, labelled by the sim, on the 25 Hz grid."""

from __future__ import annotations

import numpy as np

from vipflow.episodes import list_episodes, read_episode
from vipflow.sim.demos import record_demos


def test_recorded_demos_are_labelled_episodes_on_the_25hz_grid(tmp_path, slide_sim):
    results = record_demos(
        tmp_path / "ds", "slide_cabinet", n_expert=1, n_failure=1, seed=5, horizon=30,
        progress=False, sim=slide_sim,
    )
    assert [(p.name, kind) for p, _, kind in results] == [
        ("episode_0000", "expert"), ("episode_0001", "failure:miss")
    ]
    summaries = list_episodes(tmp_path / "ds")
    assert [s.usable for s in summaries] == [True, True]
    labels = [s.label for s in summaries]
    assert labels == ["success" if ok else "failure" for _, ok, _ in results]
    assert labels[1] == "failure"

    episode = read_episode(results[0][0])
    assert episode.meta.source == "sim" and episode.meta.task == "slide_cabinet"
    assert "expert" in episode.meta.tags and episode.meta.goal_text
    grid = episode.on_grid(25.0)
    assert grid.frames.shape == (31, 64, 64, 3)
    np.testing.assert_array_equal(np.diff(grid.t_ns), 40_000_000)
    assert np.linalg.norm(grid.ee_pose[-1, :3] - grid.ee_pose[0, :3]) > 0.1  # the hand moved
    # Recording resumes numbering instead of overwriting.
    more = record_demos(tmp_path / "ds", "slide_cabinet", n_expert=1, n_failure=0, horizon=5,
                        progress=False, sim=slide_sim)
    assert more[0][0].name == "episode_0002"
