"""Table 1, strict heuristics and the Filter object on seeded random-walk tracks."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from tests.conftest import random_walk_tracks
from vrashlib.config import FilterConfig
from vrashlib.data.tracks import TrackSet
from vrashlib.filter.classifiers import (
    METHODS,
    PAPER_TABLE1,
    Filter,
    Rule,
    acceptance_by_group,
    apply_rules,
    classifier_score,
    find_rules,
    fit_stream_filter,
    fit_strict_heuristics,
    make_classifier,
    pool_mask,
    precision_recall,
    table1,
)
from vrashlib.filter.features import compute_features

MAX_RULES = FilterConfig().heuristic_max_rules


@pytest.fixture(scope="module")
def rated() -> tuple[TrackSet, pd.DataFrame, np.ndarray]:
    """300 random walks with a 3-d latent; "good" = noisy high pitch entropy (~30 %)."""
    rng = np.random.default_rng(0)
    tracks = random_walk_tracks(300, seed=7, min_len=10, max_len=160)
    ts = TrackSet.from_tracks(
        tracks,
        ("bach",),
        np.zeros(300),
        latent=rng.normal(size=(300, 3)),
        ids=[f"vrash/bach/{i:04d}" for i in range(300)],
    )
    feats = compute_features(ts, include_latent=False)
    score = feats["pitch"] + 0.3 * rng.normal(size=300) + 0.2 * ts.latent[:, 0]
    return ts, feats, (score > np.quantile(score, 0.7)).to_numpy()


def test_table1_has_twelve_sane_rows(rated):
    _, feats, good = rated
    tab = table1(feats, good, seed=0)
    assert len(tab) == 12
    assert list(tab["method"].unique()) == list(METHODS.values())
    assert tab["test_share"].tolist() == [0.5, 0.4, 0.3, 0.2] * 3
    assert (tab["rated_bad"] + tab["rated_good"] == tab["n_test"]).all()
    assert (tab["pred_bad"] + tab["pred_good"] == tab["n_test"]).all()
    assert tab["n_test"].tolist() == [150, 120, 90, 60] * 3
    for col in ("precision_good", "recall_good", "accuracy"):
        assert tab[col].between(0, 1).all()
    # the features carry the signal: accepted tracks are better than the base rate of 30 %
    assert (tab["precision_good"] > 0.5).all()
    assert tab["paper_value"].tolist() == [
        PAPER_TABLE1[(m, s)][2] for m in METHODS for s in (0.5, 0.4, 0.3, 0.2)
    ]


def test_table1_is_deterministic_under_a_seed(rated):
    _, feats, good = rated
    pd.testing.assert_frame_equal(table1(feats, good, seed=3), table1(feats, good, seed=3))


def test_table1_rejects_bad_inputs(rated):
    _, feats, good = rated
    with pytest.raises(ValueError, match="labels"):
        table1(feats, good[:-1])
    with pytest.raises(ValueError, match="acceptable"):
        table1(feats, np.zeros(len(good), bool))
    broken = feats.copy()
    broken.iloc[5, 2] = np.nan
    with pytest.raises(ValueError, match=f"feature '{feats.columns[2]}' of row 5"):
        table1(broken, good)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_strict_heuristics_reach_precision_one_on_their_training_split(rated, seed):
    _, feats, good = rated
    rules, report = fit_strict_heuristics(feats, good, seed, max_rules=3)
    train = report.set_index("split").loc["train"]
    assert 1 <= len(rules) <= 3
    assert train["accepted"] > 0 and train["precision_good"] == 1.0
    assert report["n_tracks"].sum() == len(good)
    test = report.set_index("split").loc["test"]
    assert test["precision_good"] > good.mean()  # strictness carries over to unseen tracks


def test_find_rules_single_rule_and_unseparable_cases():
    f = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5], "b": [5.0, 4, 3, 2, 1, 0]})
    good = np.array([0, 0, 0, 1, 1, 1], bool)
    rules = find_rules(f, good, max_rules=MAX_RULES)
    assert len(rules) == 1 and apply_rules(rules, f).tolist() == good.tolist()
    same = pd.DataFrame({"a": [1.0, 1.0]})
    rules = find_rules(same, np.array([True, False]), max_rules=MAX_RULES)
    assert not apply_rules(rules, same).any()  # cannot separate: accept nothing


def test_rule_text_and_application():
    f = pd.DataFrame({"pitch": [1.0, 2.0, 3.0]})
    assert apply_rules([Rule("pitch", ">=", 2.0)], f).tolist() == [False, True, True]
    assert apply_rules([Rule("pitch", "<=", 2.0)], f).tolist() == [True, True, False]
    assert str(Rule("pitch", ">=", 2.0)) == "pitch >= 2"


@pytest.mark.parametrize("method", ["logreg", "svc_linear", "svc_rbf", "heuristic"])
def test_filter_fit_score_accept_save_load(rated, tmp_path, method):
    ts, _, good = rated
    flt = Filter.fit(ts, good, method=method, seed=0, max_rules=MAX_RULES)
    assert flt.uses_latent and "z2" in flt.columns
    s = flt.score(ts)
    acc = flt.accept(ts)
    assert s.shape == (len(ts),) and ((s >= 0) & (s <= 1)).all()
    precision, _ = precision_recall(acc, good)
    assert acc.any() and precision > 0.6
    if method == "heuristic":
        assert precision == 1.0  # fitted on these very tracks
    loaded = Filter.load(flt.save(tmp_path / "filter.json"))
    np.testing.assert_array_equal(loaded.score(ts), s)
    batch = ts.subset(np.arange(8))
    np.testing.assert_array_equal(loaded.accept(batch), acc[:8])


@pytest.mark.parametrize("method", list(METHODS))
def test_filter_scores_are_scikit_learns(rated, method):
    """The filter keeps only fitted parameters; its scores are the pipeline's own."""
    ts, _, good = rated
    flt = Filter.fit(ts, good, method=method, seed=0)
    x = flt.features(ts).to_numpy(dtype=np.float64)
    pipeline = make_classifier(method, 0).fit(x, good)
    np.testing.assert_allclose(flt.score(ts), classifier_score(pipeline, x), rtol=0, atol=1e-9)
    assert (flt.accept(ts) == pipeline.predict(x).astype(bool)).all()
    # a track's score does not depend on the batch it comes in (rbf works in blocks)
    one = np.concatenate([flt.score(ts.subset([i])) for i in range(0, 300, 7)])
    np.testing.assert_array_equal(one, flt.score(ts)[::7])


def test_filter_file_is_json_and_bad_files_are_named(rated, tmp_path):
    ts, _, good = rated
    flt = Filter.fit(ts, good, method="svc_rbf", seed=0)
    flt.info.update(model="vrash", style="bach", pool="300 tracks")
    path = flt.save(tmp_path / "filter.json")
    data = json.loads(path.read_text())  # plain JSON, nothing executable
    assert data["method"] == "svc_rbf" and data["info"]["style"] == "bach"
    loaded = Filter.load(path)
    assert loaded.info == flt.info and loaded.columns == flt.columns
    assert loaded.windows == flt.windows and loaded.threshold == flt.threshold
    text = path.read_text()
    bad = {
        "truncated": text[: len(text) // 2],
        "empty": "",
        "foreign": json.dumps({"weights": [1, 2]}),
        "old_format": text.replace('"format": 2', '"format": 1'),
        "unknown_method": text.replace('"svc_rbf"', '"forest"'),
        "wrong_shape": json.dumps({**data, "columns": data["columns"][:-1]}),
        "non_finite": text.replace(f'"gamma": {data["params"]["gamma"]!r}', '"gamma": NaN'),
    }
    messages = {
        "truncated": "not a filter file", "empty": "not a filter file", "foreign": "not a filter",
        "old_format": "refit it", "unknown_method": "unknown method 'forest'",
        "wrong_shape": "has shape", "non_finite": "gamma: nan is not a finite number",
    }  # fmt: skip
    for name, content in bad.items():
        (tmp_path / f"{name}.json").write_text(content)
        with pytest.raises(ValueError, match=f"{name}.json.*{messages[name]}"):
            Filter.load(tmp_path / f"{name}.json")
    # a pickle (what older versions wrote) is refused without being unpickled
    (tmp_path / "filter.pkl").write_bytes(pickle.dumps(flt.info))
    with pytest.raises(ValueError, match="filter.pkl is not a filter file"):
        Filter.load(tmp_path / "filter.pkl")


def test_filter_is_deterministic_under_a_seed(rated):
    ts, _, good = rated
    a = Filter.fit(ts, good, method="svc_rbf", seed=5).score(ts)
    b = Filter.fit(ts, good, method="svc_rbf", seed=5).score(ts)
    np.testing.assert_array_equal(a, b)


def test_filter_needs_the_latent_it_was_fitted_with(rated):
    ts, _, good = rated
    flt = Filter.fit(ts, good, include_latent=True)
    no_latent = TrackSet.from_tracks([ts[0]], ts.styles, [0])
    with pytest.raises(ValueError, match="3 latent coordinates"):
        flt.accept(no_latent)
    entropy_only = Filter.fit(ts, good, include_latent=False)
    assert entropy_only.accept(no_latent).shape == (1,)
    assert entropy_only.accept(ts.subset([])).shape == (0,)


def test_filter_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="04_filter"):
        Filter.load(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"not": "a filter"}')
    with pytest.raises(ValueError, match="other.json: not a filter"):
        Filter.load(tmp_path / "other.json")
    with pytest.raises(ValueError, match="unknown method"):
        Filter.fit_features(
            pd.DataFrame({"a": np.arange(6.0)}), np.arange(6) % 2 == 0, method="forest"
        )
    with pytest.raises(ValueError, match="needs max_rules"):
        Filter.fit_features(
            pd.DataFrame({"a": np.arange(6.0)}), np.arange(6) % 2 == 0, method="heuristic"
        )


def test_acceptance_by_group(rated):
    _, feats, good = rated
    groups = np.array(["lm", "vae", "vrash"])[np.arange(len(good)) % 3]
    acc = acceptance_by_group(feats, good, groups, seed=0, folds=3)
    assert acc["group"].tolist() == ["lm", "vae", "vrash"]
    assert acc["n_tracks"].sum() == len(good)
    assert (acc["accepted"] <= acc["n_tracks"]).all()
    # filtering raises the share of good tracks a listener hears
    assert (acc["good_share_after_filter"] > acc["rated_good_share"]).all()


def test_pool_mask_falls_back_to_all_rated_tracks():
    good = np.array([True] * 3 + [False] * 30 + [True] * 20)
    generated = np.arange(53) < 33
    mask, note = pool_mask(generated, good, min_per_class=10)
    assert mask.all() and "only 3 acceptable" in note
    mask, note = pool_mask(generated, good, min_per_class=3)
    assert (mask == generated).all() and note.startswith("preferred")


def test_stream_filter_uses_latent_or_falls_back(rated):
    ts, feats, good = rated
    flt = fit_stream_filter(ts, good, fallback=(feats, good), min_per_class=10)
    assert flt.uses_latent and "stream's model" in flt.info["pool"]
    few = ts.subset(np.arange(12))
    flt = fit_stream_filter(few, np.arange(12) < 1, fallback=(feats, good))
    assert not flt.uses_latent and "pooled" in flt.info["pool"]
    assert flt.accept(few).shape == (12,)
