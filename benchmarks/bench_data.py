"""Data pipeline benchmark: MIDI and ABC parsing speed, cold vs cached preparation.

    .venv/bin/python benchmarks/bench_data.py            # smoke dataset (seconds)
    .venv/bin/python benchmarks/bench_data.py --paper    # the whole corpus (minutes)
    .venv/bin/python benchmarks/bench_data.py --kern-all # every kern file vs music21 (~3 min)

Prints MIDI files parsed per second on one core with symusic (the parser
``vrashlib.data.sources`` uses) and with music21, on the real MIDI files that ship
with music21, and their ratio; ABC tunes of the corpus parsed per second with
music21's beaming on (as music21 reads them) and off (as ``parse_unit`` does:
``vrashlib.data.sources.without_beaming``); kern files read by the fast reader
(``vrashlib.data.kern``) and by music21, checked equal track for track and float for
float (a seeded 60 of the corpus's kern files; ``--kern-all``: every one, and it exits
with an error on any difference); then the time to prepare a dataset from scratch
and to load it again from the cache.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from vrashlib import paths
from vrashlib.config import load_config
from vrashlib.data.prepare import prepare, summary
from vrashlib.data.sources import (
    abc_score,
    corpus_units,
    parse_midi,
    parse_unit,
    score_tracks,
)


def files_per_second(fn, files: list[Path], min_seconds: float) -> float:
    """Files handled per second by ``fn`` (repeating the list for at least ``min_seconds``)."""
    done, start = 0, time.perf_counter()
    while True:
        for f in files:
            fn(f)
        done += len(files)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def music21_parse(path: Path):
    from music21 import converter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.parse(path, forceSource=True)


def bench_midi(min_seconds: float) -> None:
    import symusic

    files = paths.music21_midi_examples()
    size = sum(f.stat().st_size for f in files) / len(files)
    print(f"MIDI parsing, one core, {len(files)} music21 test files (mean {size:.0f} bytes)")
    rates = {
        "symusic Score": files_per_second(lambda f: symusic.Score(str(f)), files, min_seconds),
        "vrashlib parse_midi (symusic + arrays)": files_per_second(parse_midi, files, min_seconds),
        "music21 converter.parse": files_per_second(music21_parse, files, min_seconds),
    }
    for name, r in rates.items():
        print(f"  {name:40s} {r:10.1f} files/s")
    ratio = rates["vrashlib parse_midi (symusic + arrays)"] / rates["music21 converter.parse"]
    print(f"  ratio parse_midi / music21: {ratio:.0f}x")


def with_beaming(unit) -> list:
    """``parse_unit`` of an ABC tune as music21 reads it, beaming on."""
    return score_tracks(abc_score(unit.text, beaming=True))


def bench_abc(min_seconds: float, per_collection: int = 15) -> None:
    import random

    tunes = []
    for collection in ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs"):
        units = [
            u for u in corpus_units(paths.music21_corpus_dir(), collection, "x") if u.kind == "abc"
        ]
        tunes += random.Random(0).sample(units, per_collection)

    def tolerant(fn):
        def parse(unit):
            try:
                fn(unit)
            except Exception:  # noqa: BLE001, S110 - a tune that fails costs its time too
                pass

        return parse

    print(f"ABC parsing, one core, {len(tunes)} tunes of the corpus's four ABC collections")
    on = files_per_second(tolerant(with_beaming), tunes, min_seconds)
    off = files_per_second(tolerant(parse_unit), tunes, min_seconds)
    print(f"  {'music21, beaming on':40s} {on:10.1f} tunes/s")
    print(f"  {'parse_unit (beaming off)':40s} {off:10.1f} tunes/s")
    print(f"  ratio off / on: {off / on:.2f}x")


def _kern_check(path: str) -> tuple[str, str, float, float]:
    """``(path, verdict, fast seconds, music21 seconds)``: "same", "music21" (outside
    the fast reader's subset) or what differs."""
    from vrashlib.data.sources import _plain_kern

    start = time.perf_counter()
    fast = _plain_kern(Path(path), Path(path).read_bytes())
    t_fast = time.perf_counter() - start
    if fast is None:
        return path, "music21", t_fast, 0.0
    start = time.perf_counter()
    slow = score_tracks(music21_parse(Path(path)))
    t_slow = time.perf_counter() - start
    a = [(t.name, t.qpm, t.onsets.tolist(), t.lengths.tolist(), t.pitches.tolist()) for t in fast]
    b = [(t.name, t.qpm, t.onsets.tolist(), t.lengths.tolist(), t.pitches.tolist()) for t in slow]
    return path, "same" if a == b else "DIFFERENT", t_fast, t_slow


def bench_kern(every: bool, sample: int = 60) -> bool:
    """The fast kern reader against music21 on the corpus's kern files (two processes);
    False when any file reads differently."""
    import random
    from concurrent.futures import ProcessPoolExecutor

    from music21 import corpus

    files = sorted(str(p) for p in corpus.getPaths() if str(p).lower().endswith(".krn"))
    if not every:
        files = sorted(random.Random(0).sample(files, min(sample, len(files))))
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(_kern_check, files, chunksize=4))
    same = [r for r in results if r[1] == "same"]
    wrong = [r for r in results if r[1] == "DIFFERENT"]
    fast, slow = sum(r[2] for r in same), sum(r[3] for r in same)
    print(f"kern files, {'all' if every else f'a seeded {len(files)}'} of the corpus's:")
    print(f"  read by the fast reader, the same as music21: {len(same)}")
    print(
        f"  outside its subset (read by music21):         {len(results) - len(same) - len(wrong)}"
    )
    print(f"  read differently:                             {len(wrong)}")
    for r in wrong:
        print(f"    {r[0]}")
    print(f"  one core, over the files both read: fast {fast:.1f} s, music21 {slow:.1f} s, "
          f"ratio {slow / max(fast, 1e-9):.0f}x")  # fmt: skip
    return not wrong


def bench_prepare(profile: str, out: Path | None) -> None:
    cfg = load_config(profile).data
    tmp = None
    if out is None:
        tmp = Path(tempfile.mkdtemp(prefix="vrash_bench_"))
        out = tmp / "dataset"
    elif out.exists():
        shutil.rmtree(out)  # a cold run: no cache
    try:
        start = time.perf_counter()
        data = prepare(cfg, out, progress=True)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        again = prepare(cfg, out, progress=False)
        warm = time.perf_counter() - start
        assert again.from_cache and again.manifest["content_hash"] == data.manifest["content_hash"]
        print(summary(data))
        units = data.manifest["n_units"]
        print(
            f"prepare ({profile}, {cfg.workers} workers): cold {cold:.1f} s "
            f"({units / cold:.1f} tunes/s), cached {warm:.2f} s, ratio {cold / warm:.0f}x"
        )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paper", action="store_true", help="prepare the whole corpus (minutes)")
    parser.add_argument(
        "--out", type=Path, default=None, help="dataset folder (default: a temp dir)"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum time per parser")
    parser.add_argument(
        "--kern-all", action="store_true", help="check every kern file of the corpus, then stop"
    )
    args = parser.parse_args()
    if args.kern_all:
        raise SystemExit(0 if bench_kern(every=True) else "kern files read differently")
    bench_midi(args.seconds)
    bench_abc(args.seconds)
    if not bench_kern(every=False):
        raise SystemExit("kern files read differently")
    bench_prepare("paper" if args.paper else "smoke", args.out)


if __name__ == "__main__":
    main()
