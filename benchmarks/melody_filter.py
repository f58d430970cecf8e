"""The held-out check behind the melody-likeness filter (``data.max_accompaniment_share``).

    .venv/bin/python benchmarks/melody_filter.py [--stats DATASET/track_stats.csv]

The filter drops a track when more than a share of its notes lie in repeated
broken-chord figures (:func:`vrashlib.data.normalise.accompaniment_share`). It
should drop accompaniment and keep melodies. Neither set below is in the
training data, and the thresholds were not tuned on them:

- melodies (should be kept): a seeded sample of the tunes of the corpus' melodic
  collections (Essen, O'Neill's, Ryan's, Aird's), music21's ``miscFolk`` and
  ``nottingham-dataset`` tunes (collections the dataset does not read), and the
  top staff or voice of the piano and song scores below;
- accompaniment (should be dropped), real: the lowest staff of the piano and
  song scores of music21's corpus outside the dataset (Mozart K. 545's Alberti
  bass, Joplin's stride bass, Clara Schumann's polonaises, Schubert's and
  Schumann's songs, ...);
- accompaniment, constructed: the harmony of Bach chorales (the four voices
  sounding at each beat) realised as an Alberti bass, a rising arpeggio and a
  broken chord of three notes, four sixteenths per beat.

It prints the share of each set the filter drops at several thresholds, and,
with ``--stats``, the share of every style of a prepared dataset it would drop
(the corpus' collections are melodies and single voices). Rule, fixed before
looking: turn the filter on by default only if one threshold drops at least 80 %
of the real accompaniment while dropping at most 1 % of the melodies and of every
corpus style.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from vrashlib import paths
from vrashlib.config import DataConfig
from vrashlib.data.normalise import accompaniment_share, skyline
from vrashlib.data.sources import part_notes

THRESHOLDS = (0.3, 0.5, 0.7)
CFG = DataConfig()
# Piano / song scores outside the dataset's collections: (path, lowest part is accompaniment).
SCORES = (
    "mozart/k545/movement1_exposition.mxl",
    "joplin/maple_leaf_rag.mxl",
    "beach/prayer_of_a_tired_child.musicxml",
    "chopin/mazurka06-2.krn",
    "schubert/Lindenbaum.xml",
    "schumann_robert/dichterliebe_no2.xml",
    "schumann_clara/polonaise_op1n1.mxl",
    "schumann_clara/polonaise_op1n2.mxl",
    "schumann_clara/polonaise_op1n3.mxl",
    "schumann_clara/polonaise_op1n4.mxl",
    "liliuokalani/aloha_oe.mxl",
    "handel/rinaldo/Lascia_chio_pianga.mxl",
    "leadSheet/berlinAlexandersRagtime.mxl",
)
# Figures over a chord's tones low to high (0 bass, 1 and 2 the next two pitch
# classes above it, 3 the bass an octave up): root-fifth-third-fifth, and so on.
FIGURES = {"alberti": (0, 2, 1, 2), "arpeggio": (0, 1, 2, 3), "broken": (0, 1, 2)}
MELODIC = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs")
N_TUNES, N_CHORALES = 250, 40


def share(onsets, lengths, pitches) -> float:
    pitch, _ = skyline(onsets, lengths, pitches, min_rest=CFG.min_rest_quarters)
    return accompaniment_share(pitch)


def score_parts():
    """``(name, melody share, accompaniment share)`` of the top and lowest part of each score."""
    from music21 import converter

    rows = []
    for rel in SCORES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = converter.parse(paths.music21_corpus_dir() / rel)
        parts = [p for p in score.parts if len(p.flatten().notes)]
        top, low = part_notes(parts[0]), part_notes(parts[-1])
        rows.append((rel, share(*top), share(*low)))
    return rows


def folk_tunes() -> dict[str, list[float]]:
    """Shares of the tracks kept from a seeded sample of melodic tunes, per collection."""
    from vrashlib.data.ingest import enumerate_inputs, process_unit
    from vrashlib.data.prepare import _params
    from vrashlib.data.sources import music_units

    out: dict[str, list[float]] = {}
    cfg = DataConfig(collections=MELODIC, max_tunes_per_collection=N_TUNES)
    units, _ = enumerate_inputs(cfg)
    corpus = paths.music21_corpus_dir()
    for extra in ("miscFolk", "nottingham-dataset"):
        units += music_units(corpus / extra, extra, extra)[:N_TUNES]
    params = _params(cfg)
    for u in units:
        _, outcomes = process_unit(u, params)
        out.setdefault(u.source, []).extend(o.accompaniment for o in outcomes if not o.dropped_by)
    return out


def chorale_figures() -> dict[str, list[float]]:
    """Shares of Bach chorales' harmony realised as accompaniment figures."""
    from music21 import corpus

    out: dict[str, list[float]] = {name: [] for name in FIGURES}
    paths_ = sorted(corpus.getComposer("bach"))[:N_CHORALES]
    for path in paths_:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = corpus.parse(path)
            chords = score.chordify().flatten().getElementsByClass("Chord").stream()
        beats = []  # the chord at each beat: its distinct pitch classes, bass up, + octave
        for beat in range(int(score.highestTime)):
            c = chords.getElementAtOrBefore(beat)
            voices = sorted(int(p.midi) for p in c.pitches) if c is not None else []
            distinct = [
                v for k, v in enumerate(voices) if v % 12 not in {u % 12 for u in voices[:k]}
            ]
            if len(distinct) >= 3:
                beats.append((beat, [*distinct[:3], distinct[0] + 12]))
        for name, figure in FIGURES.items():
            notes = []
            for beat, voices in beats:  # one figure per beat, in sixteenths
                for i in range(4):
                    notes.append((beat + i / 4, 0.25, voices[figure[i % len(figure)]] - 12))
            if len(notes) >= CFG.min_events:
                a = np.array(notes)
                out[name].append(share(a[:, 0], a[:, 1], a[:, 2].astype(int)))
    return out


def dropped(values, threshold: float) -> str:
    v = np.asarray(values, float)
    return f"{(v > threshold).mean():6.1%}" if len(v) else "   n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", type=Path, help="track_stats.csv of a prepared dataset")
    args = parser.parse_args()
    parts = score_parts()
    sets = {
        **{f"melodies: {k}": v for k, v in folk_tunes().items()},
        "melodies: top staff of the scores": [m for _, m, _ in parts],
        "accompaniment, real: lowest staff": [a for _, _, a in parts],
        **{f"accompaniment, constructed: {k}": v for k, v in chorale_figures().items()},
    }
    head = "".join(f"  >{t:<5}" for t in THRESHOLDS)
    print(f"{'share dropped at threshold':<44}{'n':>5}{head}")
    for name, values in sets.items():
        cells = "".join(f"  {dropped(values, t)}" for t in THRESHOLDS)
        print(f"{name:<44}{len(values):>5}{cells}")
    print("\nper score: accompaniment share of the top staff / the lowest staff")
    for rel, top, low in parts:
        print(f"  {rel:<44} {top:5.2f} / {low:5.2f}")
    if args.stats:
        stats = pd.read_csv(args.stats, keep_default_na=False)
        read = stats[~stats["dropped_by"].isin(["drums", "sound_effect", "too_short"])]
        print(f"\ncorpus tracks ({args.stats}), share the filter would drop:")
        for style, g in read.groupby("style"):
            cells = "".join(f"  {dropped(g['accompaniment'], t)}" for t in THRESHOLDS)
            print(f"{style:<44}{len(g):>5}{cells}")


if __name__ == "__main__":
    main()
