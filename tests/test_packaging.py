"""Packaging: the dependency range on torch, the tested pin, and what the wheel ships."""

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _torch_requirement() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (torch,) = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "torch"]
    return torch


def test_torch_is_a_range_and_the_setup_script_pins_a_version_inside_it():
    torch = _torch_requirement()
    assert str(torch.specifier) == "<3,>=2.1"  # no exact pin forced on a user's environment
    pins = re.findall(r'"torch==([0-9.]+)"', (ROOT / "scripts" / "setup.sh").read_text())
    assert pins == ["2.13.0"]
    assert torch.specifier.contains(pins[0])
    assert not torch.specifier.contains("2.0.1") and not torch.specifier.contains("3.0.0")


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="needs setuptools")
def test_wheel_ships_py_typed_and_the_report_templates(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", str(source), "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("genrelens-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [line.removeprefix("Requires-Dist: ")
                    for line in archive.read(metadata).decode().splitlines()
                    if line.startswith("Requires-Dist: ")]
    assert "genrelens/py.typed" in names
    assert "genrelens/report/templates/report.html.j2" in names
    assert "torch<3,>=2.1" in requires
    assert not [r for r in requires if any(s.operator == "==" for s in Requirement(r).specifier)]
