"""The pseudo-live stream (Fig. 5): generate, filter, de-duplicate, play back to back.

The paper ran "a pseudo-real-time non-stop stream" of VRASH melodies through its
filters on a Raspberry Pi. :func:`stream_melodies` is that loop as an iterator:
it samples a batch with the chosen model and style, scores it with the fitted
filter, drops what the filter rejects, drops repeats (:class:`vrashlib.stream.dedup.RepeatGuard`)
and yields each accepted melody with its score and running totals (music
seconds produced vs wall-clock seconds spent). :func:`run_stream` writes the
melodies as MIDI files plus one continuous MIDI (and WAV) file; ``vrash stream``
is its command line. Sampling runs each batch on one thread (see
:mod:`vrashlib.sampling.sampler`); feature extraction and scoring run on ``threads``
torch threads (one by default: a Raspberry-Pi-class budget).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from vrashlib.config import Config
from vrashlib.data.encoding import durations_in_units
from vrashlib.data.tracks import TrackSet
from vrashlib.files import atomic_write_text
from vrashlib.stream.dedup import RepeatGuard
from vrashlib.stream.playlist import write_segments_midi, write_segments_wav
from vrashlib.threads import torch_threads

REJECTIONS = ("filter", "repeat", "copy", "empty")  # why an examined melody was not played


# ---------------------------------------------------------------- stream
@dataclass(frozen=True)
class StreamItem:
    """One accepted melody and the stream's running totals when it was accepted."""

    index: int  # position in the stream (0-based)
    events: np.ndarray
    unit_seconds: float  # seconds per duration ratio 1
    score: float  # the filter's score (NaN without a filter)
    seconds: float  # this melody's length in seconds of music
    music_seconds: float  # cumulative music, this melody included (s)
    wall_seconds: float  # wall-clock time since the stream started (s)
    n_generated: int  # melodies examined so far
    n_rejected_filter: int
    n_rejected_repeat: int  # near-identical to a melody already played
    n_rejected_copy: int  # copies a run of a training melody
    n_rejected_empty: int  # no events at all
    batch: int
    track_id: str

    @property
    def acceptance_rate(self) -> float:
        return (self.index + 1) / self.n_generated

    @property
    def realtime_factor(self) -> float:
        """Music seconds produced per wall-clock second (> 1: faster than real time)."""
        return self.music_seconds / max(self.wall_seconds, 1e-9)


Sampler = Callable[..., TrackSet]


def _default_sampler() -> Sampler:
    from vrashlib.sampling.generate import sample

    return sample


def stream_melodies(
    model: Any,
    filt: Any | None,
    style: str,
    *,
    training_tracks: TrackSet | None = None,
    batch_size: int,
    max_len: int,
    temperature: float,
    seed: int,
    ngram: int,
    max_similarity: float,
    copy_run: int,
    max_music_seconds: float | None = None,
    max_wall_seconds: float | None = None,
    threads: int,
    patience: int,
    sampler: Sampler | None = None,
    counts: Counter | None = None,
) -> Iterator[StreamItem]:
    """Yield accepted melodies, back to back, until a limit is reached or the consumer stops.

    The settings have no defaults here: they are ``cfg.stream``'s (``batch_size``,
    ``seed``, ``ngram``, ``max_similarity``, ``copy_run``, ``threads``, ``patience``)
    and ``cfg.generate``'s (``max_len``, ``temperature``), as :func:`run_stream` passes them.

    Each batch is ``sampler(model, batch_size, style, max_len=, temperature=,
    seed=, batch_size=)`` (default :func:`vrashlib.sampling.generate.sample`) with a seed
    derived from ``(seed, batch number)``; ``filt.accept`` / ``filt.score`` judge
    it (``filt=None`` accepts everything), then :class:`RepeatGuard` drops repeats
    and copies. Stops after the melody that reaches ``max_music_seconds``, once
    ``max_wall_seconds`` have passed, or when the generator is closed. After
    ``patience`` batches in a row without an accepted melody it warns
    (``RuntimeWarning``, with the rejection tally) and stops: a filter that rejects
    everything this model writes is a result to report, not a reason to loop
    forever. ``counts`` (a ``Counter``), when given, is updated in place with the
    tallies (generated, filter, repeat, copy, empty), also when nothing is
    accepted. The training n-gram index is built before the clock starts.
    """
    sample = sampler or _default_sampler()
    guard = RepeatGuard(
        training_tracks, ngram=ngram, max_similarity=max_similarity, copy_run=copy_run
    )
    counts = Counter() if counts is None else counts
    music, played, dry = 0.0, 0, 0
    with torch_threads(threads):
        start = time.perf_counter()
        for batch in range(sys.maxsize):
            if max_wall_seconds is not None and time.perf_counter() - start >= max_wall_seconds:
                return
            batch_seed = int(np.random.SeedSequence([seed, batch]).generate_state(1)[0] >> 1)
            tracks = sample(
                model,
                batch_size,
                style,
                max_len=max_len,
                temperature=temperature,
                seed=batch_seed,
                batch_size=batch_size,
            )
            accept, score = _judge(filt, tracks)
            accepted_before = played
            for i in range(len(tracks)):
                counts["generated"] += 1
                events = np.asarray(tracks[i])
                if len(events) == 0:
                    counts["empty"] += 1
                    continue
                if not accept[i]:
                    counts["filter"] += 1
                    continue
                verdict = guard.check(events)
                if verdict != "ok":
                    counts[verdict] += 1
                    continue
                guard.add(events)
                seconds = float(durations_in_units(events).sum() * tracks.unit_seconds[i])
                music += seconds
                yield StreamItem(
                    index=played,
                    events=events.copy(),
                    unit_seconds=float(tracks.unit_seconds[i]),
                    score=float(score[i]),
                    seconds=seconds,
                    music_seconds=music,
                    wall_seconds=time.perf_counter() - start,
                    n_generated=counts["generated"],
                    n_rejected_filter=counts["filter"],
                    n_rejected_repeat=counts["repeat"],
                    n_rejected_copy=counts["copy"],
                    n_rejected_empty=counts["empty"],
                    batch=batch,
                    track_id=str(tracks.ids[i]),
                )
                played += 1
                if max_music_seconds is not None and music >= max_music_seconds:
                    return
                if max_wall_seconds is not None and time.perf_counter() - start >= max_wall_seconds:
                    return
            dry = dry + 1 if played == accepted_before else 0
            if dry >= patience:
                warnings.warn(
                    f"stream stopped: no melody accepted in {patience} batches in a row "
                    f"({counts['generated']} examined: {counts['filter']} rejected by the filter, "
                    f"{counts['repeat']} repeats, {counts['copy']} training copies, "
                    f"{counts['empty']} empty); check the model, the filter and the style {style!r}",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return


def _judge(filt: Any | None, tracks: TrackSet) -> tuple[np.ndarray, np.ndarray]:
    """The filter's accept mask and scores for a batch (empty tracks are never shown to it)."""
    n = len(tracks)
    accept, score = np.zeros(n, bool), np.full(n, np.nan)
    keep = np.flatnonzero(tracks.lengths > 0)
    if filt is None or not len(keep):
        accept[keep] = True
        return accept, score
    sub = tracks.subset(keep)
    a, s = np.asarray(filt.accept(sub), bool), np.asarray(filt.score(sub), float)
    if a.shape != (len(keep),) or s.shape != (len(keep),):
        raise ValueError(
            f"filter returned {a.shape} accept / {s.shape} score for a batch of {len(keep)} melodies"
        )
    accept[keep], score[keep] = a, s
    return accept, score


# ------------------------------------------------------------ run + files
LOG_COLUMNS = tuple(f for f in StreamItem.__dataclass_fields__ if f != "events") + ("n_events",)


def item_row(item: StreamItem) -> dict[str, Any]:
    """One log row (everything but the events) for an accepted melody."""
    row = {k: v for k, v in asdict(item).items() if k != "events"}
    row["n_events"] = len(item.events)
    return row


def progress_text(item: StreamItem) -> str:
    """``music 1:23 in 0.9 s wall (92x real time), accepted 12/40``."""
    m, s = divmod(item.music_seconds, 60)
    return (
        f"music {int(m)}:{s:04.1f} in {item.wall_seconds:.1f} s wall "
        f"({item.realtime_factor:.0f}x real time), accepted {item.index + 1}/{item.n_generated}"
    )


def run_stream(
    model: Any,
    filt: Any | None,
    out: str | Path,
    *,
    cfg: Config,
    style: str | None = None,
    training_tracks: TrackSet | None = None,
    music_seconds: float | None = None,
    temperature: float | None = None,
    threads: int | None = None,
    wav: bool = True,
    progress: bool = True,
    sampler: Sampler | None = None,
) -> pd.DataFrame:
    """Stream ``music_seconds`` of music (default ``cfg.stream.music_minutes``) into ``out``.

    Writes ``melodies/NNNN.mid`` as each melody is accepted, then
    ``melodies.npz`` (the accepted melodies as a :class:`TrackSet`, in order),
    ``stream.mid`` (all melodies back to back), ``stream.wav`` (``wav=True``) and
    ``log.csv`` (one row per melody, see :func:`item_row`); these are also
    written when the stream is interrupted. Returns the log.
    """
    sc, gen = cfg.stream, cfg.generate
    style = style or sc.style
    if filt is not None and isinstance(getattr(filt, "info", None), dict):
        from vrashlib.filter.classifiers import check_filter_for

        check_filter_for(filt, getattr(model, "kind", None), style)
    total = float(music_seconds if music_seconds is not None else sc.music_minutes * 60)
    out = Path(out)
    melodies = out / "melodies"
    melodies.mkdir(parents=True, exist_ok=True)
    for old in melodies.glob("[0-9][0-9][0-9][0-9].mid"):
        old.unlink()  # a previous, longer run's files
    items: list[StreamItem] = []
    counts: Counter = Counter()
    bar = tqdm(
        total=round(total),
        desc=f"{style} stream",
        bar_format="{desc} |{bar}| {percentage:3.0f}%",
        disable=not progress,
    )
    stream = stream_melodies(
        model,
        filt,
        style,
        training_tracks=training_tracks,
        batch_size=sc.batch_size,
        max_len=gen.max_len,
        temperature=gen.temperature if temperature is None else temperature,
        seed=sc.seed,
        ngram=sc.ngram,
        max_similarity=sc.max_similarity,
        copy_run=sc.copy_run,
        max_music_seconds=total,
        threads=sc.threads if threads is None else threads,
        patience=sc.patience,
        sampler=sampler,
        counts=counts,
    )
    try:
        for item in stream:
            write_segments_midi(
                [(item.events, item.unit_seconds)], melodies / f"{item.index:04d}.mid"
            )
            items.append(item)
            bar.set_description_str(f"{style} stream: {progress_text(item)}", refresh=False)
            bar.update(round(min(item.music_seconds, total)) - bar.n)
    finally:
        bar.close()
        segments = [(it.events, it.unit_seconds) for it in items]
        played = TrackSet.from_tracks(
            [it.events for it in items],
            (style,),
            np.zeros(len(items), int),
            unit_seconds=[it.unit_seconds for it in items],
            ids=[it.track_id for it in items],
        )
        played.save(out / "melodies.npz")  # empty when nothing was accepted
        for stale in ("stream.mid", "stream.wav"):
            (out / stale).unlink(missing_ok=True)
        if items:
            write_segments_midi(segments, out / "stream.mid", gap_seconds=sc.gap_seconds)
            if wav:
                write_segments_wav(segments, out / "stream.wav", gap_seconds=sc.gap_seconds)
        log = pd.DataFrame([item_row(it) for it in items], columns=list(LOG_COLUMNS))
        log.attrs["counts"] = {k: int(counts[k]) for k in ("generated", *REJECTIONS)}
        atomic_write_text(out / "log.csv", log.to_csv(index=False))
        atomic_write_text(out / "counts.json", json.dumps(log.attrs["counts"], indent=1))
    return log


def stream_summary(
    log: pd.DataFrame, *, threads: int = 1, counts: dict | None = None
) -> pd.DataFrame:
    """One row: melodies, music and wall seconds, real-time factor, acceptance, rejections.

    An empty log (nothing accepted) needs the rejection tally: ``counts``, or the
    one :func:`run_stream` leaves in ``log.attrs["counts"]``.
    """
    counts = counts if counts is not None else log.attrs.get("counts")
    if log.empty:
        if counts is None:
            raise ValueError("the stream log is empty and no rejection counts were given")
        row = {"threads": threads, "melodies": 0, "music_seconds": 0.0, "wall_seconds": np.nan}
        row |= {"realtime_factor": np.nan, "generated": int(counts["generated"])}
        row["acceptance_rate"] = 0.0
        row |= {f"rejected_{r}": int(counts[r]) for r in REJECTIONS}
        row |= {"mean_score": np.nan, "mean_melody_seconds": np.nan}
        return pd.DataFrame([row])
    last = log.iloc[-1]
    return pd.DataFrame(
        [
            {
                "threads": threads,
                "melodies": len(log),
                "music_seconds": float(last["music_seconds"]),
                "wall_seconds": float(last["wall_seconds"]),
                "realtime_factor": float(last["music_seconds"] / max(last["wall_seconds"], 1e-9)),
                "generated": int(last["n_generated"]),
                "acceptance_rate": len(log) / int(last["n_generated"]),
                "rejected_filter": int(last["n_rejected_filter"]),
                "rejected_repeat": int(last["n_rejected_repeat"]),
                "rejected_copy": int(last["n_rejected_copy"]),
                "rejected_empty": int(last["n_rejected_empty"]),
                "mean_score": float(log["score"].mean()),
                "mean_melody_seconds": float(log["seconds"].mean()),
            }
        ]
    )
