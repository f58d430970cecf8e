"""Ratings of tracks on the paper's 1-5 scale: the CSV format, validation, safe appends.

The paper's human ratings are private, so ratings are pluggable. One CSV holds
them, one row per (track, rater)::

    track_id,rater,rating
    vrash/bach/0007,anna,4

``rating`` is an integer 1..5 (5 best). Several raters of one track are
averaged. The paper calls ratings 4-5 "acceptable" and 1-3 "to be removed"; for
an average over raters we call a track acceptable when its mean rating is at
least :data:`GOOD_THRESHOLD` (3.5, i.e. it rounds to 4 or 5), which for a single
rater is exactly the paper's rule.

Where the ratings come from is up to the reader: her own clicks in notebook
04's rating panel (:mod:`vrashlib.viz.rating`) or the automatic stand-in
panel (:mod:`vrashlib.filter.autorater`, rater ``"auto-panel"``), which is NOT human data.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from vrashlib.data.tracks import TrackSet
from vrashlib.files import atomic_write_text

COLUMNS = ("track_id", "rater", "rating")
MIN_RATING, MAX_RATING = 1, 5
GOOD_THRESHOLD = 3.5
AUTO_RATER = "auto-panel"
LOCK_TIMEOUT = 60.0  # seconds a writer waits for the ratings lock before it gives up


def validate_ratings(
    df: pd.DataFrame, *, known_ids: Iterable[str] | None = None, source: str = "ratings"
) -> pd.DataFrame:
    """Check a ratings table; return it with clean dtypes or raise naming the row.

    Rows are numbered as in the CSV file (header = line 1). Errors: missing
    columns, empty ids or raters, non-integer or out-of-range ratings, a
    (track_id, rater) pair rated twice, and ids not in ``known_ids``.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; expected {list(COLUMNS)}")
    df = df.loc[:, list(COLUMNS)].copy()
    line = np.arange(len(df)) + 2
    for col in ("track_id", "rater"):
        text = df[col].astype("string").str.strip()
        bad = text.isna() | (text == "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{source}: line {line[i]}: empty {col}")
        df[col] = text.astype(str)
    rating = pd.to_numeric(df["rating"], errors="coerce")
    bad = (
        rating.isna() | (rating != np.round(rating)) | (rating < MIN_RATING) | (rating > MAX_RATING)
    )
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{source}: line {line[i]}: rating '{df['rating'].iloc[i]}' of track "
            f"{df['track_id'].iloc[i]!r} is not an integer {MIN_RATING}..{MAX_RATING}"
        )
    df["rating"] = rating.astype(np.int64)
    dup = df.duplicated(["track_id", "rater"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(
            f"{source}: line {line[i]}: rater {df['rater'].iloc[i]!r} already rated track "
            f"{df['track_id'].iloc[i]!r} on an earlier line"
        )
    if known_ids is not None:
        known = set(map(str, known_ids))
        unknown = ~df["track_id"].isin(known)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise ValueError(
                f"{source}: line {line[i]}: unknown track id {df['track_id'].iloc[i]!r} "
                f"(not among the {len(known)} tracks rated here)"
            )
    return df.reset_index(drop=True)


def load_ratings(
    path: str | os.PathLike, *, known_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Read and validate a ratings CSV (see :func:`validate_ratings`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no ratings file at {path}")
    _check_field_counts(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable ratings CSV: {err}") from err
    return validate_ratings(df, known_ids=known_ids, source=str(path))


def _check_field_counts(path: Path) -> None:
    """Every row has as many fields as the header: else name the line and its fields
    (pandas would shift the columns, or take the first one as an index)."""
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if header is None:
                return  # pandas reports the empty file
            for n, row in enumerate(rows, start=2):
                if row and len(row) != len(header):
                    raise ValueError(
                        f"{path}: line {n}: {len(row)} fields {row}, but the header "
                        f"{header} has {len(header)}"
                    )
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path}: not a readable ratings CSV: {err}") from err


def save_ratings(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Validate and write a ratings table atomically."""
    df = validate_ratings(df, source=str(path))
    atomic_write_text(path, df.to_csv(index=False))
    return Path(path)


def ratings_frame(track_ids: Iterable[str], ratings: Iterable[int], rater: str) -> pd.DataFrame:
    """A ratings table of one rater (e.g. the automatic panel's output)."""
    ids = [str(t) for t in track_ids]
    return validate_ratings(
        pd.DataFrame({"track_id": ids, "rater": rater, "rating": list(ratings)}), source=rater
    )


def append_rating(path: str | os.PathLike, track_id: str, rater: str, rating: int) -> pd.DataFrame:
    """Add (or replace) one rater's rating of one track in a CSV, safely.

    An exclusive lock on a side file (``<csv>.lock``, :mod:`filelock`: on every OS)
    serialises concurrent writers (several raters in the rating room, two open
    notebooks), and the new table replaces the old atomically, so a crash never
    leaves a half-written CSV and no row is lost or written twice. A rater who rates
    the same track again changes her mind: the earlier row is replaced. Returns the
    new table.
    """
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = ratings_frame([track_id], [rating], rater)
    with FileLock(lock_path(path), timeout=LOCK_TIMEOUT):
        old = load_ratings(path) if path.exists() else new.iloc[:0]
        same = (old["track_id"] == new["track_id"].iloc[0]) & (old["rater"] == rater)
        table = pd.concat([old[~same], new], ignore_index=True)
        save_ratings(table, path)
    return table


def human_ratings_path(setting: str) -> Path | None:
    """The CSV of the setting ``filter.ratings_csv``: ``None`` when empty (the automatic
    panel), else the path, ``~`` expanded and a relative path read from the repository
    root (so that it means the same to ``vrash`` and to a notebook kernel)."""
    from vrashlib import paths

    if not setting:
        return None
    path = Path(setting).expanduser()
    return path if path.is_absolute() else paths.ROOT / path


def lock_path(path: str | os.PathLike) -> Path:
    """The side file whose lock guards a ratings CSV (:func:`append_rating`)."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def mean_ratings(df: pd.DataFrame) -> pd.Series:
    """Mean rating per track over raters (index = track_id), sorted by id."""
    return df.groupby("track_id")["rating"].mean().sort_index()


def acceptable(mean_rating: np.ndarray | pd.Series) -> np.ndarray:
    """The paper's rule: mean rating 4-5 (>= 3.5 averaged) is acceptable."""
    return np.asarray(mean_rating, dtype=np.float64) >= GOOD_THRESHOLD


def labels_for(track_ids: Iterable[str], df: pd.DataFrame) -> np.ndarray:
    """Acceptability (bool) of each given track, in order; raises if one is unrated."""
    means = mean_ratings(df)
    ids = pd.Index([str(t) for t in track_ids])
    missing = ids.difference(means.index)
    if len(missing):
        raise ValueError(f"{len(missing)} track(s) have no rating, e.g. {list(missing[:3])}")
    return acceptable(means.reindex(ids).to_numpy())


def rating_table(sets: dict[str, TrackSet], ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per *rated* track of the given sets, index ``(source, track_id)``.

    Columns: ``style``, ``n_raters``, ``mean_rating`` and ``good`` (acceptable).
    Unrated tracks are left out; ratings of ids in none of the sets raise, as do
    ids that occur in two sets.
    """
    ids = np.concatenate([ts.ids for ts in sets.values()]) if sets else np.array([])
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"track id {uniq[counts > 1][0]!r} occurs in more than one set")
    ratings = validate_ratings(ratings, known_ids=ids)
    grouped = ratings.groupby("track_id")["rating"]
    means, n_raters = grouped.mean(), grouped.size()
    unrated = [name for name, ts in sets.items() if not pd.Index(ts.ids).isin(means.index).any()]
    if unrated:
        n_rated = int(pd.Index(ids).isin(means.index).sum())
        raise ValueError(
            f"the ratings cover {n_rated} of the {len(ids)} tracks to rate, none of "
            f"{', '.join(repr(u) for u in unrated)} ("
            + ", ".join(f"{len(sets[u])} tracks" for u in unrated)
            + f"); every source needs some ratings: {list(sets)}"
        )
    frames = []
    for source, ts in sets.items():
        rated = pd.Index(ts.ids).isin(means.index)
        tid = ts.ids[rated]
        frames.append(
            pd.DataFrame(
                {
                    "source": source,
                    "track_id": tid,
                    "style": ts.style_names()[rated] if len(ts) else [],
                    "n_raters": n_raters.reindex(tid).to_numpy(),
                    "mean_rating": means.reindex(tid).to_numpy(),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    table["good"] = acceptable(table["mean_rating"])
    return table.set_index(["source", "track_id"])


def rated_subset(tracks: TrackSet, table: pd.DataFrame) -> tuple[TrackSet, np.ndarray]:
    """The tracks of ``tracks`` that ``table`` (from :func:`rating_table`) rates, and their labels."""
    good = table.reset_index().set_index("track_id")["good"]
    keep = np.flatnonzero(pd.Index(tracks.ids).isin(good.index))
    sub = tracks.subset(keep)
    return sub, good.reindex(sub.ids).to_numpy(dtype=bool)
