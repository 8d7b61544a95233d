"""Evaluation session: N rollouts of a policy, each recorded as an episode, into a results ledger.

Per rollout: the backend resets the scene (a prompt on hardware, a seeded reset in simulation),
the control loop runs ``horizon`` ticks, every tick is written to the rollout's episode (frames,
robot state, the action actually commanded after the safety layer, and ``[value, reward]``
against the goal), the rollout is judged (operator key or the simulator) and the ledger is
rewritten. Ctrl-C stops the current rollout safely, marks it aborted (not counted) and ends the
session with everything so far saved.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vipflow.actions import actions_from_states
from vipflow.config_schema import REQUIRED, option
from vipflow.data_root import data_path, under_root
from vipflow.episodes import EpisodeMeta, EpisodeWriter
from vipflow.evaluation.backend import Backend
from vipflow.evaluation.ledger import Ledger, RolloutOutcome
from vipflow.evaluation.operator import Operator, OperatorAbort
from vipflow.live.publisher import LivePublisher, TickView
from vipflow.policy.model import torch_threads
from vipflow.progress import progress
from vipflow.rewards import values as reward_values
from vipflow.runtime.limits import SafetyLimits
from vipflow.runtime.loop import ControlLoop, PolicyLike, TickRecord, policy_action_space, stop_on_sigint
from vipflow.runtime.perception import EncoderLike, ProcessPerception
from vipflow.runtime.safety import SafetyLayer
from vipflow.runtime.timing import TimingSamples, clock_kind
from vipflow.task_config import TaskConfig


class ResumeError(ValueError):
    """``--resume`` of an evaluation that is not the same evaluation (or is already finished)."""


@dataclass(frozen=True)
class EvaluationConfig:
    """One evaluation session. Declared once: `vipflow evaluate run` derives its options from it."""

    output_dir: Path = option(
        REQUIRED, "rollout episodes and the ledger go here", flag="--out", deprecated=("--output",),
        default_text=under_root("results/<task>/<name>/seed<seed>"),
    )
    policy_name: str = option(
        REQUIRED, "the comparison table's column, e.g. VIP-RWR", flag="--name",
        default_text="the policy dir name",
    )
    task: str = option(
        REQUIRED, "task name (simulator task for --backend sim)", default_text="the task config's"
    )
    rollouts: int = option(10, "number of rollouts", bounds="[1, 10000]")
    horizon: int = option(100, "steps per rollout", bounds="[2, 100000]")
    rate_hz: float = option(25.0, "control rate in Hz", flag="--rate", bounds="[1, 1000]")
    seed: int = option(0, "evaluation seed (simulator starts); one ledger per seed")
    goal_text: str = option("", "goal sentence (LIV text goal) for rewards, stored with every rollout")
    image_format: str = option("raw", "how rollout frames are stored", choices=("raw", "jpeg", "png"))
    policy_path: str = option("", "the evaluated policy, as recorded in the ledger", cli=False)
    policy_task: str | None = option(
        None, "task name for a task-conditioned policy (None: its only task)", cli=False
    )
    progress: bool = option(True, "a progress bar over the rollouts", terminal=True)


def results_dir(task: str, name: str, seed: int) -> Path:
    """Where an evaluation's ledger and episodes go by default: ``results/<task>/<name>/seed<N>``
    under the data root (one ledger per policy and seed, the layout ``vipflow evaluate table`` globs)."""
    return data_path("results", task, name, f"seed{seed}")


def evaluation_from_task(
    task: str,
    policy: Any,
    policy_path: str | Path,
    encoder: Any,
    *,
    task_config: TaskConfig | None = None,
    name: str = "",
    output_dir: str | Path | None = None,
    encoder_weights: str | Path | None = None,
    seed: int = 0,
    rollouts: int | None = None,
    horizon: int | None = None,
    rate_hz: float | None = None,
    goal_text: str | None = None,
    image_format: str = "raw",
) -> tuple[EvaluationConfig, dict[str, Any]]:
    """The evaluation of ``policy`` on ``task`` as the CLI and the ROS evaluate node both run it.

    What is not given comes from ``task_config`` (its ``evaluate`` section, rate and goal text),
    else from ``EvaluationConfig``'s defaults. The policy's name defaults to its directory's, the
    output to :func:`results_dir`. Returns the config and the encoder record the ledger keeps.
    """
    tc, task_name = task_config, task
    resolved = Path(policy_path).expanduser().resolve()
    name = name or resolved.name
    defaults = EvaluationConfig(Path(), name, task_name)
    config = EvaluationConfig(
        output_dir=Path(output_dir).expanduser() if output_dir else results_dir(task_name, name, seed),
        policy_name=name,
        task=task_name,
        rollouts=rollouts or (tc.evaluate.rollouts if tc else defaults.rollouts),
        horizon=horizon or (tc.evaluate.horizon if tc else defaults.horizon),
        rate_hz=rate_hz or (tc.rate_hz if tc else defaults.rate_hz),
        seed=seed,
        goal_text=goal_text or (tc.goal_text if tc else ""),
        image_format=image_format,
        policy_path=str(resolved),
        policy_task=task_name if task_name in getattr(policy, "tasks", ()) else None,
    )
    info = {"name": encoder.name, "arch": encoder.arch, "fingerprint": encoder.fingerprint,
            "weights": str(encoder_weights or "default"), "inference": encoder.inference_tag}
    return config, info


@dataclass(frozen=True)
class Goal:
    """What rewards are measured against: a goal embedding and the encoder's similarity."""

    embedding: np.ndarray
    similarity: str = "l2"
    source: str = ""


class RolloutRecorder:
    """``on_tick`` sink that writes one tick into the rollout's episode (and offers it to a live viewer)."""

    def __init__(self, writer: EpisodeWriter, space: str, goal: Goal | None,
                 live: LivePublisher | None = None) -> None:
        self.writer, self.space, self.goal, self.live = writer, space, goal, live
        self._last_frame = self._last_state = -1
        self._value: float | None = None
        self.first_value: float | None = None

    def on_tick(self, rec: TickRecord) -> None:
        state, obs = rec.state, rec.observation
        if obs is not None and obs.frame.stamp_ns > self._last_frame:
            self.writer.write_frame(obs.frame)
            self._last_frame = obs.frame.stamp_ns
        if state is not None and state.stamp_ns > self._last_state:
            self.writer.write_state(state)
            self._last_state = state.stamp_ns
        commanded = value = reward = None
        if state is not None:
            commanded = self.executed_action(rec)
            self.writer.write_action(rec.commanded_ns, commanded, self.space)
        if self.goal is not None and obs is not None:
            value = float(reward_values(obs.embedding[None], self.goal.embedding, self.goal.similarity)[0])
            reward = 0.0 if self._value is None else value - self._value
            if self.first_value is None:
                self.first_value = value
            self._value = value
            self.writer.write_reward(rec.commanded_ns, value, reward)
        if self.live is not None:
            self.live.tick(TickView.from_record(rec, self.space, commanded, value, reward))

    def executed_action(self, rec: TickRecord) -> np.ndarray:
        """The action the robot was actually asked for (after the safety layer; zero step on hold)."""
        s, t = rec.state, rec.target
        q_next = s.joint_pos if t is None or t.joint_pos is None else t.joint_pos
        ee_next = s.ee_pose if t is None or t.ee_pose is None else t.ee_pose
        g_next = s.gripper_width if t is None else t.gripper_width
        return actions_from_states(
            self.space, np.stack([s.joint_pos, q_next]), np.stack([s.ee_pose, ee_next]),
            np.array([s.gripper_width, g_next]),
        )[0]

    @property
    def final_value(self) -> float | None:
        return self._value


class EvaluationSession:
    def __init__(
        self,
        backend: Backend,
        encoder: EncoderLike,
        policy: PolicyLike,
        config: EvaluationConfig,
        operator: Operator,
        *,
        limits: SafetyLimits | None = None,
        goal: Goal | None = None,
        encoder_info: dict[str, Any] | None = None,
        torch_threads: int | None = 1,
        realtime_priority: int | None = None,
        encoder_factory: Callable[[], EncoderLike] | None = None,
        live: LivePublisher | None = None,
        resume: bool = False,
    ) -> None:
        self.backend, self.encoder, self.policy = backend, encoder, policy
        self.resume = resume  # continue the ledger already in output_dir (``evaluate run --resume``)
        self.live = live  # optional Foxglove viewer: rollouts, ticks, holds (off the command path)
        self.realtime_priority = realtime_priority
        self.encoder_factory = encoder_factory
        self.config, self.operator, self.goal = config, operator, goal
        self.space = policy_action_space(policy)
        self.limits = backend.limits(limits or SafetyLimits())
        self.limits.check(config.rate_hz)  # the envelope's per-tick maxima at this session's rate
        # Its report spans the session; its limits are the ones enforced (clamped into the envelope).
        self.safety = SafetyLayer(self.limits, action_space=self.space, rate_hz=config.rate_hz)
        self.torch_threads = torch_threads
        self.ledger_path = Path(config.output_dir) / "ledger.json"
        self.ledger = Ledger(
            policy={"name": config.policy_name, "path": config.policy_path, "action_space": self.space,
                    "encoder": encoder_info or {}},
            task=config.task,
            seed=config.seed,
            backend=backend.describe(),
            config={"rollouts": config.rollouts, "horizon": config.horizon, "rate_hz": config.rate_hz,
                    "goal": goal.source if goal else None, "limits": self.safety.limits.to_dict(),
                    "limits_profile": self.safety.limits.profile,
                    "envelope": self.safety.limits.envelope.describe(config.rate_hz)},
        )
        self.timing = TimingSamples(period_ms=1e3 / config.rate_hz, clock=clock_kind(backend.clock))
        self.stop_signal: int | None = None  # SIGINT/SIGTERM that ended the session early

    def run(self) -> Ledger:
        cfg = self.config
        start = 0
        if self.ledger_path.exists():
            if not self.resume:
                raise FileExistsError(
                    f"{self.ledger_path} exists; evaluations are never overwritten: pass --resume to finish "
                    "it, --overwrite to replace it, or choose a new --out"
                )
            start = self._continue(Ledger.load(self.ledger_path))
        self.backend.start()
        self.start_perception()
        try:
            # the encoder (inline) and the policy run with the session's threads whoever calls it, so
            # the same evaluation gives the same embeddings and values from any process (bit for bit)
            with torch_threads(self.torch_threads):
                todo, desc = range(start, cfg.rollouts), f"{cfg.policy_name} rollouts"
                for i in progress(todo, desc, enabled=cfg.progress, total=cfg.rollouts, initial=start,
                                  unit="rollout"):
                    try:
                        scene = self.backend.reset(i, cfg.rollouts, self.operator)
                    except OperatorAbort:
                        break
                    if self.rollout(i, start=scene).judged_by == "aborted":
                        break
        finally:
            self.stop_perception()
            self.backend.stop()
            self._save()
        return self.ledger

    def start_perception(self, shared: str | ProcessPerception | None = None) -> str | ProcessPerception:
        """Set up perception for the session's rollouts (``shared``: one already set up for another
        policy of a paired session that uses the same encoder)."""
        self.perception = shared if shared is not None else self._perception()
        return self.perception

    def stop_perception(self) -> None:
        if isinstance(self.perception, ProcessPerception):
            self.perception.close()

    def rollout(self, index: int, *, start: dict[str, Any] | None = None, trial: int | None = None,
                order: int | None = None) -> RolloutOutcome:
        """Run, judge and record rollout ``index`` from the scene the backend was just reset to
        (``start``: what identifies it; ``trial``/``order``: its place in a paired session)."""
        outcome = self._rollout(index)
        outcome.start, outcome.trial, outcome.order = start, trial, order
        self.ledger.rollouts.append(outcome)
        self._save()
        return outcome

    def resume_from(self, ledger: Ledger) -> None:
        """Continue an interrupted session: keep the rollouts (and the timing and safety reports)
        the saved ledger holds; new rollouts are appended to it."""
        earlier = {"timing": ledger.timing, "safety": ledger.safety}
        parts = [*ledger.config.get("earlier_parts", []), earlier]
        ledger.config = self.ledger.config | {"earlier_parts": parts}
        self.ledger = ledger

    def _continue(self, old: Ledger) -> int:
        """Take over the judged rollouts of an interrupted session (``--resume``) after checking that it
        evaluated the same thing; returns the first rollout to run. An aborted or unrecorded rollout's
        episode is kept beside, renamed ``*.aborted-N``; that rollout runs again from its own start."""
        mine = self.ledger
        fingerprint = (old.policy.get("encoder") or {}).get("fingerprint")
        checks = {
            "task": (old.task, mine.task), "seed": (old.seed, mine.seed),
            "policy": (old.policy.get("path"), mine.policy["path"]),
            "encoder": (fingerprint, mine.policy["encoder"].get("fingerprint")),
            "backend": (old.backend, mine.backend),
            **{k: (old.config.get(k), mine.config[k]) for k in ("horizon", "rate_hz", "goal", "limits")},
        }
        as_json = functools.partial(json.dumps, sort_keys=True, default=str)  # tuples read back as lists
        diffs = [f"{k}: {a!r} then, {b!r} now" for k, (a, b) in checks.items() if as_json(a) != as_json(b)]
        if diffs:
            raise ResumeError(
                f"cannot resume {self.ledger_path}: the evaluation differs ({'; '.join(diffs)}); resume with "
                "the same policy, task, seed and settings, or start a new --out"
            )
        kept = []
        for r in old.rollouts:
            if r.judged_by == "aborted" or r.index != len(kept):
                break
            kept.append(r)
        if len(kept) >= self.config.rollouts:
            raise ResumeError(f"{self.ledger_path} already holds {len(kept)} judged rollouts of "
                              f"{self.config.rollouts}: nothing to resume (raise --rollouts to add more)")
        episodes = Path(self.config.output_dir) / "episodes"
        n = len(kept)
        for folder in sorted(episodes.glob("rollout_*")) if episodes.is_dir() else ():
            if folder.name[len("rollout_"):].isdigit() and int(folder.name[len("rollout_"):]) >= n:
                stamp = 1
                while folder.with_name(f"{folder.name}.aborted-{stamp}").exists():
                    stamp += 1
                folder.rename(folder.with_name(f"{folder.name}.aborted-{stamp}"))
        mine.rollouts = kept
        mine.created = old.created
        mine.config["resumed_at"] = [*old.config.get("resumed_at", []), n]
        return n

    def _perception(self) -> str | ProcessPerception:
        """The backend's mode; "process" gets one encoder process for the whole session."""
        if self.backend.perception != "process":
            return self.backend.perception
        if self.encoder_factory is None:
            raise ValueError("process perception needs encoder_factory (a picklable encoder recipe)")
        return ProcessPerception(self.backend.camera, self.encoder_factory, self.backend.clock,
                                 torch_threads=self.torch_threads)

    def _rollout(self, i: int) -> RolloutOutcome:
        cfg = self.config
        name = f"rollout_{i:03d}"
        retries = sum(1 for r in self.ledger.rollouts if r.index == i)  # resumed: aborted ones are redone
        if retries:
            name += f"_retry{retries}"
        meta = EpisodeMeta(
            task=cfg.task, goal_text=cfg.goal_text, source="rollout", action_space=self.space,
            nominal_rate_hz=cfg.rate_hz, index=i, session=cfg.output_dir.name,
            tags=["rollout", cfg.policy_name, f"seed{cfg.seed}"],
            robot={"backend": self.backend.name}, extra={"policy": cfg.policy_path or cfg.policy_name},
        )
        writer = EpisodeWriter(Path(cfg.output_dir) / "episodes" / name, meta, cfg.image_format)
        recorder = RolloutRecorder(writer, self.space, self.goal, self.live)
        hw = self.backend
        if self.live is not None:
            self.live.sync_clock(hw.clock.now_ns())
            self.live.event("rollout_start", name, index=i, detail=f"{cfg.policy_name} on {cfg.task}")
        loop = ControlLoop(
            hw.camera, hw.robot, self.encoder, self.policy, self.safety, hw.clock, cfg.rate_hz,
            perception=self.perception, task=cfg.policy_task, on_tick=recorder.on_tick,
            torch_threads=self.torch_threads, realtime_priority=self.realtime_priority,
        )
        with writer:
            with stop_on_sigint(loop) as stop:
                result = loop.run(cfg.horizon)
            aborted = stop.requested
            self.stop_signal = stop.signum
            if aborted:
                success, judged_by = None, "aborted"
            else:
                try:
                    success, judged_by = self.backend.judge(i, self.operator)
                except OperatorAbort:
                    success, judged_by = None, "aborted"
            writer.meta.extra["stop_reason"] = result.stop_reason
            writer.meta.notes = f"evaluation rollout {i} of {cfg.policy_name}: {result.stop_reason}"
            label = "unlabeled" if success is None else ("success" if success else "failure")
            path = writer.close(label=label)
        if self.live is not None:
            level = "info" if result.stop_reason == "completed" else "error"
            self.live.event("rollout_end", name, index=i, label=label, detail=result.stop_reason, level=level)
        self.timing.extend(result.timing)
        ret = None
        if recorder.first_value is not None and recorder.final_value is not None:
            ret = recorder.final_value - recorder.first_value
        return RolloutOutcome(
            index=i, success=success, judged_by=judged_by, steps=result.ticks, stop_reason=result.stop_reason,
            episode=str(path.relative_to(cfg.output_dir)), safe_stopped=result.safe_stopped,
            return_=ret, final_value=recorder.final_value, holds=result.holds,
        )

    def _save(self) -> None:
        self.ledger.timing = self.timing.report()
        self.ledger.safety = self.safety.report.to_dict()
        self.ledger.save(self.ledger_path)
