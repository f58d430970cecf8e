"""The ``vrash`` command line: prepare, train, generate, stream, reproduce.

The only command layer. Each subcommand parses its arguments here, builds its
configuration through :func:`vrashlib.config.load_config` (the profile, then
``--set KEY=VALUE``, then the explicit options, so every value is checked the
same way) and calls the library, imported inside the handlers so that
``vrash --help`` is instant. An option left out takes its value from the
configuration. Results go to stdout, progress to the ``vrashlib`` logger
(stderr; ``-v`` / ``-q``), and errors to stderr as ``vrash <command>: message``
with exit status 2 for a usage mistake (bad value, unknown setting, missing
input) and 1 for a failure.

Where things are: ``--run DIR`` is the run folder (:class:`vrashlib.paths.RunLayout`),
by default ``build/runs/<profile>``; ``--dataset DIR`` is the prepared dataset, by
default the run folder's. A dataset given without ``--run`` gets its own run
folder (:func:`vrashlib.paths.run_for_dataset`), so that ``vrash prepare --out X``
followed by ``vrash train --dataset X`` needs nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vrashlib import __version__, paths
from vrashlib.config import PROFILES, Config, load_config
from vrashlib.models import KINDS

log = logging.getLogger(__name__)

NO_FILTER = "none"  # ``vrash stream --filter none``


class CommandError(Exception):
    """A message for the user and the exit status (2: usage mistake, 1: failure)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ parser
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default; an option that defaults to a setting says which."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if (
            default is None
            or default is False
            or default == []
            or "default:" in (action.help or "")
        ):
            return action.help
        return super()._get_help_string(action)


@functools.cache
def _profile(name: str) -> Config:
    return load_config(name)


def _from_config(key: str, text: str) -> str:
    """Help text for an option that defaults to the setting ``key`` of the profile."""
    section, _, name = key.partition(".")
    values = ", ".join(
        f"{p} {getattr(getattr(_profile(p), section), name)}" for p in sorted(PROFILES)
    )
    return f"{text} (default: the profile's {key}: {values})".replace("%", "%%")


def _add_verbosity(p: argparse.ArgumentParser, default: Any) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", dest="log_level", action="store_const", const=logging.DEBUG,
        default=default, help="debug messages (default: progress messages)",
    )  # fmt: skip
    group.add_argument(
        "-q", "--quiet", dest="log_level", action="store_const", const=logging.WARNING,
        default=default, help="warnings and errors only",
    )  # fmt: skip


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile", default="paper", choices=sorted(PROFILES), help="configuration profile"
    )
    p.add_argument(
        "--seed", type=int, default=None, help="seed of every stage (default: the profile's, 0)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a setting of vrashlib/config.py (VALUE as JSON, or a bare string), e.g. "
        "train.max_steps=2000 or 'data.midi_dirs=[\"~/midi=pop\"]'; repeatable",
    )
    _add_verbosity(p, argparse.SUPPRESS)  # also accepted after the subcommand


def _add_locations(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        default=None,
        metavar="DIR",
        help="prepared dataset (`vrash prepare --out DIR`) (default: the run folder's dataset)",
    )
    p.add_argument(
        "--run",
        default=None,
        metavar="DIR",
        help="run folder for models and results (default: build/runs/<profile>, or "
        "build/runs/<dataset folder name> when --dataset is given)",
    )


MODEL_HELP = f"{', '.join(KINDS)} (from the run folder) or a checkpoint path"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrash",
        description="VRASH companion: rebuild the paper's figures and tables, or use the pieces.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vrash {__version__}")
    _add_verbosity(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter)

    p = command("prepare", "prepare a normalised dataset from the corpus or your files")
    p.add_argument(
        "--corpus",
        action="store_true",
        help="include the music21 corpus (read anyway when no folder is given)",
    )
    p.add_argument(
        "--midi", action="append", default=[], metavar="DIR",
        help="folder of .mid/.midi files (recursive); repeatable",
    )  # fmt: skip
    p.add_argument(
        "--music", action="append", default=[], metavar="DIR",
        help="folder of ABC/MusicXML/kern files; repeatable",
    )  # fmt: skip
    p.add_argument("--style", default=None, help="style label of the tracks of --midi/--music")
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder for the dataset and its ingest_report.csv "
        "(default: the dataset of build/runs/<profile>)",
    )
    p.add_argument(
        "--workers", type=int, default=None, help=_from_config("data.workers", "parsing processes")
    )
    p.add_argument(
        "--max-tunes",
        type=int,
        default=None,
        help=_from_config(
            "data.max_tunes_per_collection", "seeded subset: tunes per collection/folder"
        ),
    )
    _add_common(p)
    p.set_defaults(handler=prepare_command)

    p = command("train", "train LM, VAE or VRASH on a prepared dataset")
    p.add_argument("--model", required=True, choices=list(KINDS), help="model kind")
    _add_locations(p)
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help=_from_config("train.max_steps", "optimiser steps"),
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help=_from_config("train.max_minutes", "wall-clock budget"),
    )
    p.add_argument(
        "--accelerator", default=None, help=_from_config("train.accelerator", "cpu, gpu, auto, ...")
    )
    p.add_argument(
        "--devices", type=_int_or_str, default=None, help=_from_config("train.devices", "devices")
    )
    p.add_argument(
        "--strategy", default=None, help=_from_config("train.strategy", "auto, ddp, ...")
    )
    p.add_argument(
        "--num-nodes", type=int, default=None, help=_from_config("train.num_nodes", "nodes")
    )
    p.add_argument(
        "--threads", type=int, default=None, help=_from_config("train.threads", "torch threads")
    )
    _add_common(p)
    p.set_defaults(handler=train_command)

    p = command("generate", "sample melodies and write MIDI files")
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--style", required=True, help="a style the model was trained on")
    p.add_argument("-n", type=int, default=10, help="number of melodies")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the MIDI files")
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help=_from_config("generate.temperature", "sampling temperature"),
    )
    p.add_argument(
        "--max-len",
        type=int,
        default=None,
        help=_from_config("generate.max_len", "events per melody at most"),
    )
    _add_locations(p)
    _add_common(p)
    p.set_defaults(handler=generate_command)

    p = command("stream", "pseudo-live filtered stream of melodies on one thread")
    p.add_argument("--model", default=None, help=_from_config("stream.model", MODEL_HELP))
    p.add_argument(
        "--style", default=None, help=_from_config("stream.style", "a style the model knows")
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help=_from_config("stream.music_minutes", "minutes of music to produce"),
    )
    p.add_argument(
        "--filter",
        default=None,
        metavar="PATH|none",
        help="fitted filter (a filter.pkl), or 'none' for only the repeat and copy checks "
        "(default: the run folder's filter, fitted by notebook 04, if it exists)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default: the run folder's stream folder)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help=_from_config("generate.temperature", "sampling temperature"),
    )
    p.add_argument(
        "--threads", type=int, default=None, help=_from_config("stream.threads", "torch threads")
    )
    _add_locations(p)
    _add_common(p)
    p.set_defaults(handler=stream_command)

    p = command("reproduce", "execute every notebook with papermill")
    p.add_argument("--start", default=None, help="first notebook to run, e.g. 04 (resume)")
    p.add_argument("--only", nargs="*", default=None, help="run only these notebooks, e.g. 01 02")
    p.add_argument(
        "--name",
        default="",
        help="name of this run (needed with --set): its results go to build/runs/NAME and "
        "build/figures/NAME",
    )
    _add_common(p)
    p.set_defaults(handler=reproduce_command)
    return parser


def _int_or_str(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


# ------------------------------------------------------------------ helpers
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


def _config(args: argparse.Namespace, options: dict[str, Any] | None = None) -> Config:
    """The profile, then ``--set``, then the options given (``None``: not given)."""
    overrides = parse_overrides(args.set)
    overrides.update({k: v for k, v in (options or {}).items() if v is not None})
    return load_config(args.profile, overrides, seed=args.seed)


def _locate(args: argparse.Namespace) -> tuple[paths.RunLayout, Path]:
    """The run folder and the dataset of ``--run`` / ``--dataset`` (see the module docstring)."""
    if args.run:
        run = paths.RunLayout(Path(args.run).expanduser())
    elif args.dataset:
        run = paths.run_for_dataset(args.dataset)
    else:
        run = paths.run_layout(args.profile)
    dataset = Path(args.dataset).expanduser() if args.dataset else run.dataset
    log.info("run folder %s, dataset %s", run.root, dataset)
    return run, dataset


def _need_dataset(dataset: Path, args: argparse.Namespace) -> None:
    if (dataset / "tracks.npz").exists():
        return
    hint = "pass --dataset DIR"
    if args.run and (Path(args.run).expanduser() / "tracks.npz").exists():
        hint = f"{args.run} is a dataset, not a run folder: pass --dataset {args.run}"
    raise CommandError(
        f"no prepared dataset at {dataset}; prepare one (`vrash prepare --out {dataset}` "
        f"or notebook 01) or {hint}"
    )


def _load_model(run: paths.RunLayout, model: str):
    ckpt = run.model_path(model)
    if not ckpt.exists():
        raise CommandError(
            f"no trained model at {ckpt}; train it (`vrash train --model {model}` or notebook 02) "
            "or pass a checkpoint path as --model"
        )
    from vrashlib.models.module import load_model

    return load_model(ckpt)


def _check_style(model: Any, style: str) -> None:
    if style not in model.styles:
        raise CommandError(
            f"style {style!r} is unknown to this {model.kind} model; it knows {list(model.styles)}"
        )


# ----------------------------------------------------------------- commands
def prepare_command(args: argparse.Namespace) -> int:
    """``vrash prepare``: 0 on success (even with failed files), 1 if nothing is usable.

    Without ``--midi``/``--music`` the configuration's sources are read (by default
    the music21 corpus, as with ``--corpus``).
    """
    midi, music = list(args.midi), list(args.music)
    if (midi or music) and not args.style:
        raise CommandError("--midi/--music need --style NAME (the style label of those tracks)")
    for d in midi + music:
        if not Path(d).expanduser().is_dir():
            raise CommandError(f"input folder {d} does not exist or is not a folder")
    options = {"data.workers": args.workers, "data.max_tunes_per_collection": args.max_tunes}
    if args.corpus:
        options["data.use_corpus"] = True
    if args.style and not (midi or music):  # the label of the configuration's folders
        options["data.folder_style"] = args.style
    cfg = _config(args, options).data
    out = Path(args.out).expanduser() if args.out else paths.run_layout(args.profile).dataset

    from vrashlib.data.prepare import NoUsableTracksError, prepare, prepare_from_config, summary

    try:
        if midi or music:
            data = prepare(
                cfg,
                out,
                midi_dirs=[(Path(d).expanduser(), args.style) for d in midi],
                music_dirs=[(Path(d).expanduser(), args.style) for d in music],
                use_corpus=bool(args.corpus),
            )
        else:
            data = prepare_from_config(cfg, out)
    except NoUsableTracksError as err:
        raise CommandError(str(err), 1) from err
    print(summary(data, out))
    return 0


def train_command(args: argparse.Namespace) -> int:
    """``vrash train --model vrash``: train (or resume) one model on the dataset."""
    options = {
        f"train.{name}": getattr(args, name)
        for name in (
            "max_steps", "max_minutes", "accelerator", "devices", "strategy", "num_nodes",
            "threads",
        )
    }  # fmt: skip
    cfg = _config(args, options)
    run, dataset = _locate(args)
    _need_dataset(dataset, args)

    from vrashlib.data.prepare import load_prepared
    from vrashlib.models.training import train_model

    tracks = load_prepared(dataset).tracks
    result = train_model(args.model, tracks, cfg, run.model_dir(args.model))
    history = result.history
    val = history[history["split"] == "val"] if len(history) else history
    best = f"{val['bound_total'].min():.3f} bits/event" if len(val) else "n/a"
    state = "up to date" if result.cached else f"trained in {result.seconds:.1f} s"
    print(
        f"{args.model}: {state}, {result.params} parameters, best val {best}; "
        f"checkpoint: {result.checkpoint}"
    )
    return 0


def generate_command(args: argparse.Namespace) -> int:
    """``vrash generate --model vrash --style bach -n 10 --out DIR``: MIDI files."""
    cfg = _config(
        args, {"generate.temperature": args.temperature, "generate.max_len": args.max_len}
    )
    gen = cfg.generate
    run, _ = _locate(args)
    model = _load_model(run, args.model)
    _check_style(model, args.style)

    from vrashlib.sampling.audio import write_midi_files
    from vrashlib.sampling.generate import sample

    tracks = sample(
        model, args.n, args.style, max_len=gen.max_len, temperature=gen.temperature,
        seed=gen.seed, batch_size=gen.batch_size, threads=gen.threads,
    )  # fmt: skip
    out = Path(args.out).expanduser()
    write_midi_files(tracks, out)
    print(f"{len(tracks)} melodies ({model.kind}, {args.style}) written to {out}")
    return 0


def stream_command(args: argparse.Namespace) -> int:
    """``vrash stream``: model, filter and training tunes from the run folder; stream."""
    options = {
        "stream.model": args.model,
        "stream.style": args.style,
        "stream.music_minutes": args.minutes,
        "stream.threads": args.threads,
        "generate.temperature": args.temperature,
    }
    styles = _config(args).generate.styles
    if args.style is not None and args.style not in styles:
        # The configuration wants the stream's style among the generated ones (notebook
        # 04 fits the stream's filter on them); the command checks the filter itself.
        options["generate.styles"] = [*styles, args.style]
    cfg = _config(args, options)
    sc = cfg.stream
    run, dataset = _locate(args)
    _need_dataset(dataset, args)
    model = _load_model(run, sc.model)
    _check_style(model, sc.style)
    filt = _stream_filter(args.filter, run, model, sc.style)

    from vrashlib.data.prepare import load_prepared
    from vrashlib.stream.live import run_stream, stream_summary

    out = Path(args.out).expanduser() if args.out else run.stream
    training = load_prepared(dataset).tracks.select(split="train")
    played = run_stream(model, filt, out, cfg=cfg, training_tracks=training)
    summary = stream_summary(played, threads=sc.threads).iloc[0]
    if summary.melodies == 0:
        raise CommandError(
            f"no melody accepted ({summary.generated} examined, {summary.rejected_filter} "
            "rejected by the filter); nothing written to play",
            1,
        )
    print(
        f"{summary.melodies:.0f} melodies, {summary.music_seconds:.0f} s of music in "
        f"{summary.wall_seconds:.1f} s wall ({summary.realtime_factor:.0f}x real time, "
        f"{summary.acceptance_rate:.0%} accepted) -> {out.resolve()}"
    )
    return 0


def _stream_filter(choice: str | None, run: paths.RunLayout, model: Any, style: str):
    """The stream's filter: ``--filter PATH``, ``none``, or the run's filter if fitted."""
    if choice is not None and choice.lower() == NO_FILTER:
        log.info("--filter none: streaming with only the repeat and copy checks")
        return None
    if choice is None and not run.filter.exists():
        log.info(
            "no fitted filter at %s (notebook 04 fits one): streaming with only the repeat "
            "and copy checks",
            run.filter,
        )
        return None
    path = run.filter if choice is None else Path(choice).expanduser()
    if not path.is_file():
        raise CommandError(f"--filter {choice}: no such file; pass a filter.pkl or 'none'")

    from vrashlib.filter.classifiers import Filter, check_filter_for

    filt = Filter.load(path)
    try:
        check_filter_for(filt, model.kind, style)
    except ValueError as err:
        raise CommandError(f"{path}: {err}, or stream without one: --filter none") from err
    log.info("filter: %s", path)
    return filt


def reproduce_command(args: argparse.Namespace) -> int:
    """``vrash reproduce``: every notebook in order (papermill)."""
    import os

    overrides = parse_overrides(args.set)
    cfg = _config(args)  # unknown keys and bad values fail here, not in notebook 01
    if overrides and not args.name:
        raise CommandError(
            "--set changes the results; give the run a --name so that it "
            "does not overwrite the profile's figures"
        )
    if args.name:
        os.environ["VRASH_RUN"] = args.name  # read by vrashlib.paths in each notebook kernel
    from vrashlib.reproduce import reproduce

    try:
        written = reproduce(
            args.profile, seed=cfg.seed, start=args.start, only=args.only, overrides=overrides
        )
    except RuntimeError as err:
        raise CommandError(str(err), 1) from err
    print(f"{len(written)} figure/table files written")
    return 0


# --------------------------------------------------------------------- main
@contextlib.contextmanager
def logging_to_stderr(level: int | None = None) -> Iterator[None]:
    """Messages of the ``vrashlib`` loggers to stderr at ``level`` (default INFO) in the block.

    Undone afterwards, so that ``main`` called in a process (tests, a notebook) leaves
    its logging as it was.
    """
    logger = logging.getLogger("vrashlib")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if level is None else level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def main(argv: list[str] | None = None) -> int:
    """``vrash ...``: the exit status (0 done, 1 failed, 2 usage mistake)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error argparse reported
        return stop.code if isinstance(stop.code, int) else 2
    with logging_to_stderr(args.log_level):
        try:
            return int(args.handler(args) or 0)
        except (CommandError, KeyError, ValueError, FileNotFoundError, NotADirectoryError) as err:
            log.debug("where it failed:", exc_info=True)
            print(f"vrash {args.command}: {_message(err)}", file=sys.stderr)
            return err.code if isinstance(err, CommandError) else 2


def _message(err: Exception) -> str:
    if isinstance(err, KeyError) and err.args:  # str() of a KeyError quotes its message
        return str(err.args[0])
    return str(err)


if __name__ == "__main__":
    sys.exit(main())
