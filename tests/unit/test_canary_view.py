"""The canary table (``release --follow``, ``plan``, ``history`` and its page): one row per metric of
each judgement, from PassCheckpoint's output, or read back from CanaryAnalysisFailedError's message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from asg_terminator import canary_view, history, history_html
from asg_terminator.paths import RELEASE_ASL
from tasks.domain import canary_checkpoint
from tasks.domain.canary import CanaryAnalysis, CanaryMetric, judge
from tasks.domain.fleet import Decision, Progress
from tasks.errors import CanaryAnalysisFailedError

LATENCY = CanaryMetric("App", "Latency", "increase", tolerance_percent=10, critical=True)
ERRORS = CanaryMetric("App", "Errors", "increase", "Sum")
DISK = CanaryMetric("App", "Disk", "increase")
ANALYSIS = CanaryAnalysis((LATENCY, ERRORS, DISK), min_samples=20, marginal_score=0)
BASE = [95.0, 100.0, 105.0] * 10
COHORT = {"canary_ids": ["i-n1"], "baseline_ids": ["i-o1"], "baseline_version": "1.0.266"}
T = datetime(2026, 12, 2, tzinfo=UTC)


def _run(status: str, output: Any = None, error: str | None = None, cause: str | None = None) -> history.StateRun:
    return history.StateRun(
        name="PassCheckpoint",
        type="Task",
        entered=T,
        input=json.dumps({"asg_name": "web"}),
        entered_id=1,
        exited=T,
        output=None if output is None else json.dumps(output),
        status=status,
        error=error,
        cause=cause,
    )


# The real state machine: the page lays its graph out (asg_terminator/history_graph.py).
DEFINITION = json.loads(RELEASE_ASL.read_text(encoding="utf-8"))


def _view(*runs: history.StateRun, execution_input: str | None = None) -> history.ExecutionView:
    return history.ExecutionView(
        "arn", "web-1", "FAILED", T, T, execution_input, None, None, None, DEFINITION, [], list(runs)
    )


def _passed(samples: list[tuple[list[float], list[float]]]) -> history.StateRun:
    judgement = judge(ANALYSIS, samples)
    checkpoint = Progress(decision=Decision("checkpoint", "c", canary=COHORT))
    judged = canary_checkpoint.apply("web", checkpoint, judgement, {"start": "a", "end": "b"})
    return _run(history.SUCCEEDED, {"asg_name": "web", "progress": judged.to_record()})


def _failed(samples: list[tuple[list[float], list[float]]]) -> history.StateRun:
    checkpoint = Progress(decision=Decision("checkpoint", "c", canary=COHORT))
    with pytest.raises(CanaryAnalysisFailedError) as failed:
        canary_checkpoint.apply("web", checkpoint, judge(ANALYSIS, samples), {"start": "a", "end": "b"})
    cause = json.dumps({"errorType": "CanaryAnalysisFailedError", "errorMessage": str(failed.value)})
    return _run(history.CAUGHT, error="CanaryAnalysisFailedError", cause=cause)


def test_a_judgement_that_went_on_has_every_metric() -> None:
    errors_from_zero = ([1.0] * 30, [0.0] * 30)
    view = _view(_passed([(BASE, BASE), errors_from_zero, (BASE[:5], BASE)]))
    rows = [row.cells() for row in canary_view.rows(view)]
    assert rows == [
        ("web", "1: MARGINAL (score 33.3)", "App/Latency (Average)", "100", "100", "+0 %", "1", "PASS"),
        ("web", "1: MARGINAL (score 33.3)", "App/Errors (Sum)", "1", "0", "from 0", rows[1][6], "FAIL"),
        ("web", "1: MARGINAL (score 33.3)", "App/Disk (Average)", "100", "100", "+0 %", "-", "NODATA"),
    ]
    assert float(rows[1][6]) < 0.02


def test_a_failed_judgement_is_read_back_from_its_message() -> None:
    view = _view(_passed([(BASE, BASE)] * 3), _failed([([x * 3 for x in BASE], BASE), (BASE, BASE), ([], BASE)]))
    rows = [row.cells() for row in canary_view.rows(view)]
    assert len(rows) == 6  # 3 that passed; then the 2 that failed, and the 1 that passed, of the second
    latency, disk, errors = rows[3:]
    assert errors[2:6] == ("App/Errors (Sum)", "100", "100", "+0 %") and errors[7] == "PASS"
    assert latency[:6] == ("web", "2: FAIL (score 0)", "App/Latency (Average)", "300", "100", "+200 %")
    assert float(latency[6]) < 0.02 and latency[7] == "FAIL"
    assert disk == (
        "web",
        "2: FAIL (score 0)",
        "App/Disk (Average)",
        "0 datapoints",
        "30 datapoints",
        "-",
        "-",
        "NODATA",
    )


def test_other_runs_and_other_errors_have_no_rows() -> None:
    alarm = _run(history.CAUGHT, error="AlarmTriggeredError", cause='{"errorMessage": "web: alarm in ALARM"}')
    plain = _run(history.SUCCEEDED, {"progress": Progress(decision=Decision("checkpoint", "c")).to_record()})
    odd = _run(history.CAUGHT, error="CanaryAnalysisFailedError", cause='{"errorMessage": "not a judgement"}')
    view = _view(alarm, plain, odd)
    assert canary_view.rows(view) == []
    assert canary_view.table(view) is None
    assert canary_view.html_section(view) == ""


def test_the_table_and_the_page_show_the_rows() -> None:
    view = _view(_failed([([x * 3 for x in BASE], BASE), (BASE, BASE), (BASE, BASE)]))
    shown = canary_view.table(view)
    assert shown is not None
    (table,) = shown.renderables  # one per ASG and checkpoint
    assert isinstance(table, Table) and table.row_count == 3  # the failed metric, and the two that passed
    assert table.title == "canary analysis: web, checkpoint 1: FAIL (score 0)"
    assert [c.header for c in table.columns] == list(canary_view.COLUMNS[2:])
    console = Console(width=80, record=True)
    console.print(shown)
    printed = console.export_text()
    assert max(len(line) for line in printed.splitlines()) <= 80
    assert "App/Latency (Average)" in printed and "App/Errors (Sum)" in printed  # metrics whole at 80 columns
    section = canary_view.html_section(view)
    assert section.count('<tr class="canary">') == 3 and "App/Latency (Average)" in section
    assert "<h2>Canary analysis</h2>" in history_html.render(view)
    assert canary_view.as_records(view)[0]["metric"] == "App/Latency (Average)"


def test_a_dry_run_compares_the_instances_already_on_the_target_with_the_version_they_replace() -> None:
    def entry(instance_id: str, version: str | None, state: str = "InService") -> dict[str, Any]:
        return {"id": instance_id, "version": version, "state": state, "verdict": "v"}

    plan = [entry("i-1", "1.0.274"), entry("i-2", "1.0.266"), entry("i-3", "1.0.260"), entry("i-4", None)]
    plan += [entry("i-5", "1.0.274", "Pending"), entry("i-6", "1.0.266")]
    report = {"target_version": "1.0.274", "versions_before": {"1.0.274": 1, "1.0.266": 2, "1.0.260": 1}, "plan": plan}
    assert canary_view.dry_run_cohorts(report) == {
        "canary_ids": ["i-1"],
        "baseline_ids": ["i-2", "i-6"],
        "baseline_version": "1.0.266",
    }
    everything_on_the_target = {**report, "versions_before": {"1.0.274": 4}}
    assert canary_view.dry_run_cohorts(everything_on_the_target)["baseline_ids"] == []
