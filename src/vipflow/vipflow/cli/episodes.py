"""`vipflow episodes`: review and edit a dataset of recorded episodes (never destructively).

vipflow episodes list DATASET [--json]
vipflow episodes show EPISODE [--sheet] [--mp4] [--out DIR] [--rate 25]   # DIR/EPISODE.png, .mp4
vipflow episodes relabel EPISODE {success,failure,unlabeled} [--add-tag T] [--remove-tag T] [--notes TEXT]
vipflow episodes relabel EPISODE --complete         # accept a recovered episode after review
vipflow episodes delete EPISODE...                  # moves to DATASET/.trash
vipflow episodes trash DATASET                      # what can be restored
vipflow episodes restore DATASET NAME [--as NEW]
vipflow episodes recover DATASET                    # salvage interrupted recordings
vipflow episodes validate DATASET [--rate 25] [--json]
vipflow episodes sheet EPISODE [--out DIR]              # DIR/EPISODE.png
vipflow episodes export-mp4 EPISODE [--out DIR] [--grid 25]  # DIR/EPISODE.mp4
vipflow episodes manifest DATASET
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_deprecated_positional, add_flag
from vipflow.episodes import LABELS, EpisodeError, list_episodes, read_episode, write_manifest
from vipflow.episodes.edit import delete_episode, relabel, restore_episode, trash_entries
from vipflow.episodes.recovery import recover_dataset
from vipflow.episodes.review import contact_sheet, describe, export_mp4
from vipflow.episodes.validate import validate_dataset
from vipflow.outputs import check_output_dir, check_output_file


def register(sub) -> None:
    p = sub.add_parser("episodes", help="list, show, relabel, delete/restore, recover and validate episodes")
    es = p.add_subparsers(dest="episodes_command", metavar="ACTION", required=True)

    ls = es.add_parser("list", help="episodes with labels, durations, frame counts and cadence")
    ls.add_argument("dataset", type=Path)
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)

    sh = es.add_parser("show", help="metadata, topics and cadence of one episode (+ sheet / mp4)")
    sh.add_argument("episode", type=Path)
    sh.add_argument("--rate", type=float, default=None, help="grid rate for the cadence (default: nominal)")
    for kind, what in (("sheet", "a PNG contact sheet"), ("mp4", "the frames as mp4")):
        sh.add_argument(f"--{kind}", nargs="?", const=True, default=None, action=_OldFile,
                        help=f"also write {what} into --out (a path after it is deprecated)")
    sh.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                    help="folder for --sheet / --mp4 (EPISODE.png, EPISODE.mp4)")
    sh.set_defaults(func=_show)

    rl = es.add_parser("relabel", help="change label, tags or notes (metadata only; the MCAP is untouched)")
    rl.add_argument("episode", type=Path)
    rl.add_argument("label", nargs="?", choices=LABELS)
    add_flag(rl, "--add-tag", deprecated=("--tag",), dest="tag", action="append", default=[],
             help="add a tag (repeatable)")
    add_flag(rl, "--remove-tag", deprecated=("--untag",), dest="untag", action="append", default=[],
             help="remove a tag (repeatable)")
    rl.add_argument("--notes", default=None)
    rl.add_argument(
        "--complete",
        action="store_true",
        help="accept an episode recovered after a crash for training (after reviewing it)",
    )
    rl.set_defaults(func=_relabel)

    de = es.add_parser("delete", help="move episodes to DATASET/.trash (undo with restore)")
    de.add_argument("episodes", nargs="+", type=Path)
    de.set_defaults(func=_delete)

    tr = es.add_parser("trash", help="list deleted, discarded and interrupted recordings")
    tr.add_argument("dataset", type=Path)
    tr.set_defaults(func=_trash)

    rs = es.add_parser("restore", help="bring an episode back from the trash")
    rs.add_argument("dataset", type=Path)
    rs.add_argument("name", help="trash entry, or the episode name if only one entry matches")
    rs.add_argument("--as", dest="as_name", default=None, help="restore under another name")
    rs.set_defaults(func=_restore)

    rc = es.add_parser(
        "recover", help="turn interrupted recordings (.partial) into episodes flagged incomplete"
    )
    rc.add_argument("dataset", type=Path)
    rc.set_defaults(func=_recover)

    va = es.add_parser("validate", help="load every episode like training does; exit 1 on any failure")
    va.add_argument("dataset", type=Path)
    va.add_argument("--rate", type=float, default=None, help="control grid rate (default: each episode's)")
    va.add_argument("--json", action="store_true")
    va.set_defaults(func=_validate)

    cs = es.add_parser("sheet", help="PNG contact sheet of an episode: OUT/EPISODE.png")
    cs.add_argument("episode", type=Path)
    _add_review_out(cs, "the contact sheet EPISODE.png")
    cs.add_argument("--frames", type=int, default=12, help="frames on the sheet")
    cs.set_defaults(func=_sheet)

    ex = es.add_parser("export-mp4", help="export an episode's frames as mp4: OUT/EPISODE.mp4")
    ex.add_argument("episode", type=Path)
    _add_review_out(ex, "the video EPISODE.mp4")
    ex.add_argument(
        "--grid",
        type=float,
        default=None,
        metavar="HZ",
        help="export the causal grid view at HZ instead of every recorded frame",
    )
    ex.set_defaults(func=_export)

    mf = es.add_parser("manifest", help="rebuild DATASET/manifest.json from the episodes")
    mf.add_argument("dataset", type=Path)
    mf.set_defaults(func=_manifest)


def _add_review_out(parser: argparse.ArgumentParser, what: str) -> None:
    """``--out DIR`` of the review exports (the positional OUT file of the last release still works)."""
    parser.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help=f"folder for {what}")
    add_deprecated_positional(parser, "out_file", "--out DIR")


class _OldFile(argparse.Action):
    """``--sheet`` / ``--mp4``: a switch; the file path the last release took after it still works."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values is not True:
            print(f"warning: {option_string} PATH is deprecated and goes away in the next release; use "
                  f"{option_string} --out DIR", file=sys.stderr)
            values = Path(values)
        setattr(namespace, self.dest, values)


def _review_file(args: argparse.Namespace, suffix: str, old: Path | None = None) -> Path:
    """The file a review export writes: OUT/EPISODE<suffix>, or the deprecated explicit file."""
    if old is not None:
        return check_output_file(old, option="OUT")
    folder = check_output_dir(args.out, datasets=[args.episode])
    folder.mkdir(parents=True, exist_ok=True)
    return check_output_file(folder / f"{args.episode.name}{suffix}", option="--out")


def _list(args: argparse.Namespace) -> int:
    try:
        episodes = list_episodes(args.dataset)
    except EpisodeError as exc:
        return fail(exc, 1)
    if args.json:
        print(json.dumps([s.to_dict() for s in episodes], indent=2))
        return 0
    print(
        f"{'episode':14s} {'status':10s} {'label':9s} {'dur s':>6s} {'frames':>6s} {'cadence':7s} task / tags"
    )
    for s in episodes:
        d = s.to_dict()
        extra = f"{d['task']} {' '.join('#' + t for t in d['tags'])}".strip() if s.meta else s.problem
        print(
            f"{s.name:14s} {s.status:10s} {s.label:9s} {s.duration_s:6.2f} {d['frames']:6d} "
            f"{s.cadence_status or '-':7s} {extra}"
        )
    labels = {k: sum(s.label == k for s in episodes if s.usable) for k in LABELS}
    print(
        f"{len(episodes)} episode(s), {sum(s.usable for s in episodes)} usable: "
        + ", ".join(f"{v} {k}" for k, v in labels.items())
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        sheet, mp4 = (_review_file(args, suffix, None if v is True else v) if v else None
                      for v, suffix in ((args.sheet, ".png"), (args.mp4, ".mp4")))
        ep = read_episode(args.episode, allow_incomplete=True)
        print(describe(ep, args.rate))
        if sheet:
            rate = args.rate or ep.meta.nominal_rate_hz
            print(f"contact sheet: {contact_sheet(ep, sheet, rate_hz=rate)}")
        if mp4:
            print(f"mp4: {export_mp4(ep, mp4)}")
    except (EpisodeError, OSError, ValueError) as exc:
        return fail(exc, 1)
    return 0


def _relabel(args: argparse.Namespace) -> int:
    if not (args.label or args.tag or args.untag or args.notes is not None or args.complete):
        return fail("nothing to change: give a label, --add-tag/--remove-tag, --notes or --complete", 1)
    try:
        meta = relabel(
            args.episode,
            args.label,
            tags_add=tuple(args.tag),
            tags_remove=tuple(args.untag),
            notes=args.notes,
            mark_complete=args.complete,
        )
    except (EpisodeError, OSError) as exc:
        return fail(exc, 1)
    print(f"{args.episode.name}: label {meta.label}, tags {meta.tags}, incomplete {meta.incomplete}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    for path in args.episodes:
        try:
            dest = delete_episode(path)
        except (EpisodeError, OSError) as exc:
            return fail(exc, 1)
        print(f"{path.name} -> {dest} (undo: vipflow episodes restore {path.parent} {dest.name})")
    return 0


def _trash(args: argparse.Namespace) -> int:
    for p in trash_entries(args.dataset):
        print(p.name)
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        dest = restore_episode(args.dataset, args.name, args.as_name)
    except (EpisodeError, OSError) as exc:
        return fail(exc, 1)
    print(f"restored {dest}")
    return 0


def _recover(args: argparse.Namespace) -> int:
    try:
        results = recover_dataset(args.dataset)
    except (EpisodeError, OSError) as exc:
        return fail(exc, 1)
    for r in results:
        print(r.line())
    if not results:
        print("nothing to recover")
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        checks = validate_dataset(args.dataset, args.rate)
    except EpisodeError as exc:
        return fail(exc, 1)
    if args.json:
        print(json.dumps([{**c.__dict__, "path": str(c.path)} for c in checks], indent=2))
    else:
        for c in checks:
            print(c.line())
        counts = {k: sum(c.status == k for c in checks) for k in ("ok", "warn", "fail")}
        print(f"{len(checks)} episode(s): {counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail")
    return 1 if any(c.status == "fail" for c in checks) else 0


def _sheet(args: argparse.Namespace) -> int:
    try:
        out = _review_file(args, ".png", args.out_file)
        ep = read_episode(args.episode, allow_incomplete=True)
        print(contact_sheet(ep, out, n=args.frames, rate_hz=ep.meta.nominal_rate_hz))
    except (EpisodeError, OSError, ValueError) as exc:
        return fail(exc, 1)
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        out = _review_file(args, ".mp4", args.out_file)
        print(export_mp4(read_episode(args.episode, allow_incomplete=True), out, grid_rate_hz=args.grid))
    except (EpisodeError, OSError, ValueError) as exc:
        return fail(exc, 1)
    return 0


def _manifest(args: argparse.Namespace) -> int:
    try:
        print(write_manifest(args.dataset))
    except (EpisodeError, OSError) as exc:
        return fail(exc, 1)
    return 0
