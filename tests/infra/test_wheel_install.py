"""The tool as a user installs it (slow, about a minute and a half; marked ``wheel``, deselect with
``-m 'not wheel'``): the wheel built from this checkout, installed NOT editable into a fresh virtual
environment (no system site-packages; its dependencies from the index pip is configured with), runs
``asg-terminator demo --json`` to convergence from a folder that is no checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING

import pytest

from asg_terminator.paths import ROOT

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(400)]

# What the wheel is built from: pyproject.toml and what it packages (a copy, so no build/ lands here).
SOURCES = ("pyproject.toml", "README.md", "asg_terminator", "tasks", "state_machines", "infra")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def _run(command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # noqa: PLW1510 - the exit code is asserted below
        command, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done.stdout


def _user_env() -> dict[str, str]:
    """A shell's environment, none of this checkout's: no venv, no PYTHONPATH, fake AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV", "COVERAGE_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    return env


def test_the_wheel_installed_in_a_fresh_venv_runs_the_demo_to_convergence_from_any_folder(tmp_path: Path) -> None:
    source, wheels, venv, elsewhere = (tmp_path / n for n in ("source", "wheels", "venv", "elsewhere"))
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, source / name)
    _run([*PIP, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source)], tmp_path, 180)
    (wheel,) = wheels.glob("asg_terminator-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {"state_machines/release.asl.json", "infra/template.yaml", "tasks/schemas/common.json"} <= shipped
    assert not [n for n in shipped if n.startswith("tests/")]

    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, 120)
    python = venv / "bin" / "python"
    _run([*PIP, "--python", str(python), "install", "--quiet", "--no-compile", str(wheel)], tmp_path, 300)
    elsewhere.mkdir()
    env = _user_env()
    where = _run(
        [str(python), "-c", "import asg_terminator.paths as p; print(p.RELEASE_ASL); print(p.SAM_TEMPLATE)"],
        elsewhere,
        60,
        env,
    )
    assert all(line.startswith(str(venv)) for line in where.splitlines()), where  # the installed copy, not ours

    demo = [str(venv / "bin" / "asg-terminator"), "demo", "--json", "--instances", "2", "--boot-seconds", "1"]
    summary = json.loads(_run([*demo, "--min-healthy", "1"], elsewhere, 240, env))

    assert summary["status"] == "SUCCEEDED", summary
    assert {a["asg_name"]: (a["status"], a["versions_after"]) for a in summary["output"]["asgs"]} == {
        "web": ("CONVERGED", {"1.0.274": 2}),
        "api": ("CONVERGED", {"1.0.274": 2}),
    }
    assert (elsewhere / summary["history_html"]).read_text().startswith("<!DOCTYPE html>")

    # deploy packages the checkout's lock (requirements.txt), which a wheel does not ship: it says so.
    refused = subprocess.run(
        [str(venv / "bin" / "asg-terminator"), "deploy", "--stack", "s", "--s3-bucket", "b"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert "requirements.txt not found" in refused.stderr and "needs a checkout" in refused.stderr
    assert "Traceback" not in refused.stderr
