"""Shared fixtures: tiny, seeded track sets (see also the real-corpus fixtures in the test modules)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from vrashlib.data.encoding import DUR_ONE, OCT_NONE, REST  # noqa: E402
from vrashlib.data.tracks import TrackSet  # noqa: E402


def random_walk_tracks(n: int, seed: int = 0, min_len: int = 20, max_len: int = 80):
    """Stepwise random melodies around C4 with a few duration values and rests."""
    rng = np.random.default_rng(seed)
    tracks = []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        steps = rng.choice([-2, -1, 0, 1, 2, 3, -3], size=length)
        pitch = np.clip(60 + np.cumsum(steps), 40, 90)
        dur = rng.choice([DUR_ONE, DUR_ONE - 12, DUR_ONE + 12], size=length)
        ev = np.stack([pitch % 12, pitch // 12 - 1, dur], axis=1).astype(np.int16)
        rest = rng.random(length) < 0.05
        ev[rest, 0] = REST
        ev[rest, 1] = OCT_NONE
        tracks.append(ev)
    return tracks


def pitch_track(*pitches, dur: int = DUR_ONE) -> np.ndarray:
    """A track of MIDI pitches (``None``: a rest), every event of duration index ``dur``."""
    rows = [(REST, OCT_NONE, dur) if p is None else (p % 12, p // 12 - 1, dur) for p in pitches]
    return np.array(rows, np.int16)


def walk_trackset(n: int = 40, seed: int = 1, min_len: int = 20, max_len: int = 80) -> TrackSet:
    """``n`` random-walk tracks in two styles (alternating), split 70/15/15 in order."""
    n_train, n_val = int(n * 0.7), int(n * 0.15)
    split = np.array([0] * n_train + [1] * n_val + [2] * (n - n_train - n_val), dtype=np.uint8)
    return TrackSet.from_tracks(
        random_walk_tracks(n, seed=seed, min_len=min_len, max_len=max_len),
        ("bach", "fiddle"), np.arange(n) % 2, split=split, ids=[f"walk{i}" for i in range(n)],
    )  # fmt: skip


@pytest.fixture
def tiny_trackset() -> TrackSet:
    """40 random-walk tracks in two styles, split 70/15/15."""
    return walk_trackset(40, seed=1)


@pytest.fixture(scope="session")
def smoke_reproduction(tmp_path_factory):
    """Every notebook run once per test session on the smoke profile, into a
    temporary build folder (``VRASH_BUILD``): the command's exit status and output,
    and where the figures and executed notebooks went. Shared by the slow tests
    that check that the outputs exist and what they hold (run once, used by both)."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from vrashlib import paths

    build = tmp_path_factory.mktemp("smoke_build")
    committed = {p: p.stat().st_mtime_ns for p in paths.FIGURES.glob("*")}
    env = {**os.environ, "VRASH_BUILD": str(build), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "vrashlib.cli", "reproduce", "--profile", "smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    return SimpleNamespace(
        committed_before=committed,  # modification times of figures/ before the run
        returncode=proc.returncode,
        output=proc.stdout[-3000:] + proc.stderr[-5000:],
        build=build,
        figures=build / "figures" / "smoke",
        notebooks=build / "notebooks" / "smoke",
    )


def assert_decoder_follows_network(module, decoder_cls, ev: np.ndarray, drop_at: int) -> None:
    """Feed melody ``ev`` (end marker included) step by step to two rows of a sampler
    decoder (``NumpyDecoder`` or ``TorchDecoder``) of a VRASH ``module``, each with its own
    z; the second row ends before step ``drop_at`` (``keep``). At every step the logits,
    event head included, equal the network's teacher-forced ones."""
    import torch

    from vrashlib.sampling.sampler import DUR_START, OCT_START, NumpyDecoder, export_sampler

    p = export_sampler(module)
    z = np.random.default_rng(0).standard_normal((2, p["z_dim"])).astype(np.float32)
    events = torch.from_numpy(ev.astype(np.int64))[:, None].expand(-1, 2, -1)
    as_index = np.asarray if decoder_cls is NumpyDecoder else torch.as_tensor
    with torch.inference_mode():
        want = module.net(
            events, torch.full((2,), len(ev)), torch.tensor([1, 1]), z=torch.tensor(z)
        )
        dec = decoder_cls(p, 1, z, 2)
        prev, n = dec.start(), 2
        for t in range(len(ev)):
            if t == drop_at:  # a melody that ends drops out of every per-row state
                dec.keep(as_index(np.array([True, False])))
                prev = tuple(x[:1] for x in prev)
                n, want = 1, {k: v[:, :1] for k, v in want.items() if v.ndim == 3}
            logits = np.array(dec.numpy(dec.advance(*prev)))  # a copy: buffers are reused
            pc = as_index(np.full(n, ev[t, 0], np.int64))
            octv = as_index(np.full(n, ev[t, 1], np.int64))
            logits[:, OCT_START:DUR_START] += dec.numpy(dec.octave(pc))
            logits[:, DUR_START:] += dec.numpy(dec.duration(octv))
            got = torch.cat([want[h][t] for h in ("pc", "oct", "dur")], dim=-1).numpy()
            np.testing.assert_allclose(logits, got, rtol=1e-4, atol=1e-4, err_msg=f"step {t}")
            prev = tuple(as_index(np.full(n, ev[t, i], np.int64)) for i in range(3))
