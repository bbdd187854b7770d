"""`release` and `plan` take canary_analysis as JSON (or @FILE), checked here before anything starts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from click.testing import CliRunner

from asg_terminator.cli import main

if TYPE_CHECKING:
    from pathlib import Path

ANALYSIS = {"metrics": [{"namespace": "App", "metric_name": "Latency", "fails_when": "increase"}]}
NOWHERE = ["--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:x", "--region", "us-east-1"]


def _plan(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["plan", "--asg", "web", *args, *NOWHERE])
    return result.exit_code, result.output


def test_canary_analysis_is_checked_with_the_rest_of_the_input() -> None:
    code, output = _plan("--canary-analysis", json.dumps(ANALYSIS))  # no --checkpoint: refused, nothing started
    assert code == 2
    assert "canary_analysis: needs checkpoints" in output
    code, output = _plan("--checkpoint", "1", "--canary-analysis", json.dumps({"metrics": []}))
    assert code == 2 and "canary_analysis.metrics: [] should be non-empty" in output


def test_canary_analysis_from_a_file_and_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "canary.json"
    path.write_text(json.dumps({**ANALYSIS, "marginal_score": 99}))
    code, output = _plan("--checkpoint", "1", "--canary-analysis", f"@{path}")
    assert code == 2 and "marginal_score: 99 is above pass_score 95" in output
    code, output = _plan("--checkpoint", "1", "--canary-analysis", "{metrics")
    assert code == 2 and "not JSON" in output
