import pytest

from vrashlib import paths
from vrashlib.notebook import setup


def test_setup_gives_config_run_and_figures_folders():
    cfg, run, out = setup("smoke", {"train.max_steps": 3}, seed=5)
    assert cfg.train.max_steps == 3 and cfg.data.seed == 5
    assert run.root == paths.run_dir("smoke") and out == paths.figures_dir("smoke")
    assert run.checkpoint("vrash") == run.root / "models" / "vrash" / paths.MODEL_FILE
    assert out != paths.FIGURES  # a smoke run never writes the committed figures


def test_setup_rejects_unknown_parameters():
    with pytest.raises(KeyError):
        setup("smoke", {"train.max_stepz": 3})


def test_setup_shows_library_info_messages_once(capsys):
    import logging

    setup("smoke")
    setup("smoke")  # idempotent: one handler, each message printed once
    capsys.readouterr()
    logging.getLogger("vrashlib.models.training").info("lm: up to date")
    logging.getLogger("vrashlib.models.training").debug("not shown")
    assert capsys.readouterr().out == "lm: up to date\n"


def test_overrides_never_write_into_the_committed_figures(monkeypatch, tmp_path):
    monkeypatch.delenv("VRASH_RUN", raising=False)
    monkeypatch.setattr(paths, "BUILD", tmp_path)
    committed = {p: p.stat().st_mtime_ns for p in paths.FIGURES.glob("*")}
    with pytest.raises(ValueError, match="Name the run") as err:
        setup("paper", {"filter.ratings_csv": "mine.csv"})
    assert "VRASH_RUN=NAME" in str(err.value) and "filter.ratings_csv" in str(err.value)
    assert {p: p.stat().st_mtime_ns for p in paths.FIGURES.glob("*")} == committed
    setup("paper", {})  # no overrides: the paper profile as committed
    monkeypatch.setenv("VRASH_RUN", "mine")  # a named run writes under build/
    _, run, out = setup("paper", {"train.max_steps": 3})
    assert out == tmp_path / "figures" / "mine" and run.root == tmp_path / "runs" / "mine"
