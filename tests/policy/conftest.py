"""Synthetic data shared by the policy tests.

``synthetic_episodes`` builds embedded episodes whose embedding is an affine function of task
progress p (what a good frozen encoder gives along a demo): half the episodes move forward
(+dx, labelled success), half move backward over the same states (-dx, failure), so at every
state progress-making and counter-productive actions are equally frequent.
"""

from __future__ import annotations

import numpy as np
import pytest

from vipflow.actions import actions_from_states, proprio_vector
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.transitions import EpisodeData

DX = 0.2 * 0.04  # ee x displacement per tick (p advances 0.04 per tick, x = 0.3 + 0.2 p)
PROPRIO = ("ee_pose", "gripper")


class Synthetic:
    dx = DX

    def __init__(self, dim: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        u = rng.normal(size=dim)
        self.u = 5.0 * u / np.linalg.norm(u)
        self.c = rng.normal(size=dim)
        self.rng = rng
        self.dim = dim

    def embedding(self, p: np.ndarray) -> np.ndarray:
        return (self.c + np.asarray(p)[..., None] * self.u).astype(np.float32)

    @staticmethod
    def state(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = np.asarray(p, np.float64)
        ee = np.zeros(p.shape + (7,))
        ee[..., 0] = 0.3 + 0.2 * p
        ee[..., 2] = 0.4
        ee[..., 6] = 1.0
        return np.zeros(p.shape + (7,)), ee, np.full(p.shape, 0.04)

    def proprio(self, p: np.ndarray) -> np.ndarray:
        return proprio_vector(PROPRIO, *self.state(p))

    def episode(self, direction: int, name: str, task: str = "push", ticks: int = 21) -> EpisodeData:
        p = 0.1 + 0.04 * np.arange(ticks) if direction > 0 else 0.9 - 0.04 * np.arange(ticks)
        joint, ee, grip = self.state(p)
        emb = self.embedding(p) + self.rng.normal(0, 0.01, (ticks, self.dim)).astype(np.float32)
        return EpisodeData(
            name=name,
            task=task,
            label="success" if direction > 0 else "failure",
            embeddings=emb,
            proprio=proprio_vector(PROPRIO, joint, ee, grip),
            actions=actions_from_states("ee_delta", joint, ee, grip),
            action_space="ee_delta",
            encoder_fingerprint="synthetic-encoder",
            content_hash=name,
        )

    def episodes(self, pairs: int = 6, task: str = "push") -> list[EpisodeData]:
        out = []
        for k in range(pairs):
            out += [self.episode(+1, f"{task}_fwd_{k}", task), self.episode(-1, f"{task}_back_{k}", task)]
        return out


@pytest.fixture
def synthetic() -> Synthetic:
    return Synthetic()


@pytest.fixture
def small_config(tmp_path):
    def make(**overrides) -> TrainConfig:
        base = dict(
            run_dir=str(tmp_path / "run"),
            hidden_sizes=(64, 64),
            steps=300,
            eval_every=50,
            save_every=100,
            log_every=25,
            val_fraction=0.2,
            progress=False,
            proprio=PROPRIO,
        )
        base.update(overrides)
        return TrainConfig(**base)

    return make


# --- real episodes (EpisodeWriter bags) and a real small encoder ------------------------------

T0 = 1_000_000_000_000
PERIOD_NS = 40_000_000  # 25 Hz


def bar_image(p: float, size: int = 32, marker: int = 0) -> np.ndarray:
    """A frame whose bright bar grows with progress p (``marker`` tints a corner pixel per episode)."""
    img = np.full((size, size, 3), 30, np.uint8)
    img[0, 0, 0] = marker % 256
    img[8:24, : max(1, round(p * size))] = (230, 200, 40)
    return img


def write_episode(
    dataset,
    name: str,
    direction: int,
    *,
    label: str | None = None,
    task: str = "push",
    tags: tuple[str, ...] = (),
    action_space: str | None = None,
    ticks: int = 21,
    nan_at: int | None = None,
):
    """A demo moving forward (direction +1) or backward (-1) in progress, through the real writer."""
    from vipflow.episodes import EpisodeMeta, EpisodeWriter
    from vipflow.hardware import Frame, RobotState

    meta = EpisodeMeta(task=task, tags=list(tags), action_space=action_space, goal_text=f"{task} the object")
    p = 0.1 + 0.04 * np.arange(ticks) if direction > 0 else 0.9 - 0.04 * np.arange(ticks)
    joint, ee, grip = Synthetic.state(p)
    path = dataset / name
    with EpisodeWriter(path, meta, time_offset_ns=0) as w:
        for i in range(ticks):
            t = T0 + i * PERIOD_NS
            pose = ee[i].copy()
            if nan_at == i:
                pose[0] = np.nan
            w.write_state(RobotState(t, joint[i], np.zeros(7), pose, float(grip[i])))
            w.write_frame(Frame(t, bar_image(p[i], marker=sum(name.encode()))))
        w.close(label or ("success" if direction > 0 else "failure"))
    return path


@pytest.fixture(scope="session")
def small_encoder_file(tmp_path_factory):
    """A real convnet-small VIP-family encoder exported to safetensors (seeded random weights)."""
    import warnings

    from vipflow.encoders import load_encoder, save_encoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = load_encoder("vip", arch="convnet-small", random_init=True, seed=0)
    return save_encoder(enc, tmp_path_factory.mktemp("enc") / "convnet_small.safetensors")


@pytest.fixture(scope="session")
def progress_dataset(tmp_path_factory):
    """4 forward (success) + 4 backward (failure) real episodes of one task."""
    root = tmp_path_factory.mktemp("dataset")
    for k in range(4):
        write_episode(root, f"fwd_{k}", +1)
        write_episode(root, f"back_{k}", -1)
    return root


@pytest.fixture
def episode_writer():
    return write_episode


@pytest.fixture
def frame_for_progress():
    return bar_image
