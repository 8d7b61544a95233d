"""Paired evaluation: several policies, trial by trial, each trial from one initial condition.

Comparing two policies from separate sessions mixes the policy effect with whatever differed
between the sessions' starts. A paired session removes that: trial ``t`` sets up one start and
every policy runs from it, in a randomised order (recorded, never shown to the operator), so the
table can test the difference on the discordant trials (McNemar, ``vipflow.evaluation.table``).

- Simulator: the start is the reset seed ``seed * 1000 + t``, identical for every policy.
- Robot: the operator sets up the trial once; a photo of that scene is stored
  (``trials/trial_003.png``); before each further policy the operator puts the scene back as in
  the photo. Each policy's rollout is also an episode whose first frame shows its actual start.

Layout of ``output_dir``: ``session.json`` (the trials: order, start, outcome per policy),
``trials/`` (photos), and one ordinary evaluation per policy, ``<name>/ledger.json`` +
``<name>/episodes/`` (``vipflow evaluate show`` reads them; every rollout carries its trial and
start). A session stopped by Ctrl-C or ``q`` resumes where it stopped (``resume=True``): trials
run in the same order, an unfinished trial finishes with the remaining policies.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from vipflow.config_schema import option
from vipflow.data_root import data_path
from vipflow.durable import atomic_write_text
from vipflow.evaluation.ledger import Ledger, LedgerError
from vipflow.evaluation.operator import Operator, OperatorAbort
from vipflow.evaluation.session import EvaluationSession

PAIRED_FORMAT = "vipflow.paired/1"
SESSION_JSON = "session.json"
ORDERS = ("random", "fixed")


@dataclass(frozen=True)
class PairedConfig:
    """How a paired session interleaves its policies (`vipflow evaluate paired` derives its options)."""

    output_dir: Path | None = option(
        None, "session.json, trial photos and one ledger per policy go here", flag="--out",
        default_text="results/<task>/paired/seed<seed>",
    )
    order: str = option(
        "random", "order of the policies within each trial: random (seeded by --seed, recorded in "
        "session.json) or fixed (as given)", choices=ORDERS,
    )
    resume: bool = option(False, "continue the interrupted paired session in --out")


def paired_dir(task: str, seed: int) -> Path:
    """Default output of a paired session: ``results/<task>/paired/seed<N>`` under the data root."""
    return data_path("results", task, "paired", f"seed{seed}")


def trial_orders(n_policies: int, trials: int, order: str, seed: int) -> list[list[int]]:
    """The order of the policies in every trial: a seeded permutation per trial (or as given), so a
    resumed session runs exactly the order it would have run."""
    rng = np.random.default_rng([seed, 0x9A1ED])
    if order == "fixed":
        return [list(range(n_policies)) for _ in range(trials)]
    return [rng.permutation(n_policies).tolist() for _ in range(trials)]


class PairedSession:
    """Interleave ``arms`` (one :class:`EvaluationSession` per policy, all on one backend) trial by trial."""

    def __init__(self, arms: list[EvaluationSession], operator: Operator, output_dir: str | Path, *,
                 order: str = "random", resume: bool = False, progress: bool = False) -> None:
        if not arms:
            raise ValueError("a paired session needs at least one policy")
        names = [a.config.policy_name for a in arms]
        if len(set(names)) != len(names):
            raise ValueError(f"policy names must differ, got {names}; give each --policy its own --name")
        backend = arms[0].backend
        if any(a.backend is not backend for a in arms):
            raise ValueError("the policies of a paired session must share one backend (one scene)")
        first = arms[0].config
        for a in arms[1:]:
            c = a.config
            if (c.task, c.rollouts, c.seed) != (first.task, first.rollouts, first.seed):
                raise ValueError("the policies of a paired session must share task, trials and seed")
        outside = [str(a.ledger_path) for a in arms if Path(output_dir) not in a.ledger_path.parents]
        if outside:
            raise ValueError(f"the policies' ledgers {outside} must lie inside the session folder "
                             f"{output_dir}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        self.arms, self.backend, self.operator = arms, backend, operator
        self.output_dir = Path(output_dir)
        self.trials, self.seed, self.task = first.rollouts, first.seed, first.task
        self.order, self.resume, self.progress = order, resume, progress
        self.names = names
        self.record: dict[str, Any] = {}

    # -- session record ------------------------------------------------------------------------------
    @property
    def session_path(self) -> Path:
        return self.output_dir / SESSION_JSON

    @property
    def stop_signal(self) -> int | None:
        """The SIGINT/SIGTERM that ended the session early (the rollout it cut short is aborted)."""
        return next((a.stop_signal for a in self.arms if a.stop_signal is not None), None)

    def _new_record(self) -> dict[str, Any]:
        return {
            "format": PAIRED_FORMAT,
            "session": uuid.uuid4().hex[:12],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "task": self.task,
            "seed": self.seed,
            "order": self.order,
            "trials_planned": self.trials,
            "policies": [{"name": a.config.policy_name, "path": a.config.policy_path,
                          "ledger": str(a.ledger_path.relative_to(self.output_dir))} for a in self.arms],
            "backend": self.backend.describe(),
            "trials": [],
        }

    def _load(self) -> None:
        """Start a new record, or (resume) check the saved one against this session and load the ledgers."""
        exists = self.session_path.exists()
        if exists and not self.resume:
            raise FileExistsError(
                f"{self.session_path} exists; evaluations are never overwritten; resume it (--resume) or "
                "choose a new --out"
            )
        if not exists:
            if self.resume:
                raise LedgerError(f"nothing to resume: no {self.session_path}")
            for a in self.arms:
                if a.ledger_path.exists():
                    raise FileExistsError(f"{a.ledger_path} exists; choose a new --out")
            self.record = self._new_record()
            return
        record = load_session(self.session_path)
        saved = [p["name"] for p in record["policies"]]
        planned = (record["trials_planned"], record["seed"], record["order"], record["task"])
        same = saved == self.names and planned == (self.trials, self.seed, self.order, self.task)
        if not same:
            raise LedgerError(
                f"cannot resume {self.session_path}: it evaluates {saved} on {record['task']} (seed "
                f"{record['seed']}, {record['trials_planned']} trials, order {record['order']}); resume with "
                "the same policies, names, task, --rollouts, --seed and --order, or choose a new --out"
            )
        self.record = record
        for a in self.arms:
            if a.ledger_path.exists():
                a.resume_from(Ledger.load(a.ledger_path))

    def _save(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.session_path, json.dumps(self.record, indent=2))

    def _trial(self, t: int, order: list[int]) -> dict[str, Any]:
        for trial in self.record["trials"]:
            if trial["trial"] == t:
                return trial
        trial = {"trial": t, "order": [self.names[k] for k in order], "start": None, "photo": None,
                 "outcomes": {}}
        self.record["trials"].append(trial)
        return trial

    def _photo(self, t: int) -> str | None:
        rgb = self.backend.scene_photo()
        if rgb is None:
            return None
        path = self.output_dir / "trials" / f"trial_{t:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(rgb, np.uint8)).save(path)
        return str(path.relative_to(self.output_dir))

    # -- running -------------------------------------------------------------------------------------
    def run(self) -> dict[str, Ledger]:
        """Run (or finish) every trial; returns each policy's ledger by name."""
        self._load()
        self._save()
        self.backend.start()
        shared: dict[int, Any] = {}  # one perception per encoder object (one encoder process)
        started: list[EvaluationSession] = []  # the arms that own a perception
        try:
            for a in self.arms:
                key = id(a.encoder)
                if key not in shared:
                    started.append(a)
                shared[key] = a.start_perception(shared.get(key))
            self._run_trials()
        finally:
            for a in started:
                a.stop_perception()
            self.backend.stop()
            for a in self.arms:
                a._save()
            self._save()
        return {a.config.policy_name: a.ledger for a in self.arms}

    def _run_trials(self) -> None:
        bar = tqdm(total=self.trials * len(self.arms), desc=f"paired {self.task}", unit="rollout",
                   disable=not self.progress)
        try:
            for t, order in enumerate(trial_orders(len(self.arms), self.trials, self.order, self.seed)):
                trial = self._trial(t, order)
                for pos, k in enumerate(order):
                    arm = self.arms[k]
                    name = self.names[k]
                    if trial["outcomes"].get(name) is not None:
                        bar.update(1)
                        continue  # done before the session was resumed
                    try:
                        if trial["start"] is None:
                            start = self.backend.reset(t, self.trials, self.operator)
                            trial["photo"] = self._photo(t)
                            trial["start"] = {**(start or {}), "session": self.record["session"]}
                            if trial["photo"]:
                                trial["start"]["photo"] = trial["photo"]
                        else:
                            self.backend.restore(t, self.trials, self.operator, self._photo_path(trial))
                    except OperatorAbort:
                        return
                    outcome = arm.rollout(t, start=dict(trial["start"]), trial=t, order=pos)
                    trial["outcomes"][name] = outcome.success
                    self._save()
                    bar.update(1)
                    if outcome.judged_by == "aborted":
                        return
        finally:
            bar.close()

    def _photo_path(self, trial: dict[str, Any]) -> str | None:
        return str(self.output_dir / trial["photo"]) if trial.get("photo") else None


def load_session(path: str | Path) -> dict[str, Any]:
    """A paired session's ``session.json`` (path to the file or its folder), checked."""
    path = Path(path)
    if path.is_dir():
        path = path / SESSION_JSON
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LedgerError(f"no paired session at {path}") from None
    except json.JSONDecodeError as exc:
        raise LedgerError(f"{path} is not valid JSON ({exc}); was the file truncated?") from None
    if not isinstance(data, dict) or data.get("format") != PAIRED_FORMAT:
        raise LedgerError(f"{path} is not a vipflow paired session (format {PAIRED_FORMAT!r} expected)")
    return data


def session_ledgers(path: str | Path) -> list[Ledger]:
    """The ledgers of a paired session folder, in the session's policy order."""
    folder = Path(path)
    folder = folder.parent if folder.name == SESSION_JSON else folder
    record = load_session(folder)
    return [Ledger.load(folder / p["ledger"]) for p in record["policies"] if (folder / p["ledger"]).exists()]
