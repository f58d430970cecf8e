"""The ``vrash`` command line: prepare, train, generate, stream, reproduce.

The only command layer. Each subcommand parses its arguments here, builds its
configuration through :func:`vrashlib.config.load_config` (the profile, then
``--set KEY=VALUE``, then the explicit options, so every value is checked the
same way) and calls the library, imported inside the handlers so that
``vrash --help`` is instant. An option left out takes its value from the
configuration. Results go to stdout, progress to the ``vrashlib`` logger
(stderr; ``-v`` / ``-q``), and errors to stderr as ``vrash <command>: message``
with exit status 2 for a usage mistake (bad value, unknown setting, missing
input; refused before any work starts) and 1 for a failure (a notebook that fails,
a file that cannot be written), 130 when interrupted; never a traceback (``-v``
shows where it failed).

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
import io
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


def _add_sampling(p: argparse.ArgumentParser) -> None:
    """--temperature and --max-len: how melodies are sampled (generate, interpolate)."""
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
    p.add_argument(
        "--model",
        required=True,
        nargs="+",
        choices=list(KINDS),
        help="model kinds; several train at once (train.parallel), one thread each",
    )
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
        "--threads",
        type=int,
        default=None,
        help=_from_config("train.threads", "torch threads of a model trained on its own"),
    )
    p.add_argument(
        "--parallel",
        type=int,
        default=None,
        help=_from_config("train.parallel", "models trained at once, one thread each"),
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="train from scratch even when an up-to-date model or matching shipped weights "
        "exist (as VRASH_RETRAIN=1); the new model goes to the run folder, not to weights/",
    )
    _add_common(p)
    p.set_defaults(handler=train_command)

    p = command(
        "export-weights",
        "copy the run's trained models into weights/ (the shipped weights `make figures` uses)",
    )
    p.add_argument(
        "--model", nargs="*", choices=list(KINDS), default=None, help="kinds (default: all)"
    )
    _add_locations(p)
    p.add_argument(
        "--to", default=None, metavar="DIR", help="weights folder (default: the repository's)"
    )
    _add_common(p)
    p.set_defaults(handler=export_weights_command)

    p = command("ablation", "train and measure VRASH's remedies for posterior collapse")
    p.add_argument(
        "--variants",
        nargs="*",
        default=None,
        help=_from_config("ablation.variants", "variants to run (vrashlib.ablation.VARIANTS)"),
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="train and measure every variant here instead of using the shipped "
        "measurements (weights/<profile>/seed<N>/ablation.csv); what the run folder "
        "already measured is kept, so an interrupted run goes on",
    )
    _add_locations(p)
    _add_common(p)
    p.set_defaults(handler=ablation_command)

    p = command("generate", "sample melodies and write MIDI and WAV files")
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--style", required=True, help="a style the model was trained on")
    p.add_argument("-n", type=int, default=10, help="number of melodies")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the MIDI and WAV files")
    p.add_argument("--no-wav", action="store_true", help="write MIDI files only")
    _add_sampling(p)
    _add_locations(p)
    _add_common(p)
    p.set_defaults(handler=generate_command)

    p = command("interpolate", "melodies on a line in latent space between two: MIDI and WAV")
    p.add_argument("--model", required=True, help="vae, vrash (from the run folder), a checkpoint")
    p.add_argument("--style", required=True, help="a style the model was trained on")
    p.add_argument(
        "--start", default="1", metavar="SEED|TRACK_ID",
        help="one end: a seed (that seed's generated melody) or the id of a dataset track",
    )  # fmt: skip
    p.add_argument("--end", default="2", metavar="SEED|TRACK_ID", help="the other end")
    p.add_argument("--steps", type=int, default=7, help="melodies on the line, ends included")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the files")
    _add_sampling(p)
    _add_locations(p)
    _add_common(p)
    p.set_defaults(handler=interpolate_command)

    p = command("rate", "the rating room: people rate melodies 1-5 in a web browser (Voila)")
    p.add_argument(
        "--csv", default=None, metavar="PATH",
        help="ratings CSV to append to (default: the run folder's filter/my_ratings.csv)",
    )  # fmt: skip
    p.add_argument("--port", type=int, default=None, help="port (default: 8866, or a free one)")
    p.add_argument(
        "--ip", default="127.0.0.1",
        help="address to listen on; 0.0.0.0 lets raters on your network in",
    )  # fmt: skip
    p.add_argument("--run", default=None, metavar="DIR", help="run folder (default: the profile's)")
    _add_common(p)
    p.set_defaults(handler=rate_command)

    p = command("report", "the executed notebooks as a static web site (after reproduce)")
    p.add_argument(
        "--out", default=None, metavar="DIR", help="site folder (default: build/report/<profile>)"
    )
    _add_common(p)
    p.set_defaults(handler=report_command)

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
        help="fitted filter (a filter.json), or 'none' for only the repeat and copy checks "
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


def _need_positive(cfg: Config, settings: dict[str, str]) -> None:
    """Refuse a setting at or below zero before any work starts (checked on the final
    configuration, so that an option and ``--set`` are refused alike); ``settings`` maps
    each setting to the option that sets it. ``None`` (no limit) passes."""
    for key, option in settings.items():
        section, _, name = key.partition(".")
        value = getattr(getattr(cfg, section), name)
        if value is not None and value <= 0:
            name = option if option == key else f"{option} (setting {key})"
            raise CommandError(f"{name} must be more than 0, got {value}")


def _out_folder(text: str) -> Path:
    """``--out DIR``: a folder, created when missing; an existing file is refused."""
    out = Path(text).expanduser()
    if out.exists() and not out.is_dir():
        raise CommandError(
            f"--out {text} is a file, not a folder; give a folder (created if missing)"
        )
    return out


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
    if args.max_tunes is not None and args.max_tunes < 1:
        raise CommandError(
            f"--max-tunes must be at least 1 (got {args.max_tunes}); leave it out to read every tune"
        )
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"--workers must be at least 1 (got {args.workers})")
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
    """``vrash train --model vrash [vae ...]``: train (or resume) models on the dataset,
    several at once (``train.parallel``, one process and one thread each)."""
    options = {
        f"train.{name}": getattr(args, name)
        for name in (
            "max_steps", "max_minutes", "accelerator", "devices", "strategy", "num_nodes",
            "threads", "parallel",
        )
    }  # fmt: skip
    cfg = _config(args, options)
    _need_positive(
        cfg, {"train.max_steps": "--max-steps", "train.max_minutes": "--max-minutes",
              "train.threads": "--threads", "train.num_nodes": "--num-nodes",
              "train.parallel": "--parallel"},
    )  # fmt: skip
    run, dataset = _locate(args)
    _need_dataset(dataset, args)

    from vrashlib.data.prepare import load_prepared
    from vrashlib.models.parallel import Job, train_models

    tracks = load_prepared(dataset).tracks
    kinds = list(dict.fromkeys(args.model))  # in the order given, once each
    jobs = {kind: Job(kind, cfg, run.model_dir(kind)) for kind in kinds}
    results = train_models(jobs, tracks, parallel=cfg.train.parallel, force=args.force)
    for kind, result in results.items():
        history = result.history
        val = history[history["split"] == "val"] if len(history) else history
        best = f"{val['bound_total'].min():.3f} bits/event" if len(val) else "n/a"
        state = {"cached": "up to date", "shipped": "from the shipped weights"}.get(
            result.source, f"trained in {result.seconds:.1f} s (stopped by {result.stop_reason})"
        )
        print(
            f"{kind}: {state}, {result.params} parameters, best val {best}; "
            f"checkpoint: {result.checkpoint}"
        )
    return 0


def ablation_command(args: argparse.Namespace) -> int:
    """``vrash ablation``: every variant trained with ``ablation.steps``, measured, and
    the table written where the profile's figures go (as notebook 02 does); an ablation
    of another config (``--set``, ``--variants``) or on other data or in another run
    folder (``--dataset``, ``--run``) writes it into its run folder's ablation folder,
    never over the profile's figures."""
    cfg = _config(args, {"ablation.variants": args.variants or None})
    run, dataset = _locate(args)
    _need_dataset(dataset, args)

    from vrashlib.ablation import best_variant, run_ablation
    from vrashlib.data.prepare import load_prepared
    from vrashlib.files import save_table

    table = run_ablation(load_prepared(dataset).tracks, cfg, run, shipped=not args.fresh)
    own = not (args.set or args.variants or args.run or args.dataset)
    out = paths.figures_dir(cfg.profile) if own else run.ablation_dir
    save_table(table, "table_vrash_ablation", out)
    print(f"table: {out / 'table_vrash_ablation'}.csv")
    cols = ["variant", "bound_gap", "kl_bits_per_melody", "active_units", "mi_bits"]
    cols += ["recon_free_posterior", "recon_free_prior", "acceptance", "meets_target"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"best VRASH variant: {best_variant(table)}")
    return 0


def export_weights_command(args: argparse.Namespace) -> int:
    """``vrash export-weights``: the run's trained models -> weights/<profile>/seed<N>/<kind>/."""
    cfg = _config(args)
    run, dataset = _locate(args)
    _need_dataset(dataset, args)

    from vrashlib.data.prepare import load_prepared
    from vrashlib.files import atomic_write_text
    from vrashlib.models.training import export_weights

    kinds = args.model or list(KINDS)
    missing = [str(run.checkpoint(k)) for k in kinds if not run.checkpoint(k).exists()]
    if missing:  # before anything is written: all the models asked for, or none
        raise CommandError(f"no trained model at {', '.join(missing)}; train it (vrash train)")
    data = load_prepared(dataset)
    for kind in kinds:
        dest = export_weights(
            kind, data.tracks, cfg, run.checkpoint(kind),
            dataset_hash=data.manifest["content_hash"], root=args.to,
        )  # fmt: skip
        print(f"{kind}: {dest}")
    if run.ablation_results.exists():  # the ablation's measurements ship beside the models
        from vrashlib.ablation import results_to_ship

        shipped = paths.shipped_ablation(
            cfg.profile, cfg.train.seed, None if args.to is None else Path(args.to)
        )
        shipped.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        results_to_ship(run, shipped).to_csv(buf, index=False)
        atomic_write_text(shipped, buf.getvalue())
        print(f"ablation: {shipped}")
    return 0


def generate_command(args: argparse.Namespace) -> int:
    """``vrash generate --model vrash --style bach -n 10 --out DIR``: MIDI files."""
    cfg = _config(
        args, {"generate.temperature": args.temperature, "generate.max_len": args.max_len}
    )
    gen = cfg.generate
    out = _out_folder(args.out)
    run, _ = _locate(args)
    model = _load_model(run, args.model)
    _check_style(model, args.style)

    from vrashlib.sampling.audio import write_midi_files, write_wav_files
    from vrashlib.sampling.generate import sample

    tracks = sample(
        model, args.n, args.style, max_len=gen.max_len, temperature=gen.temperature,
        seed=gen.seed, batch_size=gen.batch_size, threads=gen.threads,
    )  # fmt: skip
    write_midi_files(tracks, out)
    if not args.no_wav:
        write_wav_files(tracks, out)
    kinds = "MIDI" if args.no_wav else "MIDI and WAV"
    print(f"{len(tracks)} melodies ({model.kind}, {args.style}) written to {out} ({kinds})")
    return 0


def interpolate_command(args: argparse.Namespace) -> int:
    """``vrash interpolate --model vrash --style bach --start 1 --end 2 --out DIR``."""
    cfg = _config(
        args, {"generate.temperature": args.temperature, "generate.max_len": args.max_len}
    )
    gen = cfg.generate
    run, dataset = _locate(args)
    model = _load_model(run, args.model)
    _check_style(model, args.style)
    if not model.net.latent:
        raise CommandError(f"a {model.kind} model has no latent space to walk in; use vae or vrash")
    if args.steps < 2:
        raise CommandError(f"--steps must be at least 2, got {args.steps}")
    ends = [int(e) if e.isdigit() else e for e in (args.start, args.end)]
    real = None
    if any(isinstance(e, str) for e in ends):
        _need_dataset(dataset, args)
        from vrashlib.data.prepare import load_prepared

        real = load_prepared(dataset).tracks
        unknown = [e for e in ends if isinstance(e, str) and e not in set(real.ids)]
        if unknown:
            raise CommandError(
                f"no track {unknown[0]!r} in {dataset} (e.g. {real.ids[0]!r}); give a seed or a track id"
            )

    from vrashlib.sampling.listen import walk, write_walk
    from vrashlib.stream.playlist import write_segments_midi, write_segments_wav

    tracks = walk(
        model, ends[0], ends[1], args.style, steps=args.steps, real=real,
        temperature=gen.temperature, seed=gen.seed, max_len=gen.max_len,
    )  # fmt: skip
    out = Path(args.out).expanduser()
    write_walk(tracks, out)
    segments = [(tracks[k], float(tracks.unit_seconds[k])) for k in range(len(tracks))]
    write_segments_midi(segments, out / "walk.mid")
    write_segments_wav(segments, out / "walk.wav")
    print(
        f"{len(tracks)} melodies ({model.kind}, {args.style}) from {args.start} to {args.end} "
        f"written to {out}: step_NN.mid/.wav, and all of them in walk.mid/.wav"
    )
    return 0


def report_command(args: argparse.Namespace) -> int:
    """``vrash report``: build/notebooks/<profile>/*.ipynb -> a static site."""
    from vrashlib.report import build_report

    try:
        index = build_report(args.profile, Path(args.out).expanduser() if args.out else None)
    except FileNotFoundError as err:
        raise CommandError(str(err), 1) from err
    print(f"report: {index.resolve()}")
    return 0


def rate_command(args: argparse.Namespace) -> int:
    """``vrash rate``: serve the rating room until interrupted (Ctrl-C)."""
    import tempfile

    from vrashlib.viz.rating_room import free_port, rating_pool, serve, write_room_notebook

    cfg = _config(args)
    run = paths.run_layout(args.profile)
    if args.run:
        run = paths.RunLayout(Path(args.run).expanduser())
    try:
        sets = rating_pool(run, cfg.filter.n_real_rated, cfg.filter.seed)  # fails early, clearly
    except FileNotFoundError as err:
        raise CommandError(str(err), 1) from err
    csv = Path(args.csv).expanduser().resolve() if args.csv else run.my_ratings
    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="vrash-rate-") as tmp:
        notebook = write_room_notebook(
            Path(tmp) / "rate.ipynb", profile=args.profile, run_dir=str(run.root.resolve()),
            csv=str(csv), seed=cfg.seed,
        )  # fmt: skip
        n = sum(len(ts) for ts in sets.values())
        print(f"rating room: http://{args.ip}:{port}/ ({n} melodies, ratings to {csv})")
        sys.stdout.flush()
        server = serve(notebook, port=port, ip=args.ip)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            server.wait(timeout=30)
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
    _need_positive(
        cfg, {"stream.music_minutes": "--minutes", "stream.threads": "--threads",
              "generate.temperature": "--temperature", "stream.batch_size": "stream.batch_size"},
    )  # fmt: skip
    run, dataset = _locate(args)
    out = _out_folder(args.out) if args.out else run.stream
    _need_dataset(dataset, args)
    model = _load_model(run, sc.model)
    _check_style(model, sc.style)
    filt = _stream_filter(args.filter, run, model, sc.style)

    from vrashlib.data.prepare import load_prepared
    from vrashlib.stream.live import run_stream, stream_summary

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
        raise CommandError(f"--filter {choice}: no such file; pass a filter.json or 'none'")

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
        except OSError as err:  # a file that cannot be written or read: permissions, disk full
            log.debug("where it failed:", exc_info=True)
            print(f"vrash {args.command}: {_message(err)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(
                f"vrash {args.command}: interrupted (training resumes from its last checkpoint; "
                "`vrash reproduce --start NN` from a notebook)",
                file=sys.stderr,
            )
            return 130


def _message(err: Exception) -> str:
    if isinstance(err, KeyError) and err.args:  # str() of a KeyError quotes its message
        return str(err.args[0])
    if isinstance(err, OSError) and err.filename and err.strerror:  # not "[Errno 13] ..."
        return f"{err.filename}: {err.strerror}"
    return str(err)


if __name__ == "__main__":
    sys.exit(main())
