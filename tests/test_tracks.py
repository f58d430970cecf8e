import numpy as np
import pytest

from vrashlib.data.tracks import TrackSet

from .conftest import random_walk_tracks


def test_round_trip_is_byte_identical(tmp_path, tiny_trackset):
    a = tiny_trackset.save(tmp_path / "a.npz")
    b = TrackSet.load(a).save(tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()
    back = TrackSet.load(b)
    assert back.content_hash() == tiny_trackset.content_hash()
    np.testing.assert_array_equal(back[3], tiny_trackset[3])
    assert back.styles == ("bach", "fiddle")


def test_hash_changes_with_content(tiny_trackset):
    other = tiny_trackset.subset(np.arange(len(tiny_trackset))[::-1])
    assert other.content_hash() != tiny_trackset.content_hash()


def test_select_and_subset(tiny_trackset):
    train = tiny_trackset.select(split="train")
    assert len(train) == 28 and (train.split == 0).all()
    bach = tiny_trackset.select(style="bach")
    assert set(bach.style_names()) == {"bach"}
    np.testing.assert_array_equal(bach[1], tiny_trackset[2])
    with pytest.raises(KeyError, match="unknown style"):
        tiny_trackset.select(style="jazz")


def test_latent_is_kept(tmp_path):
    tracks = random_walk_tracks(5, seed=3)
    z = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    ts = TrackSet.from_tracks(tracks, ("bach",), np.zeros(5, int), latent=z)
    back = TrackSet.load(ts.save(tmp_path / "z.npz"))
    np.testing.assert_array_equal(back.latent, z)
    np.testing.assert_array_equal(back.subset([4, 0]).latent, z[[4, 0]])


def test_invalid_tracks_name_the_track():
    bad = random_walk_tracks(2, seed=0)
    bad[1][0] = [0, 12, 0]
    with pytest.raises(ValueError, match="track b: invalid events"):
        TrackSet.from_tracks(bad, ("x",), [0, 0], ids=["a", "b"])


def test_load_rejects_a_non_trackset(tmp_path):
    p = tmp_path / "junk.npz"
    np.savez(p, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a valid track set"):
        TrackSet.load(p)
    with pytest.raises(FileNotFoundError):
        TrackSet.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("cut", [0, 10, 0.5, -5])
def test_damaged_file_raises_a_named_value_error(tmp_path, tiny_trackset, cut):
    """Truncated anywhere (zip header, data, central directory): a ValueError that names
    the file, never a raw BadZipFile / EOFError / zlib error."""
    path = tiny_trackset.save(tmp_path / "t.npz")
    data = path.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(data) + cut)
    path.write_bytes(data[:n])
    with pytest.raises(ValueError, match=rf"{path} is not a valid track set"):
        TrackSet.load(path)


def test_flipped_byte_is_caught_by_the_zip_checksum(tmp_path, tiny_trackset):
    path = tiny_trackset.save(tmp_path / "t.npz")
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a valid track set"):
        TrackSet.load(path)


def test_invalid_tracks_without_ids_are_named_by_position():
    bad = random_walk_tracks(2, seed=0)
    bad[1][0] = [0, 12, 0]
    with pytest.raises(ValueError, match="track #1: invalid events"):
        TrackSet.from_tracks(bad, ("x",), [0, 0])


def test_from_tracks_and_subset_keep_the_documented_types_and_defaults():
    tracks = [[[0, 4, 3], [2, 4, 3]], [[5, 3, 1]]]  # plain lists of ints
    meta = {"source": "hand"}
    ts = TrackSet.from_tracks(
        tracks,
        ["a", "b"],
        np.array([[1], [0]]),  # a column of styles is flattened
        unit_seconds=np.array([[0.5], [0.3]]),
        split=[0, 2],
        latent=[[0.5, 1.0], [2.0, -1.0]],
        meta=meta,
    )
    assert ts.events.dtype == np.int16 and ts.events.shape == (3, 3)
    assert ts.offsets.dtype == np.int64 and ts.offsets.tolist() == [0, 2, 3]
    assert ts.style.dtype == np.int16 and ts.style.tolist() == [1, 0]
    assert ts.unit_seconds.dtype == np.float32 and ts.unit_seconds.shape == (2,)
    assert ts.unit_seconds.tolist() == pytest.approx([0.5, 0.3])
    assert ts.split.dtype == np.uint8 and ts.split.tolist() == [0, 2]
    assert ts.ids.dtype.kind == "U" and ts.ids.tolist() == ["track0", "track1"]
    assert ts.latent.dtype == np.float32 and ts.styles == ("a", "b")
    assert ts.meta == meta and ts.meta is not meta
    plain = TrackSet.from_tracks(tracks, ("a",), [0, 0])
    assert plain.unit_seconds.tolist() == [0.25, 0.25] and plain.split.tolist() == [255, 255]
    assert plain.latent is None and plain.meta == {}
    sub = ts.subset([1])
    assert sub.meta == meta and sub.meta is not ts.meta and sub.events.dtype == np.int16
    assert sub.offsets.dtype == np.int64 and sub.latent.tolist() == [[2.0, -1.0]]
    for empty in (TrackSet.from_tracks([], ("a",), []), ts.subset([])):
        assert empty.events.shape == (0, 3) and empty.events.dtype == np.int16
        assert len(empty) == 0 and empty.offsets.tolist() == [0]


def test_a_trackset_refuses_inconsistent_arrays_with_the_reason():
    ev = np.array([[0, 4, 3]] * 3, np.int16)

    def make(**kw):
        base = dict(
            events=ev,
            offsets=np.array([0, 1, 3]),
            style=np.array([0, 1], np.int16),
            styles=("a", "b"),
            unit_seconds=np.full(2, 0.25, np.float32),
            split=np.zeros(2, np.uint8),
            ids=np.array(["x", "y"]),
        )
        return TrackSet(**{**base, **kw})

    assert len(make()) == 2
    for offsets in ([1, 2, 3], [0, 1, 2], [0, 4, 3][:2]):  # bad start; bad end; both
        with pytest.raises(ValueError, match=r"^offsets must start at 0 and end at len\(events\)$"):
            make(offsets=np.array(offsets))
    with pytest.raises(ValueError, match="^offsets must be non-decreasing$"):
        make(offsets=np.array([0, 2, 1, 3]), style=np.zeros(3, np.int16), unit_seconds=np.ones(3),
             split=np.zeros(3, np.uint8), ids=np.array(list("xyz")))  # fmt: skip
    with pytest.raises(ValueError, match="^style has 1 rows for 2 tracks$"):
        make(style=np.array([0], np.int16))
    with pytest.raises(ValueError, match="^latent has 3 rows for 2 tracks$"):
        make(latent=np.zeros((3, 2), np.float32))
    for style in ([0, 2], [-1, 1]):  # one past the last style; below the first
        with pytest.raises(ValueError, match="^style index outside the style list$"):
            make(style=np.array(style, np.int16))
