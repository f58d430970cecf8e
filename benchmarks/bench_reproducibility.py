"""Cross-CPU reproducibility: which stages change on another CPU, and what pinning costs.

Every run pins its CPU kernels (``vrashlib.reproducibility``) so that every x86-64
CPU with AVX2 computes the same numbers. Other CPUs are emulated on this one by
limiting the instruction sets the libraries may use (``EMULATED``); each setting
runs in a fresh process, since the libraries read them when they load.

``--stages`` (default): every stage on fixed inputs (synthetic melodies, a seeded
paper-size network), under each emulated CPU, with and without pinning; prints one
hash per stage and "same"/"DIFF" against this CPU's pinned result.
``--speed``: training events/s (paper-size LM and VRASH networks, batch 128, two
threads) and sampling ms/event (batch 1: the compiled loop; batch 64: torch) with
and without pinning, alternating, best of ``--rounds``.
``--write-reference``: runs the smoke reproduction (or reads ``--build DIR`` of one)
and writes the reference numbers ``tests/test_reproducibility.py`` compares a rebuilt
smoke run with (``tests/data/smoke_reference.json``). Run it after any change that
moves the smoke profile's numbers (data, models, sampling, filter).
``--smoke-under-emulation``: the smoke run on each emulated CPU against that
reference: the largest difference per table column (what the test's
``UNPINNED_TOLERANCE`` must allow), or none.

Run: ``.venv/bin/python benchmarks/bench_reproducibility.py [--stages] [--speed]
[--rounds 3] [--write-reference [--build DIR]] [--smoke-under-emulation]``. Prints,
asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vrashlib import paths
from vrashlib.files import atomic_write_text
from vrashlib.reproducibility import (
    OPT_OUT,
    PINNED,
    compare_reference,
    cpu_vendor,
    kernel_status,
    reference_numbers,
    run_digests,
)

REFERENCE = paths.ROOT / "tests" / "data" / "smoke_reference.json"
_NO_AVX512_NUMPY = "X86_V4 AVX512_ICL AVX512_SPR"
# Other CPUs, as limits on the instruction sets of each library (numba compiles for
# the named CPU). MKL_ENABLE_INSTRUCTIONS overrides MKL_CBWR's code path, so an
# emulated AVX-512 CPU would not run MKL's pinned AVX2 path; AVX2 and SSE4.2 CPUs do.
EMULATED: dict[str, dict[str, str]] = {
    "this CPU": {},
    "AVX2 CPU": {
        "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": _NO_AVX512_NUMPY,
        "NUMBA_CPU_NAME": "haswell", "ONEDNN_MAX_CPU_ISA": "AVX2",
    },
    "SSE4.2 CPU (cannot be pinned)": {
        "ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "OPENBLAS_CORETYPE": "Nehalem", "NPY_DISABLE_CPU_FEATURES": "X86_V3 " + _NO_AVX512_NUMPY,
        "NUMBA_CPU_NAME": "nehalem", "ONEDNN_MAX_CPU_ISA": "SSE41",
    },
}  # fmt: skip


# ------------------------------------------------------------------ children
def _digest(*arrays) -> str:
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype}{a.shape}".encode() + a.tobytes())
    return h.hexdigest()[:10]


def _melodies(n: int, length: int, seed: int):
    """Seeded random-walk melodies in two styles (fixed inputs for every stage)."""
    import numpy as np

    from vrashlib.data.encoding import DUR_ONE
    from vrashlib.data.tracks import TrackSet

    rng = np.random.default_rng(seed)
    tracks = []
    for _ in range(n):
        pitch = np.clip(60 + np.cumsum(rng.choice([-2, -1, 0, 1, 2], size=length)), 40, 90)
        dur = rng.choice([DUR_ONE, DUR_ONE - 12, DUR_ONE + 12], size=length)
        tracks.append(np.stack([pitch % 12, pitch // 12 - 1, dur], axis=1).astype(np.int16))
    split = np.where(np.arange(n) % 8 == 0, 1, 0).astype(np.uint8)  # 1/8 validation
    return TrackSet.from_tracks(
        tracks, ("bach", "fiddle"), np.arange(n) % 2, split=split,
        ids=[f"walk{i}" for i in range(n)],
    )  # fmt: skip


def _paper_size(**changes):
    from vrashlib.config import load_config

    overrides = {
        "train.batch_size": 32, "train.max_len": 64, "train.max_steps": 3,
        "train.val_every_steps": 3, "train.max_minutes": 30.0,
    }  # fmt: skip
    return load_config("paper", {**overrides, **changes})


def child_stages() -> dict[str, str]:
    """A hash per stage, each on fixed inputs, so that a difference belongs to its stage."""
    import numpy as np
    import pandas as pd

    from vrashlib.analysis.mi import mutual_information
    from vrashlib.filter.classifiers import METHODS, Filter, params_score
    from vrashlib.filter.features import compute_features
    from vrashlib.models.module import load_model
    from vrashlib.models.training import build_module, evaluate, train_model
    from vrashlib.sampling.generate import sample

    out: dict[str, str] = {}
    tracks, cfg = _melodies(64, 64, seed=0), _paper_size()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("lm", "vrash"):
            result = train_model(kind, tracks, cfg, Path(tmp) / kind, progress=False, force=True)
            weights = load_model(result.checkpoint).state_dict().values()
            out[f"train {kind}"] = _digest(*[v.numpy() for v in weights])
    for kind in ("lm", "vrash"):
        model = build_module(kind, tracks, cfg).eval()  # seeded: the same weights everywhere
        out[f"evaluate {kind}"] = _digest(np.array(sorted(evaluate(model, tracks).items()), str))
        for batch, how in ((8, "torch"), (2, "compiled")):
            gen = sample(model, 8, "bach", max_len=64, batch_size=batch, seed=0)
            out[f"sample {kind} ({how})"] = _digest(gen.events, gen.offsets)
    out["features"] = _digest(compute_features(tracks, include_latent=False).to_numpy())
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(400, 12)), columns=[f"f{i}" for i in range(12)])
    y = (x["f0"] + x["f1"] ** 2 + rng.normal(size=400)) > 1
    for method in METHODS:
        flt = Filter.fit_features(x, y.to_numpy(), method=method, seed=0)
        fitted = [np.asarray(v) for k, v in sorted(flt.params.items()) if k != "kernel"]
        out[f"filter {method}: fit"] = _digest(*fitted)
        out[f"filter {method}: scores"] = _digest(params_score(flt.params, x.to_numpy()))
    out["mutual information"] = _digest(mutual_information(tracks, np.arange(0, 33)))
    return out


def child_speed() -> dict[str, float]:
    """Training events/s and sampling ms/event with this process's kernels."""
    import torch

    from vrashlib.models.network import build_net
    from vrashlib.models.training import build_module
    from vrashlib.sampling.generate import sample

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_models import network_train_rate  # the same timed steps as bench_models

    cfg = _paper_size()
    res: dict[str, float] = {}
    torch.set_num_threads(2)
    T, B = 64, 128
    for kind in ("lm", "vrash"):
        torch.manual_seed(0)
        net = build_net(kind, 2, cfg.model)
        rate = network_train_rate(net, T, B, reps=4)
        res[f"train {kind}, batch {B}, 2 threads (events/s)"] = rate
    model = build_module("vrash", _melodies(4, 16, 0), cfg).eval()
    for n, batch, length in ((8, 1, 256), (128, 64, 128)):
        sample(model, batch, "bach", max_len=8, batch_size=batch, seed=1)  # warm-up, compile
        start = time.perf_counter()
        gen = sample(
            model, n, "bach", max_len=length, min_len=length, batch_size=batch, seed=0, threads=1
        )  # every melody runs to max_len
        seconds = time.perf_counter() - start
        res[f"sample batch {batch}, 1 thread (ms/event)"] = 1e3 * seconds / len(gen.events)
    return res


# ------------------------------------------------------------------ parent
def _env(pinned: bool, cpu: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PINNED and k != OPT_OUT}
    env.update(cpu)
    if not pinned:
        env[OPT_OUT] = "1"
    return env


def _run_child(mode: str, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode], env=env, capture_output=True, text=True,
        timeout=3600, cwd=paths.ROOT,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stages() -> None:
    print("== stage hashes on fixed inputs; 'same'/'DIFF' against this CPU, pinned")
    runs = {}
    for cpu, limits in EMULATED.items():
        for pinned in (True, False):
            if pinned and "cannot" in cpu:
                continue  # an SSE4.2 CPU cannot run the pinned AVX2 kernels
            label = f"{cpu}, {'pinned' if pinned else 'native kernels'}"
            t0 = time.perf_counter()
            runs[label] = _run_child("stages", _env(pinned, limits))
            print(f"   ran {label} in {time.perf_counter() - t0:.0f} s", flush=True)
    base = runs["this CPU, pinned"]
    labels = list(runs)
    print(f"{'stage':32s} " + " | ".join(f"{lab[:26]:26s}" for lab in labels))
    for stage, ref in base.items():
        cells = [
            f"{runs[lab][stage]} {'same' if runs[lab][stage] == ref else 'DIFF'}" for lab in labels
        ]
        print(f"{stage:32s} " + " | ".join(f"{c:26s}" for c in cells))


def speed(rounds: int) -> None:
    print(f"== speed with and without pinned kernels (best of {rounds}, alternating)")
    best: dict[str, dict[str, float]] = {"pinned": {}, "native": {}}
    for _ in range(rounds):
        for name, pinned in (("pinned", True), ("native", False)):
            for key, value in _run_child("speed", _env(pinned, {})).items():
                better = max if "events/s" in key else min
                best[name][key] = better(best[name].get(key, value), value)
    for key in best["pinned"]:
        p, n = best["pinned"][key], best["native"][key]
        cost = (n / p - 1) if "events/s" in key else (p / n - 1)
        print(f"{key:45s} pinned {p:10.4g}  native {n:10.4g}  cost of pinning {cost:+.0%}")


def _smoke_run(env: dict[str, str]) -> Path:
    """The smoke reproduction into a new temporary build folder; returns the folder."""
    build = Path(tempfile.mkdtemp(prefix="vrash-smoke-"))
    print(f"== smoke reproduction into {build} (a few minutes)", flush=True)
    env = {**env, "VRASH_BUILD": str(build), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "vrashlib.cli", "reproduce", "--profile", "smoke"]
    subprocess.run(cmd, env=env, check=True, cwd=paths.ROOT, stdout=subprocess.DEVNULL)
    return build


def smoke_under_emulation() -> None:
    """The smoke run on emulated CPUs against the committed reference: what the tables
    of an unpinned CPU move by (the test's tolerance), and that pinned ones do not."""
    reference = json.loads(REFERENCE.read_text())
    for cpu, limits in EMULATED.items():
        pinned = "cannot" not in cpu
        tables = reference_numbers(_smoke_run(_env(pinned, limits)) / "figures" / "smoke")
        print(f"-- {cpu}, {'pinned' if pinned else 'native kernels'}:")
        for table, columns in reference["tables"].items():
            for column, want in columns.items():
                got = tables.get(table, {}).get(column)
                if got == want:
                    continue
                pairs = [
                    (a, b) for a, b in zip(got or [], want, strict=False)
                    if isinstance(a, int | float) and isinstance(b, int | float)
                ]  # fmt: skip
                worst = max((abs(a - b) for a, b in pairs), default=float("nan"))
                print(f"   {table}.{column}: largest difference {worst:.3g}")
        print("   (every other reference number the same)")


def write_reference(build: Path | None) -> None:
    if build is None:
        build = _smoke_run(dict(os.environ))
    new = {
        "pinned": kernel_status().pinned,
        "cpu_vendor": cpu_vendor(),
        "tables": reference_numbers(build / "figures" / "smoke"),
        "digests": run_digests(build / "runs" / "smoke"),
    }
    if not new["pinned"]:
        print(f"warning: kernels not pinned here ({kernel_status().reason}): the reference "
              "will hold only on CPUs like this one")  # fmt: skip
    if REFERENCE.exists():
        old = json.loads(REFERENCE.read_text())
        changed = compare_reference(old.get("tables", {}), new["tables"])
        changed += [
            f"digest of {k}: {old.get('digests', {}).get(k)} -> {v}"
            for k, v in new["digests"].items()
            if old.get("digests", {}).get(k) != v
        ]
        print(f"{len(changed)} differences from the old reference" + ":" * bool(changed))
        for line in changed:
            print("   " + line[:200])
    atomic_write_text(REFERENCE, json.dumps(new, indent=1) + "\n")
    print(f"wrote {REFERENCE}: {len(new['tables'])} tables, {len(new['digests'])} digests")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stages", action="store_true", help="stage hashes under emulated CPUs")
    ap.add_argument("--speed", action="store_true", help="the cost of pinning")
    ap.add_argument("--rounds", type=int, default=3, help="speed: alternating rounds")
    ap.add_argument("--write-reference", action="store_true", help="tests' smoke reference")
    ap.add_argument("--build", type=Path, default=None, help="an existing smoke build folder")
    ap.add_argument(
        "--smoke-under-emulation", action="store_true",
        help="the smoke run on each emulated CPU against the reference",
    )  # fmt: skip
    ap.add_argument("--child", choices=("stages", "speed"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = child_stages() if args.child == "stages" else child_speed()
        print(json.dumps(result))
        return
    if args.write_reference:
        write_reference(args.build)
        return
    if args.smoke_under_emulation:
        smoke_under_emulation()
        return
    if args.stages or not args.speed:
        stages()
    if args.speed or not args.stages:
        speed(args.rounds)


if __name__ == "__main__":
    main()
