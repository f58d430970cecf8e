"""The rating room: what it rates, in which order, safe appends from many raters at once.

The page itself, served by Voilà and clicked in a real browser, is tested in
tests/test_browser.py.
"""

from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pandas as pd
import pytest

from tests.conftest import random_walk_tracks
from vrashlib import paths
from vrashlib.data.tracks import TrackSet
from vrashlib.filter.ratings import append_rating, load_ratings, lock_path


def generated_set(kind: str, n: int = 6, seed: int = 0) -> TrackSet:
    """``n`` melodies as notebook 03 stores them: ids ``kind/style/NNNN``."""
    styles = np.arange(n) % 2
    return TrackSet.from_tracks(
        random_walk_tracks(n, seed=seed, max_len=32), ("bach", "fiddle"), styles,
        unit_seconds=np.full(n, 0.2),
        ids=[f"{kind}/{('bach', 'fiddle')[s]}/{i:04d}" for i, s in enumerate(styles)],
    )  # fmt: skip


@pytest.fixture
def run(tmp_path) -> paths.RunLayout:
    """A run folder with the generated sets of two models (no dataset)."""
    layout = paths.RunLayout(tmp_path / "run")
    for k, kind in enumerate(("lm", "vrash")):
        generated_set(kind, seed=k).save(layout.generated(kind))
    return layout


def test_pool_is_what_notebook_04_rates(run, tiny_trackset, monkeypatch):
    from vrashlib.filter.autorater import holdout_sample
    from vrashlib.viz.rating_room import REAL, rating_pool

    sets = rating_pool(run, n_real=5, seed=0)
    assert list(sets) == ["lm", "vrash"]  # no dataset: generated melodies only
    assert list(sets["lm"].ids) == list(TrackSet.load(run.generated("lm")).ids)
    run.dataset.mkdir(parents=True)
    (run.dataset / "tracks.npz").write_bytes(b"")  # the dataset is "there"
    prepared = type("Prepared", (), {"tracks": tiny_trackset})
    monkeypatch.setattr("vrashlib.data.prepare.load_prepared", lambda folder: prepared)
    sets = rating_pool(run, n_real=5, seed=3)
    assert list(sets) == [REAL, "lm", "vrash"]
    assert list(sets[REAL].ids) == list(holdout_sample(tiny_trackset, 5, 3).ids)


def test_pool_without_generated_melodies_says_how_to_make_them(tmp_path):
    from vrashlib.viz.rating_room import rating_pool

    with pytest.raises(FileNotFoundError, match="notebook 03"):
        rating_pool(paths.RunLayout(tmp_path), n_real=5)


def test_order_puts_the_least_rated_first_and_skips_the_raters_own(run, tmp_path):
    from vrashlib.viz.rating_room import rating_pool, room_order

    sets = rating_pool(run, n_real=0)
    csv = tmp_path / "r.csv"
    everyone = room_order(sets, csv, "anna")
    assert len(everyone) == 12 and len(set(everyone)) == 12
    assert room_order(sets, csv, "anna") == everyone  # seeded
    assert room_order(sets, csv, "bob") != everyone  # each rater her own order
    first = [sets[s].ids[i] for s, i in everyone[:3]]
    for tid in first:
        append_rating(csv, str(tid), "anna", 3)
    append_rating(csv, str(first[0]), "carl", 5)
    bobs = [str(sets[s].ids[i]) for s, i in room_order(sets, csv, "bob")]
    assert set(bobs[:9]).isdisjoint(first)  # unrated melodies before rated ones
    assert bobs[-1] == first[0]  # the one rated twice comes last
    annas = [str(sets[s].ids[i]) for s, i in room_order(sets, csv, "anna")]
    assert len(annas) == 9 and set(annas).isdisjoint(first)


def test_room_signs_in_rates_skips_and_reveals(run, tmp_path):
    from vrashlib.viz.rating_room import rating_pool, rating_room

    sets = rating_pool(run, n_real=0)
    csv = tmp_path / "room.csv"
    room = rating_room(sets, csv, seed=0)
    room.enter.click()  # no name yet: nothing happens but a hint
    assert room.state["rater"] == "" and not csv.exists()
    room.name.value = "  Anna   K "
    room.enter.click()
    queue = list(room.state["queue"])
    assert room.state["rater"] == "Anna K" and len(queue) == 12
    assert (
        room.card.roll.value[:4] == b"\x89PNG" and "data:audio/wav;base64" in room.card.player.value
    )
    room.buttons[3].click()  # 4
    room.skip.click()
    room.buttons[0].click()  # 1
    df = load_ratings(csv)
    ids = [str(sets[s].ids[i]) for s, i in queue]
    assert df["track_id"].tolist() == [ids[0], ids[2]] and df["rating"].tolist() == [4, 1]
    assert set(df["rater"]) == {"Anna K"}
    # a second visit by the same rater goes on where she stopped (the skipped one stays)
    again = rating_room(sets, csv, seed=0)
    again.name.value = "Anna K"
    again.enter.click()
    assert [str(sets[s].ids[i]) for s, i in again.state["queue"]][:1] == [ids[1]]


def _rate_many(args) -> None:
    csv, rater, ids = args
    for tid in ids:
        append_rating(csv, tid, rater, 1 + len(tid) % 5)


def test_many_raters_at_once_lose_and_duplicate_no_row(tmp_path):
    csv = tmp_path / "ratings.csv"
    ids = [f"vrash/bach/{i:04d}" for i in range(15)]
    jobs = [(csv, f"rater{r}", ids) for r in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_rate_many, jobs)
    df = load_ratings(csv)
    assert len(df) == 4 * 15 and not df.duplicated(["track_id", "rater"]).any()
    assert set(df["rater"]) == {f"rater{r}" for r in range(4)}
    assert lock_path(csv).name == "ratings.csv.lock" and not list(tmp_path.glob("*.tmp"))


def test_append_waits_for_the_lock_and_is_portable(tmp_path):
    from filelock import FileLock, Timeout

    from vrashlib.filter import ratings

    assert "fcntl" not in open(ratings.__file__).read()  # breaks Windows
    csv = tmp_path / "r.csv"
    with FileLock(lock_path(csv)):
        original = ratings.LOCK_TIMEOUT
        ratings.LOCK_TIMEOUT = 0.2
        try:
            with pytest.raises(Timeout):
                append_rating(csv, "a", "me", 3)  # another writer holds the lock
        finally:
            ratings.LOCK_TIMEOUT = original
    assert not csv.exists()
    append_rating(csv, "a", "me", 3)
    pd.testing.assert_frame_equal(load_ratings(csv), ratings.ratings_frame(["a"], [3], "me"))


def test_room_notebook_and_server_command(tmp_path):
    from vrashlib.viz.rating_room import free_port, voila_command, write_room_notebook

    nb = write_room_notebook(tmp_path / "rate.ipynb", profile="smoke", csv="x.csv", seed=2)
    cells = json.loads(nb.read_text())["cells"]
    assert len(cells) == 1 and "room_for_run(profile='smoke', csv='x.csv', seed=2)" in "".join(
        cells[0]["source"]
    )
    cmd = voila_command(nb, port=9999)
    assert cmd[1:3] == ["-m", "voila"] and "--port=9999" in cmd and "--Voila.ip=127.0.0.1" in cmd
    assert 0 < free_port() < 65536


def test_rate_command_without_melodies_is_a_clear_error(tmp_path, capsys):
    from vrashlib.cli import main

    assert main(["rate", "--profile", "smoke", "--run", str(tmp_path)]) == 1
    assert "notebook 03" in capsys.readouterr().err


def test_ratings_csv_setting_names_one_file_for_cli_and_notebook(tmp_path):
    from vrashlib.config import load_config
    from vrashlib.filter.ratings import human_ratings_path

    cfg = load_config("smoke", {"filter.ratings_csv": "build/runs/paper/filter/my_ratings.csv"})
    assert human_ratings_path(cfg.filter.ratings_csv) == (
        paths.ROOT / "build" / "runs" / "paper" / "filter" / "my_ratings.csv"
    )  # from the repository root, whatever the working folder (a kernel's is notebooks/)
    assert human_ratings_path("") is None  # the default: the automatic panel
    assert human_ratings_path(str(tmp_path / "r.csv")) == tmp_path / "r.csv"
    assert human_ratings_path("~/r.csv").is_absolute()
