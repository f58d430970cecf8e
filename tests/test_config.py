import dataclasses

import pytest

from vrashlib.config import PROFILES, load_config, to_dict


def test_profiles_load_and_differ():
    paper, smoke = load_config("paper"), load_config("smoke")
    assert paper.profile == "paper" and smoke.profile == "smoke"
    assert smoke.data.max_tunes_per_collection is not None
    assert paper.data.max_tunes_per_collection is None
    assert smoke.model.hidden < paper.model.hidden


def test_every_profile_setting_is_a_real_field():
    for name in PROFILES:
        load_config(name)  # raises on an unknown key


@pytest.mark.parametrize("key", ["model.hiden", "nosuch.field", "model", "profile"])
def test_unknown_keys_raise(key):
    with pytest.raises(KeyError):
        load_config("smoke", {key: 1})


def test_unknown_profile_raises():
    with pytest.raises(KeyError, match="unknown profile"):
        load_config("papre")


def test_seed_reaches_every_stage():
    cfg = load_config("smoke", seed=7)
    seeds = [v["seed"] for v in to_dict(cfg).values() if isinstance(v, dict) and "seed" in v]
    assert seeds and all(s == 7 for s in seeds)


def test_config_is_frozen_and_lists_become_tuples():
    cfg = load_config("smoke", {"generate.styles": ["bach"]})
    assert cfg.generate.styles == ("bach",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model.hidden = 3  # type: ignore[misc]


def test_reproduce_overrides_are_parsed_and_checked(capsys):
    from vrashlib.cli import main, parse_overrides

    assert parse_overrides(
        ["train.max_steps=20", "data.use_corpus=false", "data.folder_style=pop"]
    ) == {
        "train.max_steps": 20,
        "data.use_corpus": False,
        "data.folder_style": "pop",
    }
    assert (
        main(["reproduce", "--profile", "smoke", "--set", "train.max_stepz=3", "--name", "x"]) == 2
    )
    assert "unknown setting" in capsys.readouterr().err
    assert main(["reproduce", "--profile", "paper", "--set", "train.max_steps=3"]) == 2
    assert "--name" in capsys.readouterr().err


def test_a_named_run_never_writes_the_committed_figures(monkeypatch):
    from vrashlib import paths

    monkeypatch.setenv("VRASH_RUN", "mine")
    assert paths.figures_dir("paper") == paths.BUILD / "figures" / "mine"
    assert paths.run_dir("paper") == paths.BUILD / "runs" / "mine"
