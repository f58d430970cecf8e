"""environment.yml (conda) and pyproject.toml (pip) must list the same packages."""

from __future__ import annotations

import re
import tomllib

import yaml

from vrashlib import paths

CONDA_ONLY = {"python", "pip", "cpuonly"}  # conda plumbing with no pip counterpart
CONDA_TO_PIP = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pysoundfile": "soundfile",
    "pyyaml": "pyyaml",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())
    reqs = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    return {_name(r): r.replace(" ", "") for r in reqs}


def _environment() -> dict[str, str]:
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        for req in dep["pip"] if isinstance(dep, dict) else [dep]:
            name = CONDA_TO_PIP.get(_name(req), _name(req))
            if name not in CONDA_ONLY:
                out[name] = name + req.strip()[len(_name(req)) :].replace(" ", "")
    return out


def test_environment_yml_is_a_conda_environment():
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    assert env["name"] and env["channels"] and isinstance(env["dependencies"], list)
    assert any(str(d).startswith("python=") for d in env["dependencies"])


def test_same_packages_and_bounds_in_both_files():
    assert _environment() == _pyproject()


def test_license_citation_and_build_requirement_agree():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert (paths.ROOT / "LICENSE").read_text().startswith("MIT License")
    # a license expression (PEP 639) needs setuptools >= 77
    (setuptools,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert re.fullmatch(r"setuptools>=(\d+)", setuptools) and int(setuptools[12:]) >= 77
    cff = yaml.safe_load((paths.ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert cff["version"] == project["project"]["version"]
    paper = cff["preferred-citation"]
    assert paper["doi"] == "10.1007/s42452-020-03715-w" and paper["year"] == 2020
    assert [a["family-names"] for a in paper["authors"]] == ["Yamshchikov", "Tikhonov"]


def test_conda_environment_uses_conda_forge_and_the_cpu_build_of_torch():
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]  # the pytorch channel stopped after 2.5
    assert any(str(d).startswith("pytorch-cpu") for d in env["dependencies"])
