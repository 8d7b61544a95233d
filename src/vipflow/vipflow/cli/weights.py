"""`vipflow weights`: list, download and export encoder weights.

    vipflow weights list
    vipflow weights download vip r3m liv [--out DIR] [--force]
    vipflow weights export vip model.pt [--out DIR] [--encoder-arch resnet50] [--legacy-vip-crop]
        # -> DIR/vip_resnet50.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_deprecated_positional, add_flag
from vipflow.durable import OutputError
from vipflow.encoders import (
    WEIGHTS,
    EncoderError,
    default_weights_dir,
    download,
    get_weights_file,
    load_encoder,
    save_encoder,
)
from vipflow.encoders.families import FAMILIES
from vipflow.outputs import check_output_dir, check_output_file


def register(sub) -> None:
    p = sub.add_parser("weights", help="list, download (official releases) and export encoder weights")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)

    ls = wsub.add_parser("list", help="known official files and whether they are present")
    ls.add_argument("--dir", type=Path, default=None, help="weights folder to look in (default: "
                    "$VIPFLOW_WEIGHTS_DIR, else cache/weights under the data root)")
    ls.set_defaults(func=_list)

    dl = wsub.add_parser("download", help="fetch official files, verify them, put them in the weights folder")
    dl.add_argument("names", nargs="+", metavar="NAME", help=f"{', '.join(WEIGHTS)} (r3m = r3m-resnet50)")
    add_flag(dl, "--out", deprecated=("--dir",), dest="out", type=Path, default=None,
             help="destination folder (default: the weights folder)")
    dl.add_argument("--force", action="store_true", help="download again even if the file is present")
    dl.set_defaults(func=_download)

    ex = wsub.add_parser("export", help="convert an official .pt into our .safetensors export")
    ex.add_argument("encoder", choices=list(FAMILIES))
    ex.add_argument("source", type=Path, help="official checkpoint (e.g. ~/.vip/resnet50/model.pt)")
    ex.add_argument("--out", type=Path, default=None, metavar="DIR",
                    help="folder for the export ENCODER_ARCH.safetensors (default: the weights folder, "
                    "$VIPFLOW_WEIGHTS_DIR or cache/weights under the data root)")
    add_deprecated_positional(ex, "dest", "--out DIR")
    add_flag(ex, "--encoder-arch", deprecated=("--arch",), dest="encoder_arch", default=None,
             help="backbone (default: read from the file)")
    ex.add_argument("--legacy-vip-crop", action="store_true",
                    help="record the released VIP forward's Resize(256)+CenterCrop(224) on 224x224 input")
    ex.set_defaults(func=_export)


def _list(args: argparse.Namespace) -> int:
    folder = args.dir or default_weights_dir()
    print(f"weights folder: {folder}")
    for w in WEIGHTS.values():
        present = (folder / w.filename).is_file()
        digest = "published sha256 prefix " + w.sha256_prefix if w.sha256_prefix else "no published digest"
        state = "present" if present else "missing"
        print(f"  {w.key:<13} {state:<8} {w.filename:<24} {w.licence}; {digest}")
        print(f"  {'':<13} {w.urls[0]}")
    return 0


def _download(args: argparse.Namespace) -> int:
    try:
        files = [get_weights_file(name) for name in args.names]
    except EncoderError as exc:
        return fail(exc)
    status = 0
    for w in files:
        try:
            path = download(w, args.out, force=args.force)
        except EncoderError as exc:
            status = fail(exc, 1)
            continue
        how = ("sha256 matches the published digest" if w.sha256 or w.sha256_prefix
               else "no published digest: verified by a strict load")
        print(f"{w.key}: {path} ({how}; sha256 recorded in {path.name}.sha256)")
    return status


def _export(args: argparse.Namespace) -> int:
    try:
        if args.dest is not None:
            check_output_file(args.dest, option="DEST")
        else:
            check_output_dir(args.out or default_weights_dir())
        enc = load_encoder(args.encoder, args.source, arch=args.encoder_arch,
                           legacy_vip_crop=args.legacy_vip_crop, optimize=False)
        dest = args.dest or (args.out or default_weights_dir()) / f"{enc.name}_{enc.arch}.safetensors"
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        path = save_encoder(enc, check_output_file(dest, option="--out"))
    except (EncoderError, OutputError) as exc:
        return fail(exc)
    print(f"{path}: {enc.name}/{enc.arch}, {enc.embed_dim}-d, fingerprint {enc.fingerprint[:16]}")
    return 0
