"""Every stage of ``vipflow demo`` as a command a user can run by hand.

The demo writes its resolved task config (``<task>.yaml``, a ``kind: sim`` task config) and the
simulator's limits profile (``limits.yaml``) into its output folder, and runs its training and
evaluation stages from the very values these commands parse to: ``train_argv`` renders the
TrainConfig a stage trains with into ``vipflow train`` options (``cli.options.command_args``), and
the evaluation stage calls ``vipflow.evaluation.run.build_session`` with the options
``evaluate_argv`` prints. Re-running a printed command into another ``--out`` gives the same policy
weights and the same ledger; into the demo's own folder it needs ``--overwrite``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from vipflow.cli.options import command_args
from vipflow.config_schema import to_json
from vipflow.demo_config import WorkflowConfig
from vipflow.evaluation.run import RunOptions
from vipflow.evaluation.session import EvaluationConfig
from vipflow.policy.train_config import TrainConfig
from vipflow.runtime.limits import SIM_PROFILE, profile_limits
from vipflow.sim.tasks import get_task
from vipflow.task_config import (
    CameraSpec,
    EncoderSpec,
    EvaluateSpec,
    GoalSpec,
    PolicySpec,
    RecordSpec,
    RobotSpec,
    SafetySpec,
    TaskConfig,
    load_task_config,
)

LIMITS_YAML = "limits.yaml"
PROG = "vipflow"


def task_yaml(cfg: WorkflowConfig) -> Path:
    """The demo's resolved task config, ``<out>/<task>.yaml`` (a task file is named after its task)."""
    return Path(cfg.out_dir) / f"{cfg.task}.yaml"


def write_task_files(cfg: WorkflowConfig, dataset: Path, encoder_path: Path) -> Path:
    """``<task>.yaml`` and ``limits.yaml`` in ``cfg.out_dir``: the task as this run resolved it (demos,
    goal, encoder, τ, evaluation size, the simulator's limits profile); returns the task file, checked
    by loading it back."""
    out = Path(cfg.out_dir)
    task = get_task(cfg.task)
    limits = profile_limits(SIM_PROFILE).to_dict()
    limits.pop("profile")  # chosen by `kind: sim`, never by a file
    (out / LIMITS_YAML).write_text(
        f"# The simulator's limits profile ({SIM_PROFILE}): the kitchen's own 2.5 cm steps, not the\n"
        f"# arm's 1 cm (vipflow.runtime.limits). `kind: sim` in {task.name}.yaml selects the profile.\n"
        + yaml.safe_dump(limits, sort_keys=False)
    )
    demos = str(Path(dataset).absolute())
    tc = TaskConfig(
        task=task.name, kind="sim", description=task.goal_text, rate_hz=25.0,
        goal=GoalSpec(source="dataset", text=task.goal_text, dataset=demos, last_frames=1),
        encoder=EncoderSpec(name="vip", weights=str(Path(encoder_path).absolute())),
        policy=PolicySpec(algorithm="rwr", tau=cfg.temperature),
        record=RecordSpec(
            dataset=demos, episodes=cfg.n_expert + cfg.n_failure, horizon=cfg.horizon, reset_s=0.0
        ),
        evaluate=EvaluateSpec(rollouts=cfg.rollouts, horizon=cfg.resolved_eval_horizon, reset_s=0.0),
        safety=SafetySpec(limits=LIMITS_YAML),
        camera=CameraSpec(driver="sim", width=cfg.image_size, height=cfg.image_size, fps=25),
        robot=RobotSpec(driver="sim"),
    )
    data = to_json(tc)
    data.pop("source")
    path = task_yaml(cfg)
    path.write_text(
        f"# vipflow demo's resolved task config ({task.name}, simulated): what its stages ran with.\n"
        "# Reproduce a stage with the commands in report.md; see docs/ros.md for every key.\n"
        + yaml.safe_dump(data, sort_keys=False)
    )
    load_task_config(path)  # the file must read back (schema, limits)
    return path


def train_argv(tcfg: TrainConfig) -> list[str]:
    """``vipflow train`` arguments that resolve to ``tcfg`` (progress follows the terminal)."""
    return [PROG, "train", *command_args(TrainConfig, tcfg, skip=("progress",))]


def evaluation_options(
    cfg: WorkflowConfig, policy: Path, name: str, seed: int, out: Path
) -> tuple[RunOptions, dict[str, Any]]:
    """The ``evaluate run`` options of one evaluation stage: the task config, the policy (its weights
    and image size come from its training record), and the session's EvaluationConfig flags."""
    opts = RunOptions(policy=str(policy), task_config=task_yaml(cfg))
    flags = {"output_dir": Path(out), "policy_name": name, "task": cfg.task, "seed": seed,
             "rollouts": cfg.rollouts, "horizon": cfg.resolved_eval_horizon}
    return opts, flags


def evaluate_argv(opts: RunOptions, flags: dict[str, Any]) -> list[str]:
    """``vipflow evaluate run`` arguments for ``opts`` and ``flags`` (as :func:`evaluation_options`)."""
    session = EvaluationConfig(**flags)
    skip = ("progress", "policy_path", "policy_task")
    return [PROG, "evaluate", "run", *command_args(RunOptions, opts),
            *command_args(EvaluationConfig, session, skip=skip)]


def shell(argv: list[str]) -> str:
    return shlex.join(argv)
