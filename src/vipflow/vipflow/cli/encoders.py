"""`vipflow encoders check`: do the fast inference paths give the same rewards as eager fp32?

    vipflow encoders check data/drawer/ep_* --encoder vip --encoder-weights vip.safetensors
    vipflow encoders check demo.mp4 --encoder vip --encoder-weights vip.pt --runtime openvino --precision bf16
    vipflow encoders check --encoder vip --encoder-arch convnet-small --random-init  # calibration set

For every runtime x precision this CPU supports (or those you name), embeds the recordings and
compares with the eager fp32 reference: largest relative embedding difference, Spearman of the
per-frame values, and the change in VOC, bump rate and AUROC (docs/encoders.md, "Agreement").
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args
from vipflow.config_schema import ConfigError, option
from vipflow.durable import OutputError, atomic_write_text
from vipflow.encoder_inference import PRECISIONS, RUNTIMES
from vipflow.encoders import EncoderError, load_encoder
from vipflow.encoders.agreement import (
    CALIBRATION_SIZE,
    GATE,
    agreement,
    calibration_episodes,
    embed_episodes,
)
from vipflow.encoders.inference import installed, isa_flags, supported_precisions
from vipflow.episodes.errors import EpisodeError
from vipflow.outputs import check_output_file
from vipflow.recordings import open_recording
from vipflow.video import VideoError


@dataclass(frozen=True)
class CheckOptions:
    """What `vipflow encoders check` compares (its options derive from here)."""

    inputs: tuple[Path, ...] = option(
        (), "mp4 / frame folder / episode directory", positional=True, metavar="INPUT",
        default_text="the built-in calibration set",
    )
    encoder: str = option("vip", "encoder family: vip, r3m, liv or resnet50")
    encoder_weights: Path | None = option(
        None, "official .pt or our .safetensors", default_text="the weights folder"
    )
    encoder_arch: str | None = option(None, "backbone", default_text="from the weights file")
    random_init: bool = option(False, "random weights (smoke tests only)")
    runtime: tuple[str, ...] = option(
        (), "runtimes to check", choices=RUNTIMES, default_text="every installed one"
    )
    precision: tuple[str, ...] = option(
        (), "precisions to check", choices=PRECISIONS, default_text="every one this CPU runs natively"
    )
    labels: tuple[str, ...] | None = option(
        None, "set one label per input, for AUROC", choices=("success", "failure", "unlabeled"),
        default_text="episode metadata", flag="--set-labels",
    )
    gamma: float = option(0.98, "LIV's cos/(1-gamma) scale", bounds="[0, 1)")
    out: Path | None = option(None, "also write the report as JSON here", default_text="no JSON")


def register(sub) -> None:
    p = sub.add_parser("encoders", help="check inference runtimes and precisions against eager fp32")
    esub = p.add_subparsers(dest="encoders_command", metavar="ACTION", required=True)
    c = esub.add_parser("check", help="agreement of each runtime x precision with eager fp32",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(c, CheckOptions)
    c.set_defaults(func=run)


def _inputs(args: CheckOptions, recordings: list, size: int) -> tuple[list, list, list[str]]:
    if not recordings:
        episodes, labels = calibration_episodes(size)
        return episodes, labels, [f"calibration_{i}" for i in range(len(episodes))]
    labels = args.labels or [r.label for r in recordings]
    return [r.read() for r in recordings], labels, [str(p) for p in args.inputs]


def _candidates(args: CheckOptions, device) -> list[tuple[str, str]]:
    runtimes = args.runtime or [r for r in RUNTIMES if installed(r)]
    out = []
    for runtime in runtimes:
        supported = supported_precisions(runtime, device)
        for precision in args.precision or supported:
            if (runtime, precision) != ("eager", "fp32"):
                out.append((runtime, precision))
    return out


def _check(args: CheckOptions) -> int:
    if args.labels is not None and len(args.labels) != len(args.inputs):
        raise ValueError(f"--set-labels has {len(args.labels)} entries for {len(args.inputs)} inputs")
    if args.out:
        check_output_file(args.out, option="--out")  # before the slow part
    recordings = [open_recording(p) for p in args.inputs]  # a bad path fails before loading a model
    encoder = load_encoder(args.encoder, args.encoder_weights, arch=args.encoder_arch,
                           random_init=args.random_init)
    episodes, labels, names = _inputs(args, recordings, encoder.preprocess.crop or CALIBRATION_SIZE)
    print(f"{encoder.name}/{encoder.arch} {encoder.fingerprint[:12]}: {sum(map(len, episodes))} frames in "
          f"{len(episodes)} episodes; reference eager fp32; CPU: {' '.join(sorted(isa_flags()))}")
    reference = embed_episodes(encoder, episodes)
    results = []
    header = (f"{'path':<18} {'max rel diff':>12} {'value rho':>10} {'min ep rho':>10} {'dVOC':>8} "
              f"{'max ep':>7} {'dbump':>7} {'dAUROC':>7}  gate")
    print(header)
    for runtime, precision in _candidates(args, encoder.device):
        try:
            candidate = encoder.with_inference(runtime, precision)
        except EncoderError as exc:
            print(f"{runtime + '-' + precision:<18} skipped: {exc}")
            continue
        embeddings = embed_episodes(candidate, episodes)
        found = agreement(reference, embeddings, encoder.similarity, labels, args.gamma)
        results.append({"runtime": runtime, "precision": precision, **found.as_dict()})
        dauroc = "-" if found.delta_auroc is None else f"{found.delta_auroc:+.3f}"
        print(f"{runtime + '-' + precision:<18} {found.max_rel_diff:>12.2e} {found.value_spearman:>10.5f} "
              f"{found.min_episode_spearman:>10.5f} {found.delta_voc:>+8.4f} "
              f"{found.max_episode_delta_voc:>7.4f} "
              f"{found.delta_bump_rate:>+7.3f} {dauroc:>7}  {'pass' if found.passes() else 'FAIL'}")
    print(f"gate: value Spearman >= {GATE.min_value_spearman} (all frames), |dVOC| <= "
          f"{GATE.max_abs_delta_voc} (mean VOC of the successful episodes; 'max ep': the largest change "
          "of one episode's VOC, failures included)")
    if args.out:
        report = {
            "encoder": {"name": encoder.name, "arch": encoder.arch, "fingerprint": encoder.fingerprint},
            "reference": "eager-fp32", "gate": asdict(GATE),
            "cpu_flags": sorted(isa_flags()), "inputs": names, "labels": labels, "results": results,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(report, indent=2))
        print(f"wrote {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return _check(from_args(CheckOptions, args))
    except (VideoError, EncoderError, EpisodeError, ConfigError, OutputError, ValueError) as exc:
        return fail(exc)
