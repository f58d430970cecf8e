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
