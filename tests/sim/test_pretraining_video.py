"""Pretraining video for the kitchen encoder: FrankaKitchen's other tasks, play, camera poses,
and no frame of the held-out task being done."""

from __future__ import annotations

import numpy as np
import pytest

from vipflow.demo_config import KitchenEncoderConfig
from vipflow.sim import KitchenSim
from vipflow.sim.encoder import Clip, film, pretraining_videos, random_view
from vipflow.sim.experts import PlayMotion, make_expert
from vipflow.sim.tasks import KITCHEN_TASKS, TASKS, VIDEO_TASKS, get_task


def test_all_seven_frankakitchen_tasks_are_filmable():
    assert len(KITCHEN_TASKS) == 7 and set(TASKS) | set(VIDEO_TASKS) == set(KITCHEN_TASKS)
    names = {t.kitchen_name for t in KITCHEN_TASKS.values()}
    assert names == {"microwave", "kettle", "light switch", "slide cabinet", "hinge cabinet",
                     "bottom burner", "top burner"}
    assert get_task("top burner").name == "top_burner"


@pytest.mark.parametrize("task", sorted(VIDEO_TASKS))
def test_scripted_motions_of_the_other_tasks_move_their_object(task):
    """Knobs turn into FrankaKitchen's success window; the kettle slides toward the back burner
    (it sometimes ends turned, outside the window: pretraining video needs the motion)."""
    sim = KitchenSim(task, seed=0, image_size=16)
    try:
        sim.reset(3)
        start = sim.data.qpos[sim.task.qpos_indices].copy()
        expert = make_expert(task, horizon=sim.task.horizon, seed=3)
        for _ in range(sim.task.horizon):
            sim.step(expert(sim))
        end = sim.data.qpos[sim.task.qpos_indices]
        if task == "kettle":
            assert end[1] - start[1] > 0.3  # 30+ cm toward the back burner
        else:
            assert sim.success(), end
    finally:
        sim.close()


def test_play_wanders_and_views_differ():
    sim = KitchenSim("light_switch", seed=0, image_size=32)
    try:
        own = sim.render()
        sim.set_view(random_view("light_switch", np.random.default_rng(1)))
        assert np.abs(sim.render().astype(int) - own).mean() > 10  # another camera pose
        frames, qpos = film(sim, PlayMotion(seed=2), reset_seed=4)
        assert frames.shape == (51, 32, 32, 3) and qpos.shape == (51, sim.model.nq)
        hand = qpos[:, :7]
        assert np.ptp(hand, axis=0).max() > 0.2  # the arm moved around (rad)
        fingers = qpos[:, 7] + qpos[:, 8]
        assert fingers.max() - fingers.min() > 0.03  # the fingers opened and closed
    finally:
        sim.close()


def test_held_out_task_never_seen_done():
    """Clips of the held-out task are dropped; others are cut where its object starts moving."""
    nq, frames = 30, np.zeros((40, 8, 8, 3), np.uint8)
    slide = get_task("slide_cabinet").qpos_indices[0]
    still = Clip("microwave", "play", frames, np.zeros((40, nq)))
    nudging = np.zeros((40, nq))
    nudging[25:, slide] = 0.05  # a play clip by the hinge door pushes the slide door at frame 25
    early = np.zeros((40, nq))
    early[5:, slide] = 0.05  # ... or almost at once: too little left to keep
    clips = [still, Clip("hinge_cabinet", "play", frames, nudging), Clip("kettle", "expert", frames, early),
             Clip("slide_cabinet", "expert", frames, np.zeros((40, nq)))]
    videos = pretraining_videos(clips, "slide_cabinet")
    assert [len(v) for v in videos] == [40, 25]
    assert [len(v) for v in pretraining_videos(clips, "microwave")] == [40, 40, 40]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_shipped_encoders_load_and_stay_small(task):
    from vipflow.encoders import load_encoder
    from vipflow.sim.encoder import shipped_encoder_path

    path = shipped_encoder_path(task)
    assert path.stat().st_size <= 20e6
    encoder = load_encoder("vip", path)
    assert encoder.arch == "convnet-small" and encoder.embed_dim == KitchenEncoderConfig().hidden_dim
    emb = encoder.embed_images(np.zeros((2, 64, 64, 3), np.uint8))
    assert emb.shape == (2, encoder.embed_dim) and np.isfinite(emb).all()


def test_filmed_clips_are_kept_and_reused(tmp_path, monkeypatch):
    """``film_all(cache=...)`` films each task once per filming setting and reads it back."""
    from vipflow.sim import encoder as kitchen_encoder

    cfg = KitchenEncoderConfig(expert_videos=1, play_videos=0, image_size=16)
    filmed = kitchen_encoder.film_all(cfg, skip="kettle", cache=tmp_path, progress=False)
    assert len(filmed) == 6 and {c.task for c in filmed} == set(KITCHEN_TASKS) - {"kettle"}
    assert len(list(tmp_path.glob("clips_*_1e0p16px_seed0.npz"))) == 6

    def no_filming(*args, **kwargs):
        raise AssertionError("filmed again despite the cache")

    monkeypatch.setattr(kitchen_encoder, "film_task", no_filming)
    again = kitchen_encoder.film_all(cfg, skip="kettle", cache=tmp_path, progress=False)
    assert [(c.task, c.kind) for c in again] == [(c.task, c.kind) for c in filmed]
    assert all(np.array_equal(a.frames, b.frames) and np.array_equal(a.qpos, b.qpos)
               for a, b in zip(again, filmed, strict=True))
    with pytest.raises(AssertionError, match="filmed again"):  # other settings: not reused
        kitchen_encoder.film_all(KitchenEncoderConfig(expert_videos=1, play_videos=0, image_size=24),
                                 skip="kettle", cache=tmp_path, progress=False)
