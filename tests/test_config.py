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


# ------------------------------------------------------------- typed settings
@pytest.mark.parametrize(
    "setting, expected",
    [
        ("data.midi_dirs=/x=y", "data.midi_dirs expects a list of strings, got '/x=y'"),
        ('train.max_steps="abc"', "train.max_steps expects an integer, got 'abc'"),
        ("train.max_steps=abc", "train.max_steps expects an integer, got 'abc'"),
        ("train.max_steps=true", "train.max_steps expects an integer, got True"),
        ("train.max_steps=2.5", "train.max_steps expects an integer, got 2.5"),
        ("data.use_corpus=1", "data.use_corpus expects true or false, got 1"),
        ("train.max_minutes=soon", "train.max_minutes expects a number or null"),
        ("filter.windows=[8, 9.5]", "filter.windows expects a list of integers"),
        ("seed=x", "seed expects an integer"),
    ],
)
@pytest.mark.parametrize("command", [["train", "--model", "lm"], ["reproduce", "--name", "t"]])
def test_a_mistyped_set_fails_cleanly_with_exit_2(setting, expected, command, capsys):
    from vrashlib.cli import main

    assert main([*command, "--profile", "smoke", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vrash {command[0]}: {expected}") and "Traceback" not in err
    assert "e.g. --set" in err  # the expected form


def test_the_error_shows_the_expected_form():
    from vrashlib.config import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config("smoke", {"data.midi_dirs": "/x=y"})
    assert str(info.value).endswith("""e.g. --set 'data.midi_dirs=["~/midi=pop"]'""")
    assert isinstance(info.value, ValueError)


def test_values_are_converted_to_the_field_types(tmp_path):
    cfg = load_config(
        "smoke",
        {
            "train.lr": 1,  # an int is a float
            "filter.test_shares": [1, 0.5],
            "data.max_tunes_per_collection": None,
            "train.devices": "auto",
            "data.midi_dirs": [str(tmp_path), f"{tmp_path}=pop"],
        },
    )
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.filter.test_shares == (1.0, 0.5)
    assert cfg.data.max_tunes_per_collection is None and cfg.train.devices == "auto"
    assert cfg.data.midi_dirs == (str(tmp_path), f"{tmp_path}=pop")


def test_folder_settings_must_name_existing_folders(tmp_path):
    from vrashlib.config import ConfigError

    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=f"data.music_dirs: folder '{missing}'.*does not exist"):
        load_config("smoke", {"data.music_dirs": [f"{missing}=reels"]})
    (tmp_path / "file.mid").write_text("")
    with pytest.raises(ConfigError, match="data.midi_dirs: .*file.mid.* is not a folder"):
        load_config("smoke", {"data.midi_dirs": [str(tmp_path / "file.mid")]})


def test_stream_style_must_be_a_generated_style():
    from vrashlib.config import ConfigError

    with pytest.raises(ConfigError, match="stream.style 'jazz' is not one of generate.styles"):
        load_config("smoke", {"stream.style": "jazz"})
    cfg = load_config("smoke", {"stream.style": "jazz", "generate.styles": ["jazz", "pop"]})
    assert cfg.stream.style == "jazz"
