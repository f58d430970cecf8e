"""Listening without training: which model is loaded, melodies on demand, latent walks,
and notebook 00's panels (built headless, as papermill builds them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrashlib import paths
from vrashlib.config import load_config
from vrashlib.models.module import save_model
from vrashlib.models.training import build_module
from vrashlib.sampling import listen

torch.set_num_threads(1)
CFG = load_config("smoke")


@pytest.fixture
def build(tmp_path, monkeypatch):
    """An empty build folder and weights folder: no model anywhere yet."""
    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    monkeypatch.setattr(paths, "WEIGHTS", tmp_path / "weights")
    monkeypatch.delenv("VRASH_RUN", raising=False)
    return tmp_path


def _checkpoint(kind, tracks, profile="smoke"):
    module = build_module(kind, tracks, CFG).eval()
    save_model(module, paths.run_layout(profile).checkpoint(kind))
    return module


def test_no_model_says_how_to_get_one(build):
    with pytest.raises(listen.NoModelError) as err:
        listen.load_listening_model("vrash", "smoke")
    text = str(err.value)
    assert str(paths.shipped_dir("smoke", 0, "vrash")) in text and "notebook 02" in text
    assert "vrash train --model vrash" in text
    with pytest.raises(ValueError, match="unknown model kind"):
        listen.load_listening_model("gpt", "smoke")


def test_run_checkpoint_when_no_weights_are_shipped(build, tiny_trackset):
    trained = _checkpoint("vrash", tiny_trackset)
    model = listen.load_listening_model("vrash", "smoke")
    assert not model.training and model.kind == "vrash"
    for a, b in zip(model.state_dict().values(), trained.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    models = listen.load_listening_models("smoke")  # lm and vae are missing: logged, skipped
    assert list(models) == ["vrash"]


def test_shipped_weights_come_first(build, tiny_trackset, monkeypatch):
    _checkpoint("lm", tiny_trackset)
    shipped = paths.shipped_dir("smoke", 0, "lm")
    shipped.mkdir(parents=True)
    (shipped / paths.SHIPPED_MANIFEST_FILE).write_text("{}")
    sentinel = build_module("lm", tiny_trackset, CFG)
    monkeypatch.setattr(
        "vrashlib.models.weights.load_shipped", lambda folder: (sentinel, {"folder": folder})
    )
    assert listen.load_listening_model("lm", "smoke") is sentinel


def test_melody_and_walk(build, tiny_trackset):
    model = _checkpoint("vrash", tiny_trackset)
    one = listen.melody(model, "bach", seed=4, max_len=20)
    assert len(one) == 1 and one.style_names()[0] == "bach"
    assert listen.melody(model, "bach", seed=4, max_len=20).content_hash() == one.content_hash()
    real = tiny_trackset.select(split="test")
    steps = listen.walk(model, 4, str(real.ids[0]), "bach", steps=5, real=real, max_len=20)
    assert len(steps) == 5
    z = steps.latent
    np.testing.assert_allclose(z[0], listen.endpoint(model, 4, "bach"), atol=1e-6)
    np.testing.assert_allclose(z[2], (z[0] + z[4]) / 2, atol=1e-5)  # a straight line
    with pytest.raises(KeyError, match="no real track"):
        listen.walk(model, 1, "nope", "bach", real=real)
    with pytest.raises(ValueError, match="at least 2"):
        listen.walk(model, 1, 2, "bach", steps=1)
    lm = build_module("lm", tiny_trackset, CFG)
    with pytest.raises(ValueError, match="no latent space"):
        listen.endpoint(lm, 1, "bach")


def test_write_walk_files(build, tiny_trackset, tmp_path):
    model = _checkpoint("vae", tiny_trackset)
    steps = listen.walk(model, 1, 2, "fiddle", steps=3, max_len=16)
    written = listen.write_walk(steps, tmp_path / "walk")
    assert [p.name for p in written] == [
        "step_00.mid", "step_00.wav", "step_01.mid", "step_01.wav", "step_02.mid", "step_02.wav",
    ]  # fmt: skip
    assert all(p.stat().st_size > 40 for p in written)


def test_real_melodies_from_the_dataset_or_the_shipped_probe(build, tiny_trackset, monkeypatch):
    run = paths.run_layout("smoke")
    assert listen.real_melodies(run, "smoke") is None
    shipped = paths.shipped_dir("smoke", 0, "vrash")
    shipped.mkdir(parents=True)
    (shipped / paths.SHIPPED_MANIFEST_FILE).write_text("{}")
    probe = {"ids": ["a#1"], "styles": ["bach"], "events": [tiny_trackset[0].tolist()], "seed": 0}
    monkeypatch.setattr("vrashlib.models.weights.read_manifest", lambda folder: {"probe": probe})
    real = listen.real_melodies(run, "smoke")
    assert list(real.ids) == ["a#1"] and np.array_equal(real[0], tiny_trackset[0])


def test_notebook_panels_make_a_melody_when_built(build, tiny_trackset):
    from vrashlib.viz.listen import melody_explorer, walk_explorer

    models = {"vrash": _checkpoint("vrash", tiny_trackset)}
    panel = melody_explorer(models, ("bach", "fiddle"), seed=3, max_len=24)
    assert len(panel.melody) == 1 and panel.card.roll.value[:4] == b"\x89PNG"
    assert "data:audio/wav;base64" in panel.card.player.value
    first = panel.melody.content_hash()
    panel.controls[3].value = 4  # another seed
    panel.generate()
    assert panel.melody.content_hash() != first
    real = tiny_trackset.select(split="test")
    walker = walk_explorer(models["vrash"], ("bach",), real, steps=4, max_len=24)
    assert len(walker.melodies) == 4
    shown = walker.card.roll.value
    walker.slider.value = 3
    assert walker.card.roll.value != shown
    assert any(v == str(real.ids[0]) for _, v in walker.ends[0].options)


def test_listen_shows_a_caption_a_piano_roll_and_a_player(tiny_trackset, monkeypatch):
    import IPython.display

    from vrashlib.viz.listen import listen

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    listen(tiny_trackset, 2, seconds=1.0)
    caption, roll, player = shown
    assert str(tiny_trackset.ids[2]) in caption.data and "events" in caption.data
    assert roll.data[:4] == b"\x89PNG"  # an image whatever matplotlib's backend
    assert player.data[:4] == b"RIFF" and int.from_bytes(player.data[24:28], "little") == 22050


def test_vrash_generate_writes_wav_beside_midi(build, tiny_trackset, tmp_path, capsys):
    from vrashlib.cli import main

    run = paths.RunLayout(tmp_path / "run")
    save_model(build_module("lm", tiny_trackset, CFG).eval(), run.checkpoint("lm"))
    out = tmp_path / "melodies"
    argv = ["generate", "--model", "lm", "--style", "bach", "-n", "2", "--max-len", "16"]
    assert main([*argv, "--profile", "smoke", "--run", str(run.root), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "lm_bach_0000.mid", "lm_bach_0000.wav", "lm_bach_0001.mid", "lm_bach_0001.wav",
    ]  # fmt: skip
    assert "MIDI and WAV" in capsys.readouterr().out


def test_vrash_interpolate_walks_between_a_seed_and_a_real_track(
    build, tiny_trackset, tmp_path, capsys
):
    from scipy.io import wavfile

    from vrashlib.cli import main

    run = paths.RunLayout(tmp_path / "run")
    save_model(build_module("vrash", tiny_trackset, CFG).eval(), run.checkpoint("vrash"))
    out = tmp_path / "walk"
    base = ["interpolate", "--profile", "smoke", "--run", str(run.root), "--style", "fiddle"]
    argv = [
        *base,
        "--model",
        "vrash",
        "--start",
        "3",
        "--end",
        "4",
        "--steps",
        "3",
        "--out",
        str(out),
    ]
    assert main([*argv, "--max-len", "12"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["step_00.mid", "step_00.wav", "step_01.mid", "step_01.wav", "step_02.mid",
                     "step_02.wav", "walk.mid", "walk.wav"]  # fmt: skip
    rate, pcm = wavfile.read(out / "walk.wav")
    assert rate == 22050 and len(pcm) > 3 * rate * 1.0  # three melodies and two gaps at least
    assert "from 3 to 4" in capsys.readouterr().out
    # a real end needs the dataset; a model without a latent space is refused
    assert main([*base, "--model", "vrash", "--start", "walk0", "--out", str(out)]) == 2
    assert "no prepared dataset" in capsys.readouterr().err
    save_model(build_module("lm", tiny_trackset, CFG).eval(), run.checkpoint("lm"))
    assert main([*base, "--model", "lm", "--out", str(out)]) == 2
    assert "no latent space" in capsys.readouterr().err
