from fractions import Fraction

import numpy as np
import pytest

from vrashlib.data import encoding as enc


def test_duration_vocabulary_has_the_common_ratios():
    for r in ("1/16", "1/3", "1/2", "2/3", "3/4", "1", "3/2", "2", "3", "4", "16"):
        assert Fraction(r) in enc.DURATION_RATIOS
    assert list(enc.DURATION_RATIOS) == sorted(set(enc.DURATION_RATIOS))
    assert enc.DURATION_RATIOS[enc.DUR_ONE] == 1


def test_duration_index_snaps_and_flags_off_grid():
    idx, ok = enc.duration_index(np.array([1.0, 0.5, 1.5, 1 / 3, 1.01, 0.2]))
    got = [enc.DURATION_RATIOS[i] for i in idx]
    assert got[:5] == [1, Fraction(1, 2), Fraction(3, 2), Fraction(1, 3), 1]
    assert ok[:5].all()
    # 0.2 lies between 3/16 and 1/4 but more than 4 % from 3/16 = 0.1875
    assert not ok[5]


def test_midi_round_trip_and_rests():
    ev = np.array(
        [
            enc.event_from_midi(60, enc.DUR_ONE),
            enc.event_from_midi(None, 0),
            enc.event_from_midi(71, 3),
        ]
    )
    assert ev[0].tolist() == [0, 4, enc.DUR_ONE]
    assert enc.midi_pitch(ev).tolist() == [60, -1, 71]
    with pytest.raises(ValueError, match="outside octaves"):
        enc.event_from_midi(127, 0)


def test_end_marker_helpers():
    ev = np.array([[0, 4, enc.DUR_ONE], [2, 4, enc.DUR_ONE]], dtype=np.int16)
    full = enc.with_end(ev)
    assert full[-1].tolist() == enc.END_EVENT.tolist()
    enc.validate_events(full, allow_end=True)
    with pytest.raises(ValueError, match="end marker"):
        enc.validate_events(full)
    np.testing.assert_array_equal(enc.strip_end(np.concatenate([full, ev])), ev)
    assert enc.durations_in_units(full).tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[12, 4, 0]], "rest/end with an octave"),
        ([[0, 9, 0]], "octave out of range"),
        ([[0, 4, enc.DUR_NONE]], "duration index"),
        ([[15, 4, 0]], "pitch class"),
    ],
)
def test_validate_rejects_inconsistent_events(bad, message):
    with pytest.raises(ValueError, match=message):
        enc.validate_events(np.array(bad))


def test_describe_is_readable():
    ev = np.array(
        [[0, 4, enc.DUR_ONE], [enc.REST, enc.OCT_NONE, enc.DURATION_RATIOS.index(Fraction(1, 2))]]
    )
    assert enc.describe(ev) == "C4:1 r:1/2"
