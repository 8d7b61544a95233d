"""``load_policy``: a trained policy ready to act, for the 25 Hz runtime and the simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vipflow.policy.checkpoint import read_policy, resolve_checkpoint
from vipflow.policy.errors import EncoderMismatchError, PolicyInputError, TaskConditioningError
from vipflow.policy.model import PolicyNet
from vipflow.policy.policy_config import PolicyConfig, unit_rows


class LoadedPolicy:
    """Maps (embedding, proprio[, task]) to an un-normalised action in ``config.action_space``.

    ``act`` accepts one observation (1-D arrays -> (dim,) action) or a batch ((N, ·) -> (N, dim)).
    """

    def __init__(
        self, config: PolicyConfig, net: PolicyNet, task_table: np.ndarray | None, path: Path | None = None
    ):
        self.config = config
        self.path = path
        self._net = net.eval()
        self._tasks = list(config.tasks)
        self._task_table = None if task_table is None else np.asarray(task_table, np.float32)

    @property
    def tasks(self) -> list[str]:
        return list(self._tasks)

    def check_encoder(self, encoder) -> None:
        """Raise ``EncoderMismatchError`` unless ``encoder`` is the one the policy was trained on."""
        want = self.config.encoder
        if encoder.fingerprint != want.fingerprint:
            raise EncoderMismatchError(
                f"policy was trained on encoder {want.name}/{want.arch} with fingerprint "
                f"{want.fingerprint[:12]}, but the live encoder {encoder.name}/{encoder.arch} has "
                f"{encoder.fingerprint[:12]}; load the same weights and preprocessing, or retrain the policy "
                "on this encoder"
            )

    def register_task(self, task: str, text_embedding: np.ndarray) -> None:
        """Add an unseen task description for a text-conditioned policy (zero-shot instruction)."""
        if self.config.task_conditioning != "text":
            raise TaskConditioningError(
                "only text-conditioned policies accept new tasks; this one uses "
                f"{self.config.task_conditioning!r}"
            )
        vec = unit_rows(np.asarray(text_embedding, np.float32).reshape(1, -1))
        if vec.shape[1] != self.config.task_dim:
            raise PolicyInputError(
                f"text embedding has {vec.shape[1]} values, the policy expects {self.config.task_dim}"
            )
        self._tasks.append(task)
        self._task_table = np.concatenate([self._task_table, vec], axis=0)

    def _task_features(self, task: str | None, n: int) -> np.ndarray:
        cfg = self.config
        if cfg.task_conditioning == "none":
            return np.zeros((n, 0), np.float32)
        if task is None:
            if len(self._tasks) != 1:
                raise TaskConditioningError(
                    f"this policy is conditioned on the task; pass one of {self._tasks}"
                )
            task = self._tasks[0]
        if task not in self._tasks:
            fix = (
                "register its text embedding with policy.register_task(task, encoder.embed_text([task])[0])"
                if cfg.task_conditioning == "text"
                else "retrain with episodes of that task"
            )
            raise TaskConditioningError(f"unknown task {task!r}; the policy knows {self._tasks}; {fix}")
        return np.repeat(self._task_table[self._tasks.index(task)][None], n, axis=0)

    def act(self, embedding: np.ndarray, proprio: np.ndarray, task: str | None = None) -> np.ndarray:
        cfg = self.config
        emb = np.asarray(embedding, np.float32)
        single = emb.ndim == 1
        emb = emb.reshape(1, -1) if single else emb
        pro = np.asarray(proprio, np.float32)
        if emb.ndim != 2 or pro.size != len(emb) * cfg.proprio_dim:
            raise PolicyInputError(
                f"got embedding {emb.shape} and proprio {pro.shape}; expected ({cfg.encoder.embed_dim},) and "
                f"({cfg.proprio_dim},) for keys {list(cfg.proprio_keys)} (or batches of them); build proprio "
                "with vipflow.actions.proprio_vector"
            )
        pro = pro.reshape(len(emb), cfg.proprio_dim)
        if emb.shape[1] != cfg.encoder.embed_dim:
            raise PolicyInputError(
                f"embedding has {emb.shape[1]} values, the policy expects {cfg.encoder.embed_dim} "
                f"from encoder {cfg.encoder.name}/{cfg.encoder.arch}"
            )
        if not (np.isfinite(emb).all() and np.isfinite(pro).all()):
            raise PolicyInputError("observation contains NaN or inf; refusing to act on it")
        x = np.concatenate(
            [cfg.normalization.obs(np.concatenate([emb, pro], axis=1)), self._task_features(task, len(emb))],
            axis=1,
        )
        with torch.inference_mode():
            mean, _ = self._net(torch.from_numpy(x))
        action = cfg.normalization.unaction(mean.numpy())
        return action[0] if single else action


def load_policy(path: str | Path) -> LoadedPolicy:
    """Load a policy from a run directory (its ``last`` checkpoint), a checkpoint directory or file."""
    directory = resolve_checkpoint(path)
    config, net, table = read_policy(directory)
    return LoadedPolicy(config, net, table, directory)
