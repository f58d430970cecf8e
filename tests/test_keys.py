"""Keys of melodies, key-invariant MI tokens, out-of-key notes: checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_walk_tracks
from vrashlib.analysis import keys, mi
from vrashlib.data.encoding import DUR_ONE, OCT_NONE, REST
from vrashlib.data.tracks import TrackSet


def _melody(pitches: list[int | None]) -> np.ndarray:
    rows = [
        (REST, OCT_NONE, DUR_ONE) if p is None else (p % 12, p // 12 - 1, DUR_ONE) for p in pitches
    ]
    return np.array(rows, np.int16)


def _set(*melodies) -> TrackSet:
    return TrackSet.from_tracks(list(melodies), ("x",), np.zeros(len(melodies), int))


C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]


def test_track_keys_finds_the_tonic_and_mode():
    a_minor = [57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57]  # with the leading tone G#
    tonic, minor = keys.track_keys(_set(_melody(C_MAJOR), _melody(a_minor)))
    assert tonic.tolist() == [0, 9] and minor.tolist() == [False, True]


def test_degree_and_interval_tokens_do_not_change_under_transposition():
    tune = _melody([*C_MAJOR[:5], None, *C_MAJOR[5:]])
    up = _melody([p + 5 for p in C_MAJOR[:5]] + [None] + [p + 5 for p in C_MAJOR[5:]])
    ts = _set(tune, up)
    for token in mi.KEY_INVARIANT:
        codes = mi.token_codes(ts, token)
        n = len(tune)
        assert codes[:n].tolist() == codes[n:].tolist(), token
    pitch = mi.token_codes(ts, "pitch")
    assert pitch[: len(tune)].tolist() != pitch[len(tune) :].tolist()


def test_interval_token_by_hand():
    ts = _set(_melody([60, 62, None, 61, 90, 60]), _melody([70]))
    # first note, +2, rest, -1 (over the rest), leap up (> 12), leap down; next track: first
    assert mi.token_codes(ts, "interval").tolist() == [28, 14, 27, 11, 26, 25, 28]


def test_degree_token_by_hand():
    ts = _set(_melody([60, 64, None, 67]))  # C major: degrees 0, 4, rest, 7
    assert mi.token_codes(ts, "degree").tolist() == [0, 4, REST, 7]


def test_out_of_key_counts_notes_outside_the_scale():
    out, notes = keys.out_of_key(_set(_melody([*C_MAJOR, 61, 66]), _melody([None])))
    assert out.tolist() == [2.0, 0.0] and notes.tolist() == [13.0, 0.0]


def test_mi_of_key_invariant_tokens_has_no_transposition_plateau():
    """Transposed copies of random walks: pooled absolute pitch carries the key of each
    track at long distances, the degree token far less."""
    walks = random_walk_tracks(80, seed=2, min_len=120, max_len=140)
    rng = np.random.default_rng(0)
    shifted = []
    for w in walks:
        k = int(rng.integers(-6, 6))
        p = (w[:, 1].astype(int) + 1) * 12 + w[:, 0] + k
        note = w[:, 0] < 12
        e = w.copy()
        e[note, 0], e[note, 1] = p[note] % 12, p[note] // 12 - 1
        shifted.append(e)
    ts = _set(*shifted)
    far = mi.mutual_information(ts, [100], token="pitch")[0]
    far_key = mi.mutual_information(ts, [100], token="degree")[0]
    assert far > 0.3 and far_key < far / 2


def test_unknown_token_raises():
    with pytest.raises(ValueError, match="unknown token"):
        mi.token_codes(_set(_melody([60])), "chord")
