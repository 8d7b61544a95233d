"""`vipflow evaluate run` as a function: options -> an evaluation session, for the CLI and the demo.

What is not given comes from the task config, and the encoder weights and sim image size from the
policy's own record of how it was trained (``vipflow.policy.provenance``); an override that differs
from the training gets a one-line warning.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vipflow.config_schema import REQUIRED, option
from vipflow.encoder_inference import precision_option, runtime_option
from vipflow.encoders import load_encoder
from vipflow.evaluation.backend import Backend, open_backend
from vipflow.evaluation.operator import ConsoleOperator
from vipflow.evaluation.paired import PairedConfig, PairedSession, paired_dir
from vipflow.evaluation.session import EvaluationSession, Goal, evaluation_from_task, results_dir
from vipflow.hardware.factory import make_spec
from vipflow.live.publisher import LivePublisher
from vipflow.outputs import check_output_dir, prepare_output_dir
from vipflow.policy import load_policy
from vipflow.policy.goals import goal_embedding
from vipflow.policy.provenance import TrainedWith, trained_with
from vipflow.runtime.limits import load_limits
from vipflow.task_config import EncoderSpec, GoalSpec, load_task_config

# --backend names a robot driver of vipflow.hardware.factory; the camera that goes with it:
BACKEND_CAMERAS = {"sim": "sim", "franky": "realsense", "fake": "fake"}
BACKENDS = tuple(BACKEND_CAMERAS)
FRANKY = "franky backend"
DEFAULT_IMAGE_SIZE = 224
LEDGER_JSON = "ledger.json"


@dataclass(frozen=True)
class RunOptions:
    """What `evaluate run` evaluates and on what; the session's own settings are EvaluationConfig's."""

    policy: str = option(REQUIRED, "policy run dir, checkpoint dir or file")
    task_config: Path | None = option(None, "task YAML (config/tasks/*.yaml) giving defaults")
    backend: str | None = option(
        None, "sim, franky (libfranka, no ROS), or fake (a dry run on fake hardware)", choices=BACKENDS,
        default_text="sim for a sim task config",
    )
    encoder_weights: str | None = option(
        None, "weights of the policy's encoder (.pt or .safetensors)",
        default_text="the weights the policy was trained with, else the task config's",
    )
    encoder_runtime: str | None = runtime_option(None, default_text="the task config's, else auto")
    encoder_precision: str | None = precision_option(None, default_text="the task config's, else auto")
    goal_image: tuple[str, ...] = option((), "goal image for rewards (repeatable)", repeat=True)
    goal_dataset: str | None = option(
        None, "demo dataset whose successful demos' last frames are the goal for rewards"
    )
    rewards: bool = option(True, "record /reward against the goal (--no-rewards: without)")
    limits: Path | None = option(
        None, "safety limits YAML", default_text="the task config's, else conservative built-ins"
    )
    image_size: int | None = option(
        None, "sim camera size in pixels", bounds="[8, 4096]",
        default_text="the size of the policy's training frames, else 224",
    )
    robot_ip: str | None = option(None, "FCI address of the robot (set in Desk)", group=FRANKY)
    dynamics: float = option(0.1, "relative dynamics factor", bounds="(0, 1]", group=FRANKY)
    camera_serial: str | None = option(None, "RealSense serial", group=FRANKY, default_text="the only one")
    perception: str = option(
        "process", "encoder in its own process or a thread", choices=("process", "thread"), group=FRANKY
    )
    rt_priority: int = option(80, "SCHED_FIFO priority of the loop (0: off)", bounds="[0, 99]", group=FRANKY)



def build_session(
    opts: RunOptions, flags: Mapping[str, Any], *, resume: bool = False, overwrite: bool = False,
    live: LivePublisher | None = None, backend: Backend | None = None,
) -> EvaluationSession:
    """The session `vipflow evaluate run` runs: ``opts`` and ``flags`` (the EvaluationConfig values given,
    dotted names, ``progress`` included) resolved against the task config and the policy's own record of
    how it was trained. ``vipflow demo`` evaluates through here too, so its printed command is exact."""
    tc = load_task_config(opts.task_config) if opts.task_config else None
    task = flags.get("task") or (tc.task if tc else None)
    if not task:
        raise ValueError("name the task (--task or --task-config)")
    backend_name = opts.backend or ("sim" if tc and tc.kind == "sim" else None)
    if backend_name is None:
        raise ValueError("choose --backend sim or franky (franka_ros2 runs through the ROS policy node)")
    seed = flags.get("seed", 0)
    name = flags.get("policy_name") or Path(opts.policy).expanduser().resolve().name
    out = flags.get("output_dir") or results_dir(task, name, seed)
    resume = prepare_output_dir(out, resume=resume, overwrite=overwrite, marker=LEDGER_JSON,
                                what="evaluation")  # first: before anything loads
    policy = load_policy(opts.policy)
    ref = policy.config.encoder
    recorded = trained_with(policy.path)
    weights = _weights(opts.encoder_weights, recorded, tc)
    opts = replace(opts, image_size=_image_size(opts.image_size, recorded))
    spec = tc.encoder if tc is not None else EncoderSpec()
    inference = {"runtime": opts.encoder_runtime or spec.runtime,
                 "precision": opts.encoder_precision or spec.precision}
    # The same recipe builds the encoder here and, picklable, in the encoder process.
    factory = functools.partial(load_encoder, ref.name, weights, arch=ref.arch, **inference)
    encoder = factory()
    policy.check_encoder(encoder)
    limits = tc.safety_limits() if tc and not opts.limits else load_limits(opts.limits)
    goal = _goal(opts, flags.get("goal_text", ""), tc, encoder, task) if opts.rewards else None
    cfg, info = evaluation_from_task(
        task, policy, opts.policy, encoder, task_config=tc, name=flags.get("policy_name", ""),
        output_dir=flags.get("output_dir"), encoder_weights=weights, seed=seed,
        rollouts=flags.get("rollouts"), horizon=flags.get("horizon"), rate_hz=flags.get("rate_hz"),
        goal_text=flags.get("goal_text"), image_format=flags.get("image_format", "raw"),
    )
    cfg = replace(cfg, progress=flags["progress"])
    backend = backend or _backend(backend_name, opts, task, seed)  # given: shared by a paired session
    priority = (opts.rt_priority or None) if backend_name == "franky" else None  # simulated time: no point
    return EvaluationSession(backend, encoder, policy, cfg, ConsoleOperator(), limits=limits, goal=goal,
                             encoder_info=info, realtime_priority=priority,
                             encoder_factory=factory, live=live, resume=resume)


@dataclass(frozen=True)
class PairedSources:
    """The policies of `evaluate paired`, each with its table name."""

    policies: tuple[str, ...] = option(
        REQUIRED, "policy run dir, checkpoint dir or file (repeat: one per policy)", flag="--policy",
        repeat=True,
    )
    names: tuple[str, ...] = option(
        (), "the table column of each --policy, in the same order (repeat)", flag="--name", repeat=True,
        default_text="the policy dirs' names",
    )


def build_paired(
    sources: PairedSources, paired: PairedConfig, opts: RunOptions, flags: Mapping[str, Any], *,
    live: LivePublisher | None = None,
) -> PairedSession:
    """The session `vipflow evaluate paired` runs: one `evaluate run` session per policy (ledger in
    ``<out>/<name>``), all on one backend, trial by trial from the same starts."""
    names = sources.names or tuple(Path(p).expanduser().resolve().name for p in sources.policies)
    if len(names) != len(sources.policies):
        raise ValueError(
            f"give one --name per --policy ({len(sources.policies)} policies, {len(names)} names)"
        )
    tc = load_task_config(opts.task_config) if opts.task_config else None
    task = flags.get("task") or (tc.task if tc else None)
    if not task:
        raise ValueError("name the task (--task or --task-config)")
    out = check_output_dir(paired.output_dir or paired_dir(task, flags.get("seed", 0)), option="--out")
    arms: list[EvaluationSession] = []
    for policy, name in zip(sources.policies, names, strict=True):
        arm_flags = {**flags, "policy_name": name, "output_dir": out / name}
        arms.append(build_session(replace(opts, policy=policy), arm_flags, resume=paired.resume, live=live,
                                  backend=arms[0].backend if arms else None))
    return PairedSession(arms, ConsoleOperator(), out, order=paired.order, resume=paired.resume,
                         progress=flags["progress"])


def _differs(option: str, given: object, trained: object) -> None:
    print(f"warning: {option} {given} differs from how the policy was trained ({trained}); its outcomes may "
          "differ too", file=sys.stderr)


def _weights(given: str | None, recorded: TrainedWith, tc) -> str | None:
    """--encoder-weights, else the weights the policy was trained with (if still there), else the task
    config's; a given file other than the recorded one is warned about."""
    trained = recorded.encoder_weights
    if given is not None:
        if trained and Path(given).expanduser().resolve() != Path(trained).expanduser().resolve():
            _differs("--encoder-weights", given, trained)
        return given
    if trained and Path(trained).expanduser().is_file():
        return trained
    if tc is not None and tc.encoder.weights:
        return os.path.expanduser(tc.encoder.weights)
    return trained


def _image_size(given: int | None, recorded: TrainedWith) -> int:
    """--image-size, else the side of the policy's training frames, else 224."""
    if given is None:
        return recorded.image_size or DEFAULT_IMAGE_SIZE
    if recorded.image_size and given != recorded.image_size:
        _differs("--image-size", given, f"{recorded.image_size} px frames")
    return given


def _goal(args: RunOptions, goal_text: str, tc, encoder, task: str) -> Goal:
    """The goal rewards are measured against: explicit options, else the task config's goal."""
    if args.goal_image:
        spec = GoalSpec(source="images", images=args.goal_image)
    elif goal_text:
        spec = GoalSpec(source="text", text=goal_text)
    elif args.goal_dataset:
        spec = GoalSpec(source="dataset", dataset=args.goal_dataset)
    elif tc is not None:
        spec = tc.resolved_goal()
    else:
        raise ValueError(
            "rollouts record rewards against a goal: pass --goal-image, --goal-text or --goal-dataset "
            "(or --task-config), or --no-rewards"
        )
    return Goal(goal_embedding(encoder, spec, task=task), encoder.similarity, spec.describe())


def _backend(name: str, args: RunOptions, task: str, seed: int) -> Backend:
    """The backend named by --backend (a robot driver of vipflow.hardware.factory) with its camera."""
    if name == "franky" and not args.robot_ip:
        raise ValueError("--backend franky needs --robot-ip (the FCI address set in Desk)")
    options = {"task": task, "seed": seed, "image_size": args.image_size, "robot_ip": args.robot_ip,
               "relative_dynamics_factor": args.dynamics, "serial": args.camera_serial}
    camera = make_spec(BACKEND_CAMERAS[name], **options)
    return open_backend(make_spec(name, **options), camera, perception=args.perception)
