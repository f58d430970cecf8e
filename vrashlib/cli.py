"""The ``vrash`` command line: prepare, train, generate, stream, reproduce.

Each subcommand parses its arguments here and hands them to the module that
does the work (imported lazily, so ``vrash --help`` is instant).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from vrashlib.config import PROFILES, load_config


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile", default="paper", choices=sorted(PROFILES), help="configuration profile"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for every stage")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrash",
        description="VRASH companion: rebuild the paper's figures and tables, or use the pieces.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="prepare a normalised dataset from the corpus or your files")
    p.add_argument(
        "--corpus",
        action="store_true",
        help="include the music21 corpus (default if no folder given)",
    )
    p.add_argument(
        "--midi",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of .mid/.midi files (recursive)",
    )
    p.add_argument(
        "--music",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of ABC/MusicXML/kern files",
    )
    p.add_argument(
        "--style", default=None, help="style label for the tracks of --midi/--music folders"
    )
    p.add_argument(
        "--out", required=True, help="output folder for the dataset and ingest_report.csv"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="parsing processes (default: from profile)"
    )
    p.add_argument(
        "--max-tunes", type=int, default=None, help="seeded subset: tunes per collection/folder"
    )
    _add_common(p)
    p.set_defaults(handler="vrashlib.data.prepare:prepare_command")

    p = sub.add_parser("train", help="train LM, VAE or VRASH on a prepared dataset")
    p.add_argument("--model", required=True, choices=["lm", "vae", "vrash"])
    p.add_argument("--run", default=None, help="run folder (default: build/runs/<profile>)")
    p.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    p.add_argument("--accelerator", default=None, help="Lightning accelerator (cpu, gpu, auto)")
    p.add_argument("--devices", default=None, help="Lightning devices")
    p.add_argument("--strategy", default=None, help="Lightning strategy (auto, ddp, ...)")
    p.add_argument("--num-nodes", type=int, default=None, help="Lightning num_nodes")
    _add_common(p)
    p.set_defaults(handler="vrashlib.models.training:train_command")

    p = sub.add_parser("generate", help="sample melodies and write MIDI files")
    p.add_argument(
        "--model", required=True, help="lm, vae, vrash (from the run folder) or a checkpoint path"
    )
    p.add_argument("--style", required=True)
    p.add_argument("-n", type=int, default=10, help="number of melodies")
    p.add_argument("--out", required=True, help="folder for the MIDI files")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-len", type=int, default=256, help="events per melody at most")
    p.add_argument("--run", default=None, help="run folder (default: build/runs/<profile>)")
    _add_common(p)
    p.set_defaults(handler="vrashlib.sampling.generate:generate_command")

    p = sub.add_parser("stream", help="pseudo-live filtered stream of melodies on one thread")
    p.add_argument(
        "--model", default="vrash", help="lm, vae, vrash (from the run folder) or a checkpoint path"
    )
    p.add_argument("--style", default="bach")
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of music to produce")
    p.add_argument("--out", required=True)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--run", default=None, help="run folder (default: build/runs/<profile>)")
    _add_common(p)
    p.set_defaults(handler="vrashlib.stream.live:stream_command")

    p = sub.add_parser("reproduce", help="execute every notebook with papermill")
    p.add_argument("--start", default=None, help="first notebook to run, e.g. 04 (resume)")
    p.add_argument("--only", nargs="*", default=None, help="run only these notebooks, e.g. 01 02")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (VALUE as JSON, or a bare string), e.g. train.max_steps=2000 "
        "or 'data.midi_dirs=[\"~/midi=pop\"]'; needs --name",
    )
    p.add_argument(
        "--name",
        default="",
        help="name of this run: its results go to build/runs/NAME and build/figures/NAME",
    )
    _add_common(p)
    p.set_defaults(handler="vrashlib.cli:reproduce_command")
    return parser


def parse_overrides(items: list[str]) -> dict:
    """``["train.max_steps=2000", "data.use_corpus=false"]`` -> overrides (JSON values)."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value  # a bare string
    return overrides


def reproduce_command(args: argparse.Namespace) -> int:
    try:
        overrides = parse_overrides(args.set)
        load_config(args.profile, overrides)  # unknown keys fail here, not in notebook 01
    except (ValueError, KeyError) as err:
        print(f"vrash reproduce: {err}", file=sys.stderr)
        return 2
    if overrides and not args.name:
        print(
            "vrash reproduce: --set changes the results; give the run a --name so that it "
            "does not overwrite the profile's figures",
            file=sys.stderr,
        )
        return 2
    if args.name:
        os.environ["VRASH_RUN"] = args.name  # read by vrashlib.paths in each notebook kernel
    from vrashlib.reproduce import reproduce

    try:
        written = reproduce(
            args.profile, seed=args.seed, start=args.start, only=args.only, overrides=overrides
        )
    except RuntimeError as err:
        print(f"vrash reproduce: {err}", file=sys.stderr)
        return 1
    print(f"{len(written)} figure/table files written")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, func_name = args.handler.split(":")
    handler = getattr(importlib.import_module(module_name), func_name)
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
