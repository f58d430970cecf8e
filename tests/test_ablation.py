"""The VRASH remedy ablation: variant settings, resumable runs, the target checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from vrashlib import ablation
from vrashlib.ablation import (
    BEFORE,
    BY_NAME,
    ablation_table,
    best_variant,
    results_to_ship,
    run_ablation,
    selected,
    variant_config,
)
from vrashlib.config import load_config
from vrashlib.paths import RunLayout

torch.set_num_threads(1)


def test_every_variant_states_every_remedy_setting():
    cfg = load_config("smoke", {"model.free_bits": 0.7, "model.history_dropout": 0.2})
    before = variant_config(BY_NAME["before"], cfg)
    for key, value in BEFORE.items():
        assert getattr(before.model, key.split(".")[1]) == value  # not the profile's
    assert before.train.max_steps == cfg.ablation.steps
    assert before.train.val_every_steps == cfg.ablation.val_every_steps
    assert before.model.kl_warmup_steps == cfg.ablation.kl_warmup_steps
    plateau = load_config("smoke", {"train.lr_schedule": "plateau"})
    assert variant_config(BY_NAME["before"], plateau).train.lr_schedule == "constant"
    assert (before.train.patience, before.train.max_minutes) == (0, None)  # the budget only
    cyc = variant_config(BY_NAME["cyclical"], cfg)
    assert cyc.model.kl_cycles == 3 and cyc.model.kl_warmup_steps == cfg.ablation.kl_cycle_steps
    combo = variant_config(BY_NAME["fb0.5+hd0.3+bow"], cfg).model
    assert (combo.free_bits, combo.history_dropout, combo.bow_weight) == (0.5, 0.3, 1.0)
    assert combo.hidden == cfg.model.hidden  # everything else is the profile's
    paper = load_config("paper")  # the ablation's own width, where it names one
    wide = variant_config(BY_NAME["fb0.5"], paper).model
    assert (wide.hidden, wide.encoder_hidden) == (paper.ablation.width,) * 2 != (128, 128)
    assert paper.model.hidden == 128  # the profile's own stays
    own = variant_config(BY_NAME["fb0.5"], load_config("paper", {"ablation.width": None}))
    assert (own.model.hidden, own.model.encoder_hidden) == (128, 128)
    assert [v.kind for v in ablation.VARIANTS].count("lm") == 1


def test_selected_keeps_run_order_and_rejects_unknown_names():
    cfg = load_config("smoke", {"ablation.variants": ["vae", "lm"]})
    assert [v.name for v in selected(cfg)] == ["lm", "vae"]
    assert len(selected(load_config("paper", {"ablation.variants": []}))) == len(
        ablation.VARIANTS
    )  # () = all
    default = [v.name for v in selected(load_config("paper"))]
    assert default == [v.name for v in ablation.VARIANTS if v.name in default]  # run order
    assert {"lm", "before", "vae"} <= set(default)  # the references are always measured
    with pytest.raises(KeyError, match="unknown ablation variants"):
        selected(load_config("smoke", {"ablation.variants": ["nope"]}))


def _results() -> pd.DataFrame:
    base = {
        "kl_bits_per_melody": 30.0,
        "active_share": 0.6,
        "recon_free_posterior": 0.5,
        "recon_free_prior": 0.2,
    }
    rows = [
        {"variant": "lm", "kind": "lm", "bound_total": 3.50, **dict.fromkeys(base, np.nan)},
        {"variant": "good", "kind": "vrash", "bound_total": 3.58, **base},
        {"variant": "costly", "kind": "vrash", "bound_total": 3.70, **base},
        {"variant": "collapsed", "kind": "vrash", "bound_total": 3.51, **base},
        {"variant": "vae", "kind": "vae", "bound_total": 5.0, **base},
    ]
    rows[3].update(kl_bits_per_melody=4.0, active_share=0.1, recon_free_posterior=0.2)
    return pd.DataFrame(rows).assign(fingerprint="x")


def test_ablation_table_checks_the_target():
    table = ablation_table(_results(), load_config("smoke")).set_index("variant")
    assert "fingerprint" not in table.columns
    assert table.loc["good", "bound_gap"] == pytest.approx(0.08)
    assert table.loc["good", "meets_target"]
    assert not table.loc["costly", "meets_target"] and table.loc["costly", "kl_ok"]
    assert not table.loc["costly", "bound_ok"]
    col = ["kl_ok", "active_ok", "bound_ok", "recon_ok"]
    assert table.loc["collapsed", col].tolist() == [False, False, True, False]
    assert not table.loc["lm", col].any()  # the reference is not a candidate
    assert best_variant(ablation_table(_results(), load_config("smoke"))) == "good"
    no_good = _results()
    no_good = no_good[no_good["variant"] != "good"]
    assert best_variant(ablation_table(no_good, load_config("smoke"))) == "costly"  # 3 of 4
    tie = _results().assign(bound_total=[3.5, 3.9, 3.9, 3.9, 5.0])  # none within the gap
    tie.loc[tie["variant"] == "collapsed", ["kl_bits_per_melody", "active_share"]] = [30.0, 0.6]
    tie.loc[tie["variant"] == "good", "recon_free_posterior"] = (
        0.6  # 3 of 4, like costly: more gain
    )
    assert best_variant(ablation_table(tie, load_config("smoke"))) == "good"
    assert best_variant(ablation_table(_results().iloc[[0, 4]], load_config("smoke"))) is None


def test_run_ablation_measures_each_variant_once(tiny_trackset, tmp_path, monkeypatch):
    cfg = load_config("smoke", {"ablation.variants": ["lm", "window4", "vae"]})
    cfg = replace(cfg, diagnostics=replace(cfg.diagnostics, n_recon=6, recon_max_len=16))
    run = RunLayout(tmp_path)
    table = run_ablation(tiny_trackset, cfg, run)
    assert list(table["variant"]) == ["lm", "vae", "window4"]  # run order
    assert run.ablation_results.exists() and (run.ablation_dir / "window4" / "model.ckpt").exists()
    assert table["acceptance"].between(0, 1).all()
    assert table["steps"].tolist() == [cfg.ablation.steps] * 3
    lm, vae = table.iloc[0], table.iloc[1]
    assert lm["bound_gap"] == 0 and np.isnan(lm["mi_bits"])
    assert vae["z_dim"] == cfg.model.vae_z_dim and np.isfinite(vae["mi_bits"])

    def fail(*args, **kwargs):
        raise AssertionError("measured twice")

    monkeypatch.setattr(ablation, "measure", fail)
    again = run_ablation(tiny_trackset, cfg, run)
    pd.testing.assert_frame_equal(again, table)
    # a changed setting changes the fingerprint: that variant is measured again
    changed = load_config("smoke", {"ablation.variants": ["lm"], "model.hidden": 24})
    with pytest.raises(AssertionError, match="measured twice"):
        run_ablation(tiny_trackset, changed, run)

    # a fresh run folder uses the shipped measurements (weights/<profile>/seed<N>/ablation.csv)
    # where their fingerprints match, under VRASH_RETRAIN too (it retrains the three
    # models); shipped=False (vrash ablation --fresh) measures here
    shipped = tmp_path / "weights" / "smoke" / f"seed{cfg.seed}" / "ablation.csv"
    shipped.parent.mkdir(parents=True)
    shipped.write_text(run.ablation_results.read_text())
    monkeypatch.setattr(
        ablation.paths, "shipped_ablation", lambda profile, seed: shipped.parent / "ablation.csv"
    )
    fresh = RunLayout(tmp_path / "fresh")
    pd.testing.assert_frame_equal(run_ablation(tiny_trackset, cfg, fresh), table)
    monkeypatch.setenv("VRASH_RETRAIN", "1")
    pd.testing.assert_frame_equal(run_ablation(tiny_trackset, cfg, fresh), table)
    assert not fresh.ablation_results.exists()  # the run folder holds what it measured only
    with pytest.raises(AssertionError, match="measured twice"):
        run_ablation(tiny_trackset, cfg, fresh, shipped=False)

    # one variant more: only it is measured, only it is written into the run folder, and
    # what would be shipped keeps the others; shipped=False then ignores the shipped rows
    monkeypatch.undo()
    more = load_config("smoke", {"ablation.variants": ["lm", "before", "window4", "vae"]})
    more = replace(more, diagnostics=cfg.diagnostics)
    monkeypatch.setattr(
        ablation.paths, "shipped_ablation", lambda profile, seed: shipped.parent / "ablation.csv"
    )
    extended = run_ablation(tiny_trackset, more, fresh)
    assert list(extended["variant"]) == ["lm", "before", "vae", "window4"]
    pd.testing.assert_frame_equal(
        extended[extended["variant"] != "before"].reset_index(drop=True), table
    )
    assert pd.read_csv(fresh.ablation_results)["variant"].tolist() == ["before"]
    assert sorted(results_to_ship(fresh, shipped)["variant"]) == ["before", "lm", "vae", "window4"]
    monkeypatch.setattr(ablation, "measure", fail)
    with pytest.raises(AssertionError, match="measured twice"):
        run_ablation(tiny_trackset, more, fresh, shipped=False)
