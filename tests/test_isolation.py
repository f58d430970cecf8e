"""Train, validation and test stay apart wherever the code builds sets of tracks.

- the split itself (``split_tracks``): counts per style by hand, seeded;
- the datamodule: the training loader serves training tracks only, every one of
  them; validation serves validation tracks only; test tracks are never served;
- the panel's held-out sample: real tracks outside the training split only, and
  the panel's reference is the training split;
- Table 1's classifiers and the out-of-fold acceptance: no track is judged by a
  model fitted on it (see also ``test_oracles_filter.py``);
- Fig. 6's sets: each filtered set is a subset of the VRASH set of its style, the
  styles' sets are disjoint, and the filter is asked about those tracks only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from tests.conftest import pitch_track, random_walk_tracks
from vrashlib.data.datamodule import MelodyDataModule
from vrashlib.data.encoding import with_end
from vrashlib.data.prepare import split_tracks
from vrashlib.data.tracks import SPLITS, TrackSet
from vrashlib.filter import autorater, classifiers

TRAIN, VAL, TEST = SPLITS["train"], SPLITS["val"], SPLITS["test"]


def _corpus(n: int = 60, seed: int = 3) -> TrackSet:
    style = np.arange(n) % 3
    split = split_tracks(style, val_fraction=0.2, test_fraction=0.1, seed=seed)
    return TrackSet.from_tracks(
        random_walk_tracks(n, seed=seed, min_len=5, max_len=30),
        ("a", "b", "c"),
        style,
        split=split,
        ids=[f"t{i:03d}" for i in range(n)],
    )


# ------------------------------------------------------------------ split
def test_split_counts_per_style_by_hand():
    style = np.array([0] * 10 + [1] * 7 + [2] * 3)
    split = split_tracks(style, val_fraction=0.2, test_fraction=0.3, seed=0)
    # (train, val, test): val = round(n * 0.2), test = round(n * 0.3), the rest trains
    by_hand = {0: (5, 2, 3), 1: (4, 1, 2), 2: (1, 1, 1)}  # n = 10, 7 (1.4, 2.1), 3 (0.6, 0.9)
    for s, (n_train, n_val, n_test) in by_hand.items():
        codes = split[style == s]
        assert [(codes == c).sum() for c in (TRAIN, VAL, TEST)] == [n_train, n_val, n_test], s
    assert set(np.unique(split)) <= {TRAIN, VAL, TEST}
    assert split.dtype == np.uint8


def test_split_is_seeded_shuffled_and_per_style():
    style = np.repeat([0, 1], 50)
    a = split_tracks(style, val_fraction=0.1, test_fraction=0.1, seed=0)
    assert np.array_equal(a, split_tracks(style, val_fraction=0.1, test_fraction=0.1, seed=0))
    b = split_tracks(style, val_fraction=0.1, test_fraction=0.1, seed=1)
    assert not np.array_equal(a, b)
    # not the first tracks of a style: the order is shuffled
    assert not (a[:10] != TRAIN).all()
    # each style is drawn on its own: the two styles do not get the same pattern
    assert not np.array_equal(a[:50], a[50:])
    assert (a[:50] == VAL).sum() == 5 and (a[50:] == TEST).sum() == 5
    assert (split_tracks(style, val_fraction=0.0, test_fraction=0.0, seed=0) == TRAIN).all()


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.1), (0.1, -0.1), (0.5, 0.5), (0.7, 0.4)])
def test_split_rejects_impossible_fractions(val, test):
    with pytest.raises(ValueError, match="split fractions"):
        split_tracks(np.zeros(10, int), val_fraction=val, test_fraction=test, seed=0)


# ------------------------------------------------------------- datamodule
def _served_ids(loader, part: TrackSet) -> list[str]:
    ids = []
    for batch in loader.batch_sampler:
        ids += [str(part.ids[i]) for i, _ in batch]
    return ids


def test_datamodule_trains_on_the_training_split_only_and_validates_on_val_only():
    tracks = _corpus()
    dm = MelodyDataModule(tracks, batch_size=4, max_len=16, num_workers=0, seed=0)
    ids = {name: set(tracks.select(split=name).ids.tolist()) for name in SPLITS}
    assert ids["train"] and ids["val"] and ids["test"]
    assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
    for epoch in (0, 1):
        loader = dm.train_dataloader()
        loader.batch_sampler.set_epoch(epoch)
        served = _served_ids(loader, dm.train)
        assert sorted(served) == sorted(ids["train"])  # each training track once per epoch
    val = _served_ids(dm.val_dataloader(), dm.val)
    assert sorted(val) == sorted(ids["val"])
    # what the loader yields is really the training tracks' events (end marker, cropped)
    by_id = {str(i): with_end(tracks[k]) for k, i in enumerate(tracks.ids)}
    loader = dm.train_dataloader()
    for idx, batch in zip(loader.batch_sampler, loader, strict=True):
        for b, (i, start) in enumerate(idx):
            ev = by_id[str(dm.train.ids[i])][start : start + 16]
            n = int(batch["lengths"][b])
            assert n == len(ev) and np.array_equal(batch["events"][:n, b].numpy(), ev)


def test_datamodule_refuses_a_set_without_splits():
    tracks = _corpus()
    no_split = TrackSet.from_tracks(list(tracks), tracks.styles, tracks.style)
    with pytest.raises(ValueError, match="no 'train' tracks"):
        MelodyDataModule(no_split, batch_size=4, max_len=16, num_workers=0, seed=0)
    only_train = TrackSet.from_tracks(
        list(tracks), tracks.styles, tracks.style, split=np.zeros(len(tracks), np.uint8)
    )
    with pytest.raises(ValueError, match="no 'val' tracks"):
        MelodyDataModule(only_train, batch_size=4, max_len=16, num_workers=0, seed=0)


# ------------------------------------------------------- the rating panel
def test_holdout_sample_never_holds_training_tracks():
    tracks = _corpus(90)
    train = set(tracks.select(split="train").ids.tolist())
    outside = set(tracks.ids.tolist()) - train
    for seed in range(5):
        held = autorater.holdout_sample(tracks, 10, seed)
        assert len(held) == 10 and len(set(held.ids.tolist())) == 10
        assert not set(held.ids.tolist()) & train
        assert (held.split != TRAIN).all()
    everything = autorater.holdout_sample(tracks, 1000, 0)  # asks for more than there are
    assert set(everything.ids.tolist()) == outside
    a, b = autorater.holdout_sample(tracks, 10, 1), autorater.holdout_sample(tracks, 10, 1)
    assert a.ids.tolist() == b.ids.tolist()  # seeded
    assert autorater.holdout_sample(tracks, 10, 2).ids.tolist() != a.ids.tolist()


def test_the_panels_reference_is_the_training_split(monkeypatch):
    obtain = getattr(autorater, "obtain_ratings", None)
    if obtain is None:
        pytest.skip("autorater.obtain_ratings is not there (notebook 04 fits the panel itself)")
    tracks = _corpus(90)
    seen = []
    real_fit = autorater.fit_panel

    def spy(real, **kw):
        seen.append(set(real.ids.tolist()))
        return real_fit(real, min_tracks=5)

    monkeypatch.setattr(autorater, "fit_panel", spy)
    held = autorater.holdout_sample(tracks, 12, 0)
    obtain({"real": held}, tracks)
    (reference,) = seen
    assert reference == set(tracks.select(split="train").ids.tolist())
    assert not reference & set(held.ids.tolist())


# ---------------------------------------------- Table 1's out-of-fold acceptance
class Spy(ClassifierMixin, BaseEstimator):
    """A classifier that accepts rows with an odd id and logs what it sees."""

    log: list = []

    def __init__(self, method="logreg", seed=0):
        self.method, self.seed = method, seed

    def fit(self, x, y):
        self.classes_ = np.array([False, True])
        self.fitted_ = frozenset(x[:, 0].astype(int).tolist())
        return self

    def predict(self, x):
        ids = x[:, 0].astype(int)
        Spy.log.append((self.fitted_, frozenset(ids.tolist())))
        return ids % 2 == 1


def test_acceptance_by_group_judges_every_track_out_of_fold(monkeypatch):
    Spy.log = []
    monkeypatch.setattr(classifiers, "make_classifier", Spy)
    n = 40
    good = np.arange(n) % 4 == 0
    feats = pd.DataFrame({"id": np.arange(n, dtype=float), "a": np.sin(np.arange(n))})
    groups = np.where(np.arange(n) < 25, "lm", "vrash")
    table = classifiers.acceptance_by_group(feats, good, groups, method="logreg", seed=0, folds=5)
    judged = [i for _, asked in Spy.log for i in asked]
    assert sorted(judged) == list(range(n))  # every track judged once
    for fitted, asked in Spy.log:
        assert not fitted & asked and len(fitted) == n - len(asked)
    t = table.set_index("group")
    # accepted = odd ids: 12 of the first 25 tracks, 8 of the last 15
    assert t.loc["lm", "n_tracks"] == 25 and t.loc["lm", "accepted"] == 12
    assert t.loc["vrash", "accepted"] == 8 and t.loc["vrash", "accepted_share"] == 8 / 15
    # good = multiples of 4, never odd: nothing accepted is good
    assert t.loc["lm", "rated_good_share"] == pytest.approx(7 / 25)
    assert t.loc["lm", "good_share_after_filter"] == 0.0 and t.loc["lm", "recall_good"] == 0.0


# ------------------------------------------------------------ Fig. 6 sets
class StubFilter:
    """Accepts tracks whose id ends in an even digit; logs the ids it is asked about."""

    def __init__(self):
        self.asked: list[list[str]] = []

    def accept(self, tracks):
        self.asked.append(tracks.ids.tolist())
        return np.array([int(i[-1]) % 2 == 0 for i in tracks.ids], bool)


def _generated(kind: str, styles=("a", "b", "c"), n=12) -> TrackSet:
    style = np.arange(n) % len(styles)
    return TrackSet.from_tracks(
        random_walk_tracks(n, seed=len(kind), min_len=4, max_len=10),
        styles,
        style,
        ids=[f"{kind}/{styles[s]}/{i:04d}" for i, s in enumerate(style)],
    )


def test_fig6_sets_are_built_from_disjoint_parts():
    fig6 = pytest.importorskip("vrashlib.analysis.fig6")
    real, vrash, lm = _corpus(), _generated("vrash"), _generated("lm")
    filt = StubFilter()
    sets = fig6.fig6_sets(real, vrash, lm, filt, ("a", "b"))
    for style in ("a", "b"):
        before = sets[f"vrash/{style}"]
        after = sets[f"vrash/{style}/filtered"]
        assert set(before.style_names()) == {style}
        assert set(after.ids.tolist()) <= set(before.ids.tolist())
        assert after.ids.tolist() == [i for i in before.ids.tolist() if int(i[-1]) % 2 == 0]
        assert set(sets[f"lm/{style}"].style_names()) == {style}
    # the filter was asked about each style's VRASH melodies, and nothing else
    assert filt.asked == [sets["vrash/a"].ids.tolist(), sets["vrash/b"].ids.tolist()]
    assert not set(sets["vrash/a"].ids.tolist()) & set(sets["vrash/b"].ids.tolist())
    real_ids = [set(sets[f"real/{s}"].ids.tolist()) for s in real.styles]
    assert sum(len(r) for r in real_ids) == len(real) and len(set().union(*real_ids)) == len(real)
    generated = {i for k, ts in sets.items() if not k.startswith("real") for i in ts.ids.tolist()}
    assert not generated & set(real.ids.tolist())


# ----------------------------------------------------- the batch sampler itself
def _batches(sampler):
    return [list(b) for b in sampler]


@pytest.mark.parametrize("n", [1, 7, 250])
def test_ordered_batches_hold_every_track_once_sorted_within_chunks(n):
    from vrashlib.data.datamodule import CHUNK_BATCHES, BucketBatchSampler

    lengths = (np.arange(n) * 37) % 23 + 1
    s = BucketBatchSampler(lengths, 2, max_len=None, shuffle=False)
    batches = _batches(s)
    assert len(s) == len(batches) == sum(-(-min(100, n - c) // 2) for c in range(0, n, 100))
    flat = [i for b in batches for i, _ in b]
    assert sorted(flat) == list(range(n)) and all(start == 0 for b in batches for _, start in b)
    chunk = 2 * CHUNK_BATCHES
    for c in range(0, n, chunk):  # tracks of one chunk, shortest first; chunks in order
        part = flat[c : c + chunk]
        assert sorted(part) == list(range(c, min(c + chunk, n)))
        assert list(lengths[part]) == sorted(lengths[part])


def test_default_sampler_is_rank_0_of_1_epoch_0_seed_0():
    from vrashlib.data.datamodule import BucketBatchSampler

    lengths = np.arange(30) % 11 + 3
    plain = BucketBatchSampler(lengths, 4, max_len=6, shuffle=True)
    explicit = BucketBatchSampler(lengths, 4, max_len=6, shuffle=True, seed=0, rank=0, world=1)
    explicit.set_epoch(0)
    assert _batches(plain) == _batches(explicit)
    assert sorted(i for b in _batches(plain) for i, _ in b) == list(range(30))


@pytest.mark.parametrize(("n", "bs", "world"), [(30, 4, 2), (31, 3, 3), (250, 2, 2), (5, 4, 2)])
def test_ranks_get_disjoint_equal_shares_of_the_batches(n, bs, world):
    from vrashlib.data.datamodule import BucketBatchSampler

    lengths = np.arange(n) % 13 + 2
    shares = []
    for rank in range(world):
        s = BucketBatchSampler(lengths, bs, max_len=8, shuffle=True, seed=5, rank=rank, world=world)
        s.set_epoch(3)
        b = _batches(s)
        assert len(b) == len(s) == max(-(-n // bs) // world, 1)  # the same count on every rank
        shares.append([i for batch in b for i, _ in batch])
    seen = [i for share in shares for i in share]
    assert len(seen) == len(set(seen))  # no track on two ranks in one epoch
    n_batches = -(-n // bs)
    kept = max(n_batches - n_batches % world, 1)
    assert len(seen) >= (kept - 1) * bs and len(seen) <= n
    ordered = [
        BucketBatchSampler(lengths, bs, max_len=None, shuffle=False, rank=r, world=world)
        for r in range(world)
    ]
    flat = sorted(i for s in ordered for b in _batches(s) for i, _ in b)
    assert flat == list(range(n))  # validation: every track exactly once over the ranks
    assert sum(len(s) for s in ordered) == n_batches


def test_crop_windows_stay_inside_the_track_and_reach_every_start():
    from vrashlib.data.datamodule import BucketBatchSampler

    lengths = np.array([20, 3, 9])  # + end marker: 21, 4, 10 events
    s = BucketBatchSampler(lengths, 3, max_len=5, shuffle=True, seed=1)
    starts = {0: set(), 1: set(), 2: set()}
    orders = set()
    for epoch in range(300):
        s.set_epoch(epoch)
        (batch,) = _batches(s)
        orders.add(tuple(i for i, _ in batch))
        for i, start in batch:
            starts[i].add(start)
    assert starts[0] == set(range(21 - 5 + 1))  # every window of 5 of the 21 events
    assert starts[1] == {0}  # shorter than the window: whole track
    assert starts[2] == set(range(10 - 5 + 1))
    assert {o[0] for o in orders} == {1}  # one batch, the shortest cropped track first
    other = BucketBatchSampler(lengths, 3, max_len=5, shuffle=True, seed=2)
    windows = []
    for sampler in (s, other):
        sampler.set_epoch(7)
        windows.append(sorted(_batches(sampler)[0]))
    assert windows[0] != windows[1]  # the seed decides the windows


def test_datamodule_shuffles_training_by_its_seed_and_splits_it_across_ranks():
    from types import SimpleNamespace

    tracks = _corpus(90)
    kw = {"batch_size": 4, "max_len": 8, "num_workers": 0}
    dm, same, other = (MelodyDataModule(tracks, seed=s, **kw) for s in (1, 1, 2))

    def order(d, epoch=0):
        loader = d.train_dataloader()
        loader.batch_sampler.set_epoch(epoch)
        return [list(b) for b in loader.batch_sampler]

    assert order(dm) == order(same) and order(dm) != order(other)
    assert order(dm, 0) != order(dm, 1)  # a new shuffle, and new crop windows, every epoch
    assert any(start > 0 for b in order(dm) for _, start in b)  # windows, not just beginnings
    # under DDP each rank gets its own share of the training tracks
    shares = []
    for rank in (0, 1):
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=2)
        shares.append({i for b in order(dm) for i, _ in b})
    assert not shares[0] & shares[1] and len(shares[0] | shares[1]) > len(dm.train) - 2 * 4
    dm.trainer = None
    assert len({i for b in order(dm) for i, _ in b}) == len(dm.train)
    # validation: whole tracks, the same order every time, shortest first, one rank or many
    val = [list(b) for b in dm.val_dataloader().batch_sampler]
    assert val == [list(b) for b in dm.val_dataloader().batch_sampler]
    flat = [i for b in val for i, _ in b]
    assert sorted(flat) == list(range(len(dm.val)))
    assert list(dm.val.lengths[flat]) == sorted(dm.val.lengths) and all(
        s == 0 for b in val for _, s in b
    )
    workers = MelodyDataModule(tracks, seed=0, batch_size=4, max_len=8, num_workers=1)
    assert workers.train_dataloader().num_workers == 1


def test_make_loader_crops_shuffles_by_seed_and_refuses_an_empty_set():
    from vrashlib.data.datamodule import make_loader

    tracks = _corpus(30)
    a = make_loader(tracks, 4, max_len=6, shuffle=True, seed=0)
    b = make_loader(tracks, 4, max_len=6, shuffle=True, seed=9)
    assert [list(x) for x in a.batch_sampler] != [list(x) for x in b.batch_sampler]
    assert all(int(batch["lengths"].max()) <= 6 for batch in a)
    assert any(start > 0 for x in a.batch_sampler for _, start in x)
    ordered = make_loader(tracks, 4, max_len=None, shuffle=False)
    flat = [i for x in ordered.batch_sampler for i, _ in x]
    assert list(tracks.lengths[flat]) == sorted(tracks.lengths)
    assert make_loader(tracks, 4, max_len=6, shuffle=False, num_workers=1).persistent_workers
    assert not make_loader(tracks, 4, max_len=6, shuffle=False).persistent_workers
    with pytest.raises(ValueError, match="^cannot build batches from an empty track set$"):
        make_loader(tracks.subset([]), 4, max_len=6, shuffle=False)
    with pytest.raises(
        ValueError, match=r"\(vrashlib.data.prepare.load_prepared\(\.\.\.\)\.tracks has them\)$"
    ):
        MelodyDataModule(tracks.subset([]), batch_size=4, max_len=8, num_workers=0, seed=0)


def test_select_names_an_unknown_split_or_style():
    tracks = _corpus(60)
    with pytest.raises(
        KeyError, match=r"unknown split 'dev'; use one of \['train', 'val', 'test'\]"
    ):
        tracks.select(split="dev")
    with pytest.raises(KeyError, match="unknown style 'jazz'"):
        tracks.select(style="jazz")
    both = tracks.select(split="train", style="b")
    assert set(both.style_names()) == {"b"} and (both.split == TRAIN).all()
    want = [i for i in range(60) if tracks.style[i] == 1 and tracks.split[i] == TRAIN]
    assert list(both.ids) == [tracks.ids[i] for i in want] and 0 < len(want) < 20
    assert len(tracks.select(style="b")) == 20
    assert len(tracks.select(split="val")) == int((tracks.split == VAL).sum()) > 0


def test_one_batch_is_one_batch_with_or_without_shuffling():
    from vrashlib.data.datamodule import BucketBatchSampler

    for shuffle in (False, True):
        s = BucketBatchSampler(np.array([5, 3]), 4, max_len=None, shuffle=shuffle)
        assert len(s) == len(_batches(s)) == 1


def test_a_resumed_epoch_skips_the_batches_already_trained_on_once():
    """``resume(epoch, done)``: the next pass, if it is of ``epoch``, starts at batch
    ``done`` of that epoch's order; the pass after it, and a pass of another epoch,
    are whole."""
    from vrashlib.data.datamodule import BucketBatchSampler

    lengths = np.arange(40) % 9 + 2

    def sampler(epoch):
        s = BucketBatchSampler(lengths, 4, max_len=6, shuffle=True, seed=3)
        s.set_epoch(epoch)
        return s

    full = _batches(sampler(2))
    s = sampler(2)
    s.resume(2, 3)
    assert _batches(s) == full[3:]
    assert _batches(s) == full  # once only
    other = sampler(4)
    other.resume(2, 3)  # a run resumed at another epoch's point: this pass is whole
    assert _batches(other) == _batches(sampler(4))


def test_crop_windows_are_drawn_for_each_track():
    """Equally long tracks get their own crop windows within one epoch."""
    from vrashlib.data.datamodule import BucketBatchSampler

    s = BucketBatchSampler(np.full(200, 30), 8, max_len=10, shuffle=True, seed=0)
    starts = [start for b in _batches(s) for _, start in b]
    assert len(set(starts)) > 15  # 22 possible starts (31 events, windows of 10)
    assert min(starts) >= 0 and max(starts) <= 21


def test_fewer_batches_than_ranks_gives_rank_0_the_only_batch():
    from vrashlib.data.datamodule import BucketBatchSampler

    got = []
    for rank in range(3):
        s = BucketBatchSampler(np.arange(8) + 2, 4, max_len=None, shuffle=True, rank=rank, world=3)
        got.append(_batches(s))
    assert len(got[0]) == 1 and got[1] == [] and got[2] == []


# ------------------------------------------------------- pieces and copies (data.split)
def _events(*pitches, dur=3):
    return pitch_track(*pitches, dur=dur)


def test_contour_key_is_blind_to_transposition_only():
    from vrashlib.data.split import contour_key

    tune = _events(None, 60, 62, None, 59)
    assert contour_key(tune) == contour_key(_events(None, 65, 67, None, 64))  # a fourth up
    assert contour_key(tune) != contour_key(_events(None, 60, 63, None, 59))  # one step wider
    assert contour_key(tune) != contour_key(_events(None, 60, 62, None, 59, dur=4))  # slower
    assert contour_key(tune) != contour_key(_events(60, None, 62, None, 59))  # a rest moved
    # one note, and no note at all, have keys too
    assert contour_key(_events(72)) == contour_key(_events(60)) != contour_key(_events(None))
    assert contour_key(_events(None, None)) != contour_key(_events(None))


def test_piece_groups_join_copies_through_chains_and_skip_dropped_tracks():
    from vrashlib.data.ingest import TrackOutcome
    from vrashlib.data.sources import WorkUnit
    from vrashlib.data.split import piece_groups

    def out(tid, events):
        return TrackOutcome(tid, events, 0.25, None if events is not None else "short", 4, 2.0, 1)

    a, b, c = _events(60, 62, 64), _events(60, 59, 57), _events(60, 67, 60)
    units = [WorkUnit(f"f{i}.mid", f"s/f{i}.mid", "s", "pop", "midi") for i in range(4)]
    results = [
        (None, [out("u0#0", a)]),
        (None, [out("u1#0", None), out("u1#1", c)]),  # a dropped track, then a kept one
        (None, [out("u2#0", b), out("u2#1", a + 0)]),  # shares a with unit 0
        (None, [out("u3#0", _events(55, 54, 52))]),  # b a fifth lower: joins unit 2, so 0
    ]
    groups = piece_groups(units, results)
    assert groups == {"u0#0": 0, "u1#1": 1, "u2#0": 0, "u2#1": 0, "u3#0": 0}


def test_split_names_mismatched_group_ids():
    with pytest.raises(ValueError, match="^3 group ids for 4 tracks$"):
        split_tracks(np.zeros(4, int), val_fraction=0.2, test_fraction=0.2, seed=0,
                     groups=np.arange(3))  # fmt: skip
