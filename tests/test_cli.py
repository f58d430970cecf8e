"""The ``vrash`` command line: the README's own-music commands, help, version, logging, errors."""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from pathlib import Path

import pytest

from vrashlib import __version__, paths
from vrashlib.cli import main
from vrashlib.config import load_config

DATA = Path(__file__).parent / "data"


def readme_own_music_commands() -> list[list[str]]:
    """The first command block of the README's "Your own music" section, as argv lists."""
    section = (paths.ROOT / "README.md").read_text().split("## Your own music\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


@pytest.fixture
def my_midi(tmp_path: Path) -> Path:
    """A user's MIDI folder: our broken/known files and the MIDI files music21 ships."""
    folder = tmp_path / "my_midi"
    shutil.copytree(DATA / "midi", folder)
    for f in paths.music21_midi_examples():
        shutil.copy(f, folder / f.name)
    return folder


def test_readme_own_music_commands_work_as_typed(tmp_path, my_midi, monkeypatch, capsys):
    """Exactly the README's commands (smoke profile, paths moved into tmp_path)."""
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    commands = readme_own_music_commands()
    assert [c[:2] for c in commands] == [
        ["vrash", "prepare"], ["vrash", "train"], ["vrash", "generate"], ["vrash", "stream"],
    ]  # fmt: skip

    def local(token: str) -> str:
        if token == "~/my_midi":
            return str(my_midi)
        return str(tmp_path / token) if token.startswith("build/") else token

    for command in commands:
        argv = [local(t) for t in command[1:]] + ["--profile", "smoke"]
        assert main(argv) == 0, command
        printed = capsys.readouterr()
        assert "Traceback" not in printed.err
        if command[1] == "train":
            run = paths.RunLayout(tmp_path / "build" / "runs" / "my_dataset")
            assert str(run.checkpoint("lm")) in printed.out  # where the checkpoint went
        if command[1] == "stream":
            assert "repeat and copy checks" in printed.err  # no filter fitted: said so

    dataset = tmp_path / "build" / "my_dataset"
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["params"]["use_corpus"] is False and manifest["styles"] == ["pop"]
    assert paths.run_for_dataset(dataset).checkpoint("lm").exists()
    assert len(list((tmp_path / "build" / "my_melodies").glob("*.mid"))) == 3
    assert (tmp_path / "build" / "my_stream" / "stream.mid").exists()

    # A style the model does not know is a usage mistake that names the known ones.
    stream = [local(t) for t in commands[3][1:]] + ["--profile", "smoke"]
    assert main([*stream[: stream.index("--style") + 1], "jazz", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "vrash stream: style 'jazz' is unknown" in err and "['pop']" in err
    # Training again finds the model up to date; --run pointing at a dataset gets a hint.
    assert main([local(t) for t in commands[1][1:]] + ["--profile", "smoke"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["train", "--model", "lm", "--run", str(dataset), "--profile", "smoke"]) == 2
    assert f"pass --dataset {dataset}" in capsys.readouterr().err


def test_run_for_dataset():
    assert paths.run_for_dataset("build/my_dataset").root == paths.BUILD / "runs" / "my_dataset"
    run = paths.RunLayout(paths.BUILD / "runs" / "smoke")
    assert paths.run_for_dataset(run.dataset) == run  # a run's own dataset stays in its run


def test_version_and_help_show_defaults(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"vrash {__version__}"
    for command in ("prepare", "train", "generate", "stream", "reproduce"):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: paper)" in text and "--set KEY=VALUE" in text, command
    assert main(["stream", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "stream.style: paper bach, smoke bach" in text
    assert "stream.music_minutes: paper 10.0, smoke 2.0" in text


def test_usage_mistakes_exit_2_without_traceback(tmp_path, capsys):
    run = ["--run", str(tmp_path), "--profile", "smoke"]
    cases = [
        (["train", "--model", "lm", *run], "vrash train: no prepared dataset"),
        (["train", "--model", "lm", *run, "--set", "train.max_stepz=3"], "unknown setting"),
        (["stream", *run, "--set", "stream.style=jazz"], "generate.styles"),
        (["generate", "--model", "lm", "--style", "x", "--out", "o", *run], "no trained model"),
        (["stream", "--minutes", "abc"], "invalid float value"),  # argparse's own check
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


def test_verbose_and_quiet(tmp_path, capsys):
    argv = ["train", "--model", "lm", "--run", str(tmp_path), "--profile", "smoke"]
    assert main(argv) == 2
    assert "INFO run folder" in capsys.readouterr().err  # the default: progress messages
    assert main(["-q", *argv]) == 2
    assert "INFO" not in capsys.readouterr().err
    assert main([*argv, "-v"]) == 2  # also after the subcommand
    err = capsys.readouterr().err
    assert "DEBUG where it failed" in err and "Traceback" in err
    assert not logging.getLogger("vrashlib").handlers  # main leaves logging as it was


def test_ablation_of_another_config_never_overwrites_the_profiles_figures(tmp_path, monkeypatch):
    """`vrash ablation --set ...` (a longer budget, say) writes its table into its run
    folder; only the profile's own ablation writes where the figures go."""
    import pandas as pd

    from vrashlib import ablation
    from vrashlib.data import prepare

    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")  # the smoke profile's figures too
    dataset = tmp_path / "build" / "runs" / "smoke" / "dataset"
    dataset.mkdir(parents=True)
    (dataset / "tracks.npz").write_bytes(b"")
    monkeypatch.setattr(prepare, "load_prepared", lambda d: type("P", (), {"tracks": None}))
    table = pd.DataFrame(
        {"variant": ["before"], "kind": ["vrash"], "bound_gap": [0.3], "meets_target": [False]}
    )
    for col in ("kl_bits_per_melody", "active_units", "mi_bits"):
        table[col] = 1.0
    for col in ("recon_free_posterior", "recon_free_prior", "acceptance"):
        table[col] = 0.1
    steps, used_shipped = [], []

    def fake_run(tracks, cfg, run, *, shipped=True):
        steps.append(cfg.ablation.steps)
        used_shipped.append(shipped)
        return table

    monkeypatch.setattr(ablation, "run_ablation", fake_run)
    monkeypatch.setattr(ablation, "best_variant", lambda t: "before")
    figures = paths.figures_dir("smoke")
    run = paths.run_layout("smoke")

    assert main(["ablation", "--profile", "smoke", "--set", "ablation.steps=400"]) == 0
    assert (run.ablation_dir / "table_vrash_ablation.csv").exists()
    assert not (figures / "table_vrash_ablation.csv").exists()
    assert main(["ablation", "--profile", "smoke"]) == 0
    assert (figures / "table_vrash_ablation.csv").exists()
    assert steps == [400, load_config("smoke").ablation.steps]
    assert main(["ablation", "--profile", "smoke", "--fresh"]) == 0
    assert used_shipped == [True, True, False]  # --fresh: not the shipped measurements
