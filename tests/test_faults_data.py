"""Fault injection on ``prepare``: kill it mid-write, break its renames, damage its files.

Every scenario injects one fault into a prepared dataset (or into ``prepare`` while
it writes one) and then asks for the dataset again. It *survives* when the answer
is the dataset intact or a clean rebuild identical to a fresh one, and every load
of a damaged file fails with an error that names the file (never a raw traceback,
never silent wrong data). *Data lost* counts scenarios after which the dataset
differs from a fresh build or a damaged file loaded without complaint.

- ``sigkill_*``: a real ``SIGKILL`` of a ``prepare`` subprocess at each step of the
  write (after parsing; mid-write of ``tracks.npz``; every file written, before
  the renames; between moving the previous dataset aside and moving the new one
  in; after both, while removing the previous one), then a rerun;
- ``rename_fails_*``: the atomic rename raising ``OSError`` at the same steps, in process;
- ``damaged_*``: each file of a dataset truncated to half, emptied, a byte flipped
  (tracks.npz, manifest.json, ingest_report.csv, track_stats.csv, funnel.csv),
  or deleted: ``load_prepared`` names it, ``prepare`` rebuilds.

``.venv/bin/python benchmarks/faults_data.py`` runs the same scenarios and prints
faults injected / survived / data lost. Last run: 25 injected, 25 survived, 0 lost.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vrashlib.config import DataConfig
from vrashlib.data.prepare import DATA_FILES, MANIFEST, DatasetError, load_prepared, prepare

DATA = Path(__file__).parent / "data"
CFG = DataConfig(workers=1)
NEW = dataclasses.replace(CFG, min_events=20)  # the parameters of the write that is hit
# os.replace calls of a write over an existing dataset: 1 tracks.npz inside the
# temporary folder (the files are being written), 2 the previous dataset moved
# aside (every file written), 3 the new one moved in (the previous one is aside).
RENAMES = {1: "mid_write", 2: "before_renames", 3: "between_renames"}


def make_inputs(root: Path) -> Path:
    """A small MIDI folder (MIDI only: a rebuild needs no music21): a melody with
    drums, a drum track, a one-note track, an empty file, and music21's real MIDI."""
    from vrashlib import paths

    folder = root / "midi"
    folder.mkdir(parents=True)
    for name in ("melody_drums.mid", "drums_only.mid", "one_note.mid", "zero_bytes.mid"):
        shutil.copy(DATA / "midi" / name, folder / name)
    for f in paths.music21_midi_examples():
        shutil.copy(f, folder / f.name)
    return root


def _prep(root: Path, out: Path, cfg: DataConfig = CFG):
    return prepare(cfg, out, midi_dirs=[(root / "midi", "pop")], use_corpus=False, progress=False)


def _previous(root: Path, out: Path) -> None:
    """A complete dataset with the old parameters at ``out`` (a copy of a fresh one)."""
    shutil.copytree(root / "fresh_old", out)


@dataclasses.dataclass
class Outcome:
    fault: str
    survived: bool
    lost: int
    detail: str


def fresh_hashes(root: Path) -> dict[str, str]:
    """Content hashes of clean builds with the old and the new parameters."""
    return {
        "old": _prep(root, root / "fresh_old").manifest["content_hash"],
        "new": _prep(root, root / "fresh_new", NEW).manifest["content_hash"],
    }


def _after_fault(root: Path, out: Path, fault: str, hashes: dict, cfg: DataConfig) -> Outcome:
    """What is at ``out`` after the fault (the old dataset or nothing, never a damaged
    one that loads), then a rerun that must give exactly a fresh build's tracks."""
    problems = []
    lost = 0
    try:
        left = load_prepared(out).manifest["content_hash"]
        if left not in (hashes["old"], hashes["new"]):
            problems.append("a dataset that loads but matches no clean build")
            lost = 1
    except FileNotFoundError:
        left = "nothing"
    except DatasetError as err:
        left = "damaged, named"
        if str(out) not in str(err):
            problems.append(f"error does not name the folder: {err}")
    want = hashes["new" if cfg is NEW else "old"]
    again = _prep(root, out, cfg)
    if again.manifest["content_hash"] != want:
        problems.append("the rerun differs from a fresh build")
        lost = 1
    strays = sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))
    detail = f"after the fault: {left}; rerun: {'cache' if again.from_cache else 'rebuilt'}"
    if strays:  # a killed write's temporary folder: removed by a prepare once stale
        detail += f"; left beside it: {strays}"
    return Outcome(fault, not problems, lost, "; ".join([detail, *problems]))


# ------------------------------------------------------------------ SIGKILL
_CHILD = textwrap.dedent(
    """
    import os, shutil, signal, sys
    from pathlib import Path
    import vrashlib.data.ingest as ingest
    from tests.test_faults_data import NEW, _prep

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def parse_then_die(*args, **kwargs):
        real_map(*args, **kwargs)
        die()

    def replace(src, dst):
        calls[0] += 1
        if calls[0] == int(step):
            die()
        return real_replace(src, dst)

    def rmtree(path, *args, **kwargs):
        if ".old." in str(path):
            die()
        return real_rmtree(path, *args, **kwargs)

    if __name__ == "__main__":
        root, out, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
        real_map, real_replace, real_rmtree, calls = ingest.map_units, os.replace, shutil.rmtree, [0]
        if step == "parsing":
            ingest.map_units = parse_then_die
        elif step == "tidying":
            shutil.rmtree = rmtree
        else:
            os.replace = replace
        _prep(root, out, NEW)
        print("not killed")
    """
)


def scenario_sigkill(root: Path, hashes: dict, step: str) -> Outcome:
    """A real SIGKILL of a ``prepare`` subprocess at ``step``: "parsing" (after the
    parse, before writing), a rename of :data:`RENAMES`, or "tidying" (removing the
    previous dataset after both renames)."""
    out = root / f"kill_{step}"
    _previous(root, out)
    script = root / f"kill_{step}.py"
    script.write_text(_CHILD)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.run(
        [sys.executable, str(script), str(root), str(out), step],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    name = f"sigkill_{RENAMES.get(int(step), step) if step.isdigit() else step}"
    if proc.returncode != -9:
        return Outcome(name, False, 0, f"not killed (exit {proc.returncode}): {proc.stderr[-500:]}")
    return _after_fault(root, out, name, hashes, NEW)


# ------------------------------------------------------------ failing rename
def scenario_rename_fails(root: Path, hashes: dict, step: int, monkeypatch) -> Outcome:
    out = root / f"rename_{step}"
    _previous(root, out)
    calls, real = [0], os.replace

    def replace(src, dst):
        calls[0] += 1
        if calls[0] == step:
            raise OSError(28, "No space left on device (injected)")
        return real(src, dst)

    name = f"rename_fails_{RENAMES[step]}"
    monkeypatch.setattr(os, "replace", replace)
    try:
        _prep(root, out, NEW)
        raised = False
    except OSError:
        raised = True
    finally:
        monkeypatch.setattr(os, "replace", real)
    if not raised:
        return Outcome(name, False, 0, "the failed rename was not reported")
    return _after_fault(root, out, name, hashes, NEW)


# ------------------------------------------------------------ damaged files
DAMAGE = {
    "truncated": lambda b: b[: len(b) // 2],
    "emptied": lambda b: b"",
    "flipped": lambda b: b[: len(b) // 3] + bytes([b[len(b) // 3] ^ 0xFF]) + b[len(b) // 3 + 1 :],
}


def scenario_damaged(root: Path, hashes: dict, name: str, how: str) -> Outcome:
    """Damage one file of a complete dataset: the load must name it, a rerun rebuild."""
    out = root / f"damaged_{name}_{how}"
    _previous(root, out)
    path = out / name
    if how == "deleted":
        path.unlink()
    else:
        path.write_bytes(DAMAGE[how](path.read_bytes()))
    fault = f"damaged_{name}_{how}"
    try:
        data = load_prepared(out)
    except (FileNotFoundError, DatasetError) as err:
        if name not in str(err):
            return Outcome(fault, False, 0, f"error does not name {name}: {err}")
    except Exception as err:  # noqa: BLE001 - a raw error is the failure being counted
        return Outcome(fault, False, 0, f"raw {type(err).__name__}: {err}")
    else:  # wrong data served: lost, whatever the tracks hold
        del data
        return Outcome(fault, False, 1, "a damaged dataset loaded without error")
    return _after_fault(root, out, fault, hashes, CFG)


def all_scenarios() -> list[tuple[str, tuple]]:
    """``(kind, args)`` of every scenario, for the tests and the benchmark."""
    out = [("sigkill", (step,)) for step in ("parsing", "1", "2", "3", "tidying")]
    out += [("rename", (step,)) for step in RENAMES]
    out += [("damaged", (name, how)) for name in (*DATA_FILES, MANIFEST) for how in DAMAGE]
    out += [("damaged", (name, "deleted")) for name in ("tracks.npz", MANIFEST)]
    return out


def run_scenario(kind: str, args: tuple, root: Path, hashes: dict, monkeypatch) -> Outcome:
    if kind == "sigkill":
        return scenario_sigkill(root, hashes, *args)
    if kind == "rename":
        return scenario_rename_fails(root, hashes, *args, monkeypatch)
    return scenario_damaged(root, hashes, *args)


# -------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = make_inputs(tmp_path_factory.mktemp("faults"))
    return root, fresh_hashes(root)


@pytest.mark.parametrize(("kind", "args"), all_scenarios(), ids=lambda v: str(v))
def test_fault_is_survived_without_data_loss(kind, args, inputs, monkeypatch):
    root, hashes = inputs
    outcome = run_scenario(kind, args, root, hashes, monkeypatch)
    assert outcome.survived and outcome.lost == 0, outcome.detail


def test_damaged_manifest_error_says_what_to_do(inputs):
    root, _ = inputs
    out = root / "manifest_message"
    _previous(root, out)
    (out / MANIFEST).write_text((out / MANIFEST).read_text()[:50])
    with pytest.raises(DatasetError, match=r"manifest.json is not valid JSON .* rebuild"):
        load_prepared(out)
    manifest = json.loads((root / "fresh_old" / MANIFEST).read_text())
    assert set(manifest["files"]) == set(DATA_FILES)  # every other file has a checksum


def test_stale_leftovers_of_a_killed_write_are_tidied(inputs):
    """A temporary folder of a write killed long ago is removed by the next prepare."""
    root, hashes = inputs
    out = root / "tidy"
    _previous(root, out)
    stale = out.parent / f".{out.name}.abc123.tmp"
    stale.mkdir()
    (stale / "tracks.npz").write_bytes(b"half")
    os.utime(stale, (0, 0))
    fresh = out.parent / f".{out.name}.def456.tmp"  # a write in progress: left alone
    fresh.mkdir()
    again = _prep(root, out, NEW)
    assert again.manifest["content_hash"] == hashes["new"]
    assert not stale.exists() and fresh.exists()
