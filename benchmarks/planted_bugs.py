"""Plant, one at a time, the bugs that an audit once found the tests blind to (issue 14),
and check that the fast tests now catch each of them.

``python benchmarks/planted_bugs.py`` (also run first by ``make mutation``) copies the
library and the tests to ``build/planted/``, runs the fast science tests on the
unchanged copy (they must pass), then for each bug in :data:`BUGS` edits the copy
(an exact text replacement, which must match once), runs the same tests and restores
the file. It prints, per bug, whether a test failed and which one first; exit status
1 when a bug goes unseen or a replacement no longer matches the code (the bug list
then needs updating with the code it describes).

Unlike mutmut's mechanical mutants these are the realistic ones: a sign in the KL,
a classifier fitted on its own test rows, a model trained on every split, a symbol
collision in a feature.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "planted"
sys.path.insert(0, str(ROOT / "benchmarks"))
from mutation import TESTS  # noqa: E402  (the fast science tests, one list)

# (what the bug is, file, the exact code, the code with the bug)
BUGS: tuple[tuple[str, str, str, str], ...] = (
    (
        "the Gaussian KL's `- logvar` flipped to `+ logvar`",
        "vrashlib/models/network.py",
        "return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)",
        "return 0.5 * (mu.square() + logvar.exp() - 1.0 + logvar)",
    ),
    (
        "free bits applied per track instead of per dimension averaged over the batch",
        "vrashlib/models/network.py",
        'terms["kl_penalty"] = torch.clamp(per_dim, min=free_bits).sum() * kl_dim.shape[0]',
        'terms["kl_penalty"] = torch.clamp(kl_dim, min=free_bits).sum()',
    ),
    (
        "free bits applied to the total KL instead of each dimension",
        "vrashlib/models/network.py",
        'terms["kl_penalty"] = torch.clamp(per_dim, min=free_bits).sum() * kl_dim.shape[0]',
        'terms["kl_penalty"] = torch.clamp(per_dim.sum(), min=free_bits * per_dim.numel())'
        " * kl_dim.shape[0]",
    ),
    (
        "the Table 1 classifier fitted on all rows, test rows included",
        "vrashlib/filter/classifiers.py",
        "model = make_classifier(method, seed).fit(x_tr, y_tr)",
        "model = make_classifier(method, seed).fit(x, y)",
    ),
    (
        "the datamodule trains on every split instead of the training split",
        "vrashlib/data/datamodule.py",
        'self.train = self.tracks.select(split="train")',
        "self.train = self.tracks",
    ),
    (
        "the panel's held-out sample drawn from every split, training tracks included",
        "vrashlib/filter/autorater.py",
        "pool = np.flatnonzero(real.split != 0)",
        "pool = np.arange(len(real))",
    ),
    (
        "a pc_change symbol collision: note->rest coded as an interval of 11",
        "vrashlib/filter/features.py",
        "pc_change = np.where(rest_code == 0, (pc[b] - pc[a]) % 12, 11 + rest_code)",
        "pc_change = np.where(rest_code == 0, (pc[b] - pc[a]) % 12, 10 + rest_code)",
    ),
)


def copy_tree() -> None:
    if WORK.exists():
        shutil.rmtree(WORK)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for name in ("vrashlib", "tests"):
        shutil.copytree(ROOT / name, WORK / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", WORK / "pyproject.toml")


def run_tests() -> tuple[bool, str, float]:
    """``(passed, first failing test, seconds)`` of the fast science tests on the copy."""
    env = {
        **os.environ,
        "PYTHONPATH": str(WORK),
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-rf", "-p", "no:cacheprovider"]
    cmd += ["-m", "not slow", "-W", "ignore", *TESTS]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=WORK, env=env, capture_output=True, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out.stdout, flags=re.M)
    if out.returncode not in (0, 1):
        failed = failed or [f"(pytest exit status {out.returncode}: {out.stdout[-300:]})"]
    return out.returncode == 0, (failed[0] if failed else ""), time.perf_counter() - start


def library_is_the_copy() -> bool:
    env = {**os.environ, "PYTHONPATH": str(WORK)}
    code = "import vrashlib; print(vrashlib.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=WORK, env=env, capture_output=True)
    return Path(out.stdout.decode().strip()).is_relative_to(WORK)


def main() -> int:
    copy_tree()
    if not library_is_the_copy():
        print(f"the tests would not import the copy in {WORK}: nothing planted")
        return 1
    ok, first, secs = run_tests()
    print(f"unchanged library: {'tests pass' if ok else 'FAILS ' + first} ({secs:.0f} s)")
    if not ok:
        return 1
    unseen = 0
    for what, file, code, bug in BUGS:
        path = WORK / file
        text = path.read_text()
        if text.count(code) != 1:
            print(f"STALE   {what}: {file} holds the code {text.count(code)} times, not once")
            unseen += 1
            continue
        path.write_text(text.replace(code, bug))
        try:
            ok, first, secs = run_tests()
        finally:
            path.write_text(text)
        verdict = f"caught  by {first}" if not ok else "UNSEEN  (every test passed)"
        unseen += ok
        print(f"{verdict}  [{secs:.0f} s]\n        {what}")
    print(f"\n{len(BUGS) - unseen} of {len(BUGS)} planted bugs caught by the fast tests")
    return 1 if unseen else 0


if __name__ == "__main__":
    sys.exit(main())
