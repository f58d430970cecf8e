"""The claims ledger: the verdict rule on constructed cases, robustness, the ledger, its files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vrashlib.analysis import claims
from vrashlib.analysis.claims import CLAIMS, Check, Claim, judge, ledger, robust, verdict
from vrashlib.analysis.uncertainty import Estimate


@pytest.mark.parametrize(
    ("lo", "hi", "rule", "bound", "expected"),
    [
        # a clear win, a clear loss, an overlap, for each rule
        (0.2, 0.4, "greater", 0.0, "holds"),
        (-0.4, -0.2, "greater", 0.0, "fails"),
        (-0.1, 0.3, "greater", 0.0, "undecided"),
        (-0.4, -0.2, "less", 0.0, "holds"),
        (0.2, 0.4, "less", 0.0, "fails"),
        (-0.1, 0.3, "less", 0.0, "undecided"),
        (0.78, 0.84, "within", (0.74, 0.87), "holds"),
        (0.40, 0.55, "within", (0.74, 0.87), "fails"),
        (0.88, 0.95, "within", (0.74, 0.87), "fails"),
        (0.70, 0.80, "within", (0.74, 0.87), "undecided"),
        (0.10, 0.20, "outside", (-0.05, 0.05), "holds"),
        (-0.20, -0.10, "outside", (-0.05, 0.05), "holds"),
        (-0.02, 0.03, "outside", (-0.05, 0.05), "fails"),
        (0.00, 0.10, "outside", (-0.05, 0.05), "undecided"),
        # touching the boundary is not a win
        (0.0, 0.3, "greater", 0.0, "undecided"),
        (-0.3, 0.0, "greater", 0.0, "fails"),
        (float("nan"), 0.3, "greater", 0.0, "not measured"),
    ],
)
def test_verdict_rule_on_constructed_cases(lo, hi, rule, bound, expected):
    assert verdict(lo, hi, rule, bound) == expected


def test_verdict_rejects_a_reversed_interval_and_unknown_rules():
    with pytest.raises(ValueError, match="reversed"):
        verdict(0.3, 0.1, "greater", 0.0)
    with pytest.raises(ValueError, match="unknown rule"):
        Check("x", "bigger", 0.0)
    with pytest.raises(ValueError, match="pair"):
        Check("x", "within", 0.0)


def test_robustness_looks_at_each_seed_run():
    assert robust((0.1, 0.2, 0.3), "greater", 0.0, "holds") == (
        "yes",
        "3 of 3 seed runs on the claim's side",
    )
    assert robust((0.1, -0.2, 0.3), "greater", 0.0, "holds")[0] == "no"
    assert robust((-0.1, -0.2), "greater", 0.0, "fails")[0] == "yes"
    # undecided: robust when every run points the same way
    assert robust((0.1, 0.2), "greater", 0.0, "undecided")[0] == "yes"
    assert robust((0.1, -0.2), "greater", 0.0, "undecided")[0] == "no"
    assert robust((0.1,), "greater", 0.0, "holds")[0] == claims.NOT_TESTED


def _est(value, lo, hi, per_seed=()):
    return Estimate(value, lo, hi, per_seed=per_seed, unit="bits", seeds="2 seeds")


def test_a_claim_of_several_tests_holds_only_when_all_hold():
    claim = Claim(
        "c",
        "Fig. 0",
        "words",
        "reading",
        (Check("a", "greater", 0.0), Check("b", "less", 1.0)),
        "nb",
    )
    win = {"a": _est(0.5, 0.2, 0.8, (0.4, 0.6)), "b": _est(0.5, 0.2, 0.8, (0.4, 0.6))}
    row = judge(claim, win)
    assert (row["verdict"], row["robust_across_seeds"]) == ("holds", "yes")
    overlap = {**win, "b": _est(0.9, 0.7, 1.1, (0.8, 1.05))}
    row = judge(claim, overlap)
    assert (row["verdict"], row["robust_across_seeds"]) == ("undecided", "no")
    loss = {**win, "a": _est(-0.5, -0.8, -0.2, (-0.4, -0.6))}
    assert judge(claim, loss)["verdict"] == "fails"
    missing = judge(claim, {"a": win["a"]})
    assert missing["verdict"] == "not measured"
    assert missing["robust_across_seeds"] == "n/a (not measured)"
    assert "b: missing" in missing["measurement"]


def test_ledger_has_one_row_per_claim_and_says_what_is_missing():
    table = ledger({})
    assert list(table["claim"]) == [c.key for c in CLAIMS]
    assert set(table["verdict"]) == {"not measured"}
    assert list(table.columns) == list(claims.LEDGER_COLUMNS)
    md = claims.ledger_markdown(table)
    assert "**not measured**" in md


def test_the_ledger_covers_the_issues_list_of_claims():
    keys = {c.key for c in CLAIMS}
    assert {
        "fig4_ordering", "all_three_work", "vrash_most_interesting", "lm_repeats_notes",
        "table1_precision_range", "table1_improves_as_test_shrinks",
        "heuristics_full_precision", "stream_realtime",
    } <= keys  # fmt: skip
    assert sum(k.startswith("fig6_") for k in keys) == 5
    assert len(keys) == len(CLAIMS)


def test_measurements_round_trip_and_one_source_per_name(tmp_path):
    est = Estimate(0.5, 0.4, 0.6, per_seed=(0.45, float("nan")), unit="share", seeds="1", n_units=9)
    claims.save_measurements({"x": est}, "04_filter", tmp_path)
    back = claims.load_measurements(tmp_path)
    assert back["x"].value == 0.5 and back["x"].n_units == 9
    assert back["x"].per_seed[0] == 0.45 and np.isnan(back["x"].per_seed[1])
    claims.save_measurements({"x": est}, "05_mutual_information", tmp_path)
    with pytest.raises(ValueError, match="written by both"):
        claims.load_measurements(tmp_path)
    (tmp_path / "05_mutual_information.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a measurements file"):
        claims.load_measurements(tmp_path)


def test_saved_measurements_are_plain_json(tmp_path):
    est = Estimate(np.float64(0.5), np.float64(0.4), np.float64(0.6))
    path = claims.save_measurements({"x": est}, "nb", tmp_path)
    assert json.loads(path.read_text())["x"]["notebook"] == "nb"


def test_plot_claims_draws_one_panel_per_check_and_says_what_is_missing():
    import matplotlib.pyplot as plt

    from vrashlib.viz.claims import plot_claims

    name = CLAIMS[0].tests[0].name
    fig = plot_claims({name: Estimate(0.02, 0.01, 0.03, per_seed=(0.015, 0.025))})
    n_checks = sum(len(c.tests) for c in CLAIMS)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == n_checks
    texts = [t.get_text() for ax in shown for t in ax.texts]
    uses = sum(t.name == name for c in CLAIMS for t in c.tests)  # Fig. 4 and Sec. 4 share it
    assert texts.count("not measured") == n_checks - uses and "holds" in texts
    plt.close(fig)
