"""The sampler draws from the softmax it is given, and Section 4's statistics by hand.

- ``draw`` (numpy's two paths, torch's, the compiled one): many draws from a
  fixed softmax match it (chi-square test, fixed seeds, so never flaky).
- ``sample_batch`` on a stand-in decoder whose logits are fixed: the first
  event's pitch class, octave and duration follow the softmax of their heads,
  with the end marker, "no octave" and "no duration" masked, and temperature
  divides the logits.
- ``repeat_rate``, ``melody_stats``, ``stats_table``, ``distributions`` on
  hand-made tracks, against values counted by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from vrashlib.data.encoding import (
    DUR_NONE,
    DUR_ONE,
    DUR_VOCAB,
    END,
    N_PITCH_CLASSES,
    OCT_NONE,
    OCT_VOCAB,
    PC_VOCAB,
    REST,
)
from vrashlib.data.tracks import TrackSet
from vrashlib.sampling.generate import distributions, melody_stats, repeat_rate, stats_table
from vrashlib.sampling.sampler import NumpyDecoder, TorchDecoder, sample_batch

N_DRAWS = 20_000
LOGITS = np.array([1.0, -0.5, 2.0, 0.0, 0.3, -2.0, 1.5], np.float32)


def softmax(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    e = np.exp(v - v.max())
    return e / e.sum()


def assert_follows(samples: np.ndarray, p: np.ndarray, alpha: float = 1e-3) -> None:
    """Chi-square goodness of fit; also never an outcome of probability 0."""
    counts = np.bincount(samples, minlength=len(p))
    assert len(counts) == len(p), "an index outside the distribution"
    assert counts[p == 0].sum() == 0, "drew an outcome of probability 0"
    p = np.asarray(p, np.float64)
    keep = p > 0
    n = len(samples)
    test = chisquare(counts[keep], n * p[keep] / p[keep].sum())
    assert test.pvalue > alpha, (counts, np.round(n * p).astype(int), test)


def test_softmax_by_hand():
    p = softmax(np.array([0.0, math.log(3.0)]))
    assert p.tolist() == pytest.approx([0.25, 0.75])


def test_numpy_draw_batched_rows_follow_the_softmax():
    u = np.random.default_rng(0).random((N_DRAWS, 1), dtype=np.float32)
    logits = np.broadcast_to(LOGITS, (N_DRAWS, len(LOGITS)))
    assert_follows(NumpyDecoder.draw(logits, u), softmax(LOGITS))


def test_numpy_draw_one_row_follows_the_softmax():
    rng = np.random.default_rng(1)
    row = LOGITS[None, :]
    draws = np.array(
        [NumpyDecoder.draw(row, rng.random((1, 1), dtype=np.float32))[0] for _ in range(N_DRAWS)]
    )
    assert_follows(draws, softmax(LOGITS))


def test_torch_draw_follows_the_softmax():
    u = torch.from_numpy(np.random.default_rng(2).random((N_DRAWS, 1), dtype=np.float32))
    logits = torch.from_numpy(LOGITS).expand(N_DRAWS, -1).contiguous()
    assert_follows(TorchDecoder.draw(logits, u).numpy(), softmax(LOGITS))


def test_compiled_draw_follows_the_softmax():
    kernels = pytest.importorskip("vrashlib.sampling.kernels")
    rng = np.random.default_rng(3)
    draws = np.array(
        [kernels._draw(LOGITS, np.float32(rng.random())) for _ in range(N_DRAWS)], np.int64
    )
    assert_follows(draws, softmax(LOGITS))


@pytest.mark.parametrize("which", ["numpy", "numpy1", "torch"])
def test_draw_inverse_cdf_at_the_edges(which):
    # logits ln(1), ln(2), ln(1): cdf 0.25, 0.75, 1.0
    logits = np.log(np.array([[1.0, 2.0, 1.0]], np.float32))
    cases = {0.0: 0, 0.2: 0, 0.26: 1, 0.74: 1, 0.76: 2, 0.999: 2}
    for u, want in cases.items():
        if which == "torch":
            got = int(TorchDecoder.draw(torch.from_numpy(logits), torch.tensor([[u]]))[0])
        elif which == "numpy1":
            got = int(NumpyDecoder.draw(logits, np.array([[u]], np.float32))[0])
        else:  # the batched path, two identical rows
            got = int(NumpyDecoder.draw(np.repeat(logits, 2, 0), np.array([[u], [u]]))[1])
        assert got == want, (which, u)


# ------------------------------------------------- the loop on fixed logits
class FixedLogits:
    """A decoder stand-in: every step returns the same logits (no event head)."""

    xp = np
    draw = staticmethod(NumpyDecoder.draw)
    numpy = staticmethod(NumpyDecoder.numpy)

    def __init__(self, logits: np.ndarray, batch: int) -> None:
        self.logits = logits.astype(np.float32)
        self.const = np.zeros((batch, 1), np.float32)
        self.p = {"event_head": 0}

    def start(self):
        return tuple(np.zeros(len(self.const), np.int64) for _ in range(3))

    def advance(self, pc, octv, dur):
        return np.tile(self.logits, (len(self.const), 1))  # a fresh array: the loop masks in place

    def keep(self, rows):
        self.const = self.const[rows]


def _logits(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, 1.0, PC_VOCAB + OCT_VOCAB + DUR_VOCAB)
    out[PC_VOCAB + OCT_NONE] += 3.0  # masked outcomes with large logits: masking shows
    out[END] += 2.0
    out[PC_VOCAB + OCT_VOCAB + DUR_NONE] += 3.0
    return out


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_sample_batch_first_events_follow_the_heads(temperature):
    logits = _logits(0)
    first = np.concatenate(
        sample_batch(FixedLogits(logits, N_DRAWS), 1, temperature, np.random.default_rng(4))
    )
    assert first.shape == (N_DRAWS, 3)
    lt = logits / temperature
    p_pc = softmax(lt[:PC_VOCAB])
    p_pc[END] = 0.0  # no empty melody: the end marker is masked at the first step
    assert_follows(first[:, 0], p_pc / p_pc.sum())
    notes = first[first[:, 0] < N_PITCH_CLASSES]
    p_oct = softmax(lt[PC_VOCAB : PC_VOCAB + OCT_VOCAB])
    p_oct[OCT_NONE] = 0.0
    assert_follows(notes[:, 1].astype(np.int64), p_oct / p_oct.sum())
    assert (first[first[:, 0] == REST, 1] == OCT_NONE).all()  # a rest has no octave
    p_dur = softmax(lt[PC_VOCAB + OCT_VOCAB :])
    p_dur[DUR_NONE] = 0.0
    assert_follows(first[:, 2].astype(np.int64), p_dur / p_dur.sum())


def test_sample_batch_ends_with_the_end_markers_probability():
    # Only two pitch classes possible: C (prob 3/4) and the end marker (1/4) after step 0.
    logits = np.full(PC_VOCAB + OCT_VOCAB + DUR_VOCAB, -1e4)
    logits[0], logits[END] = math.log(3.0), 0.0
    logits[PC_VOCAB + 4] = 0.0
    logits[PC_VOCAB + OCT_VOCAB + DUR_ONE] = 0.0
    mel = sample_batch(FixedLogits(logits, N_DRAWS), 50, 1.0, np.random.default_rng(5))
    lengths = np.array([len(m) for m in mel])
    # length L >= 1 with probability (3/4)^(L-1) (1/4): geometric, mean 4
    assert lengths.min() >= 1 and lengths.max() <= 50
    assert lengths.mean() == pytest.approx(4.0, rel=0.03)
    assert all((m == [0, 4, DUR_ONE]).all() for m in mel[:100])
    assert (lengths == 1).mean() == pytest.approx(0.25, abs=0.015)


# ------------------------------------------------------- Section 4 statistics
def _tracks(*tracks, style=None, styles=("a",)):
    tracks = [np.array(t, np.int16).reshape(-1, 3) for t in tracks]
    style = np.zeros(len(tracks), int) if style is None else style
    return TrackSet.from_tracks(tracks, styles, style)


C4, D4, C5 = (0, 4, DUR_ONE), (2, 4, DUR_ONE), (0, 5, DUR_ONE)
RST = (REST, OCT_NONE, DUR_ONE)


def test_repeat_rate_by_hand():
    # C4 C4 rest C4 D4 D4 C5: note pairs (rests skipped) C4C4 C4C4 C4D4 D4D4 D4C5 -> 3/5
    assert repeat_rate(_tracks([C4, C4, RST, C4, D4, D4, C5])) == pytest.approx(3 / 5)
    # C4 then C5: same pitch class, another pitch: no repeat
    assert repeat_rate(_tracks([C4, C5])) == 0.0
    # pairs never straddle two tracks: (C4) | (C4) has no pair at all
    assert math.isnan(repeat_rate(_tracks([C4], [C4])))
    # pooled over tracks: 1 of 1 and 0 of 2 -> 1/3
    assert repeat_rate(_tracks([C4, C4], [C4, D4, C5])) == pytest.approx(1 / 3)
    # pitch = pitch class + 12 octaves: C2 and Eb4 are no repeat, whatever the arithmetic
    assert repeat_rate(_tracks([(0, 2, DUR_ONE), (3, 4, DUR_ONE), (3, 4, DUR_ONE)])) == 0.5
    # a rest-only track and an empty one count nothing
    assert repeat_rate(_tracks([RST, RST], [], [D4, D4])) == 1.0


def test_melody_stats_by_hand():
    half = DUR_ONE - 1
    ts = _tracks(
        [C4, C4, RST, (7, 4, half)],  # 4 events, one rest
        [D4, D4],  # 2 events
        [C5, RST, RST, C4, (2, 4, half), (2, 5, half)],  # 6 events, two rests
    )
    s = melody_stats(ts, max_len=6)
    assert s["n_tracks"] == 3
    # note pairs: C4C4 C4G4 | D4D4 | C5C4 C4D4 D4D5 -> 2 of 6
    assert s["repeat_rate"] == pytest.approx(2 / 6)
    assert s["median_length"] == 4.0 and s["mean_length"] == 4.0
    assert s["rest_share"] == pytest.approx(3 / 12)
    # pitch classes of the 9 notes: C x4, D x4, G x1
    assert s["pc_entropy_bits"] == pytest.approx(
        -(2 * (4 / 9) * math.log2(4 / 9) + (1 / 9) * math.log2(1 / 9))
    )
    # durations of all 12 events: 1 x9, 1/2 x3
    assert s["dur_entropy_bits"] == pytest.approx(
        -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    )
    assert s["distinct_durations"] == 2
    assert s["cut_at_max_len"] == pytest.approx(1 / 3)  # only the track of 6 events
    assert "cut_at_max_len" not in melody_stats(ts)
    assert melody_stats(ts, max_len=4)["cut_at_max_len"] == pytest.approx(2 / 3)


def test_melody_stats_and_distributions_of_one_event():
    one_rest = _tracks([RST])
    s = melody_stats(one_rest, max_len=10)
    assert s["rest_share"] == 1.0 and s["distinct_durations"] == 1
    assert s["median_length"] == 1.0 and s["cut_at_max_len"] == 0.0
    d = distributions(one_rest)
    assert d["pitch_class"][REST] == 1.0 and d["duration"][DUR_ONE] == 1.0
    # a duration heard once is one of the distinct durations
    s = melody_stats(_tracks([C4, C4, (2, 4, DUR_ONE + 3)]), max_len=10)
    assert s["distinct_durations"] == 2


def test_melody_stats_of_an_empty_set():
    s = melody_stats(_tracks())
    assert s["n_tracks"] == 0 and s["rest_share"] == 0.0 and s["distinct_durations"] == 0
    for k in ("repeat_rate", "median_length", "mean_length", "pc_entropy_bits"):
        assert math.isnan(s[k]), k


def test_stats_table_rows_and_values_by_hand():
    real = _tracks([C4, D4], [C4, C4, C4], style=[0, 1], styles=("a", "b"))
    gen = {
        "lm": _tracks([C4, C4], [D4], style=[0, 1], styles=("a", "b")),
        "vrash": _tracks([D4, D4, D4, D4], [C4, RST], style=[1, 0], styles=("a", "b")),
    }
    table = stats_table(gen, real, ["b", "a"], max_len=4)
    assert table[["model", "style"]].values.tolist() == [
        ["real", "b"], ["lm", "b"], ["vrash", "b"], ["real", "a"], ["lm", "a"], ["vrash", "a"],
    ]  # fmt: skip
    t = table.set_index(["model", "style"])
    assert t.loc[("real", "b"), "repeat_rate"] == 1.0 and t.loc[("real", "a"), "repeat_rate"] == 0.0
    assert t.loc[("lm", "a"), "repeat_rate"] == 1.0 and math.isnan(
        t.loc[("lm", "b"), "repeat_rate"]
    )
    assert t.loc[("vrash", "b"), "mean_length"] == 4.0
    assert t.loc[("vrash", "b"), "cut_at_max_len"] == 1.0
    assert t.loc[("vrash", "a"), "rest_share"] == 0.5
    assert math.isnan(t.loc[("real", "a"), "cut_at_max_len"])  # the reference is never cut
    assert (t["n_tracks"] == 1).all()


def test_distributions_by_hand():
    half = DUR_ONE - 1
    ts = _tracks([C4, C4, RST, (7, 4, half)], [D4, C5])
    d = distributions(ts)
    pc = np.zeros(13)
    pc[0], pc[2], pc[7], pc[12] = 3, 1, 1, 1
    np.testing.assert_allclose(d["pitch_class"], pc / 6)
    dur = np.zeros(DUR_NONE)
    dur[DUR_ONE], dur[half] = 5, 1
    np.testing.assert_allclose(d["duration"], dur / 6)
    assert d["length"].tolist() == [4.0, 2.0]
    empty = distributions(_tracks())
    assert empty["pitch_class"].sum() == 0 and len(empty["pitch_class"]) == 13


def test_midi_notes_of_a_hand_made_melody(tmp_path):
    from fractions import Fraction

    from vrashlib.data.encoding import DURATION_RATIOS, END_EVENT
    from vrashlib.sampling.audio import TPQ, read_midi_notes, write_midi

    two, half = DURATION_RATIOS.index(Fraction(2)), DURATION_RATIOS.index(Fraction(1, 2))
    # C4 for one unit, a rest of one unit, G4 for two, A#3 for half a unit (a unit = a quarter)
    ev = np.array([(0, 4, DUR_ONE), RST, (7, 4, two), (10, 3, half), END_EVENT], np.int16)
    path = write_midi(ev, 0.5, tmp_path / "m.mid")
    assert read_midi_notes(path) == [
        (0, TPQ, 60),
        (2 * TPQ, 2 * TPQ, 67),
        (4 * TPQ, TPQ // 2, 58),
    ]
