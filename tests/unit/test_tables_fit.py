"""The CLI's tables in an 80-column terminal (COLUMNS=80, as rich reads it): no line wider, and every
version whole (never cut to ``1.0.2…``), in the summary (``demo``, ``release --follow``), the dry
run's plan (``plan``) and the history (``history``)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console

from asg_terminator import history
from asg_terminator.progress import plan_tables, states_table, summary_table

if TYPE_CHECKING:
    import pytest

T = datetime(2026, 12, 2, tzinfo=UTC)
LONG = "2026.12.02-rc.1+build.5521"  # a version too long for a summary row at 80 columns
LONGEST = "v" * 64  # the schemas' longest version


def _report(name: str, status: str, target: str | None, before: Any, after: Any, **more: Any) -> dict[str, Any]:
    return {
        "asg_name": name,
        "status": status,
        "target_version": target,
        "versions_before": before,
        "versions_after": after,
        "batches": [],
        "batch_count": more.get("batches", 3),
        "terminated_count": more.get("terminated", 3),
        "duration_seconds": more.get("duration", 12.6),
    }


RELEASE = [
    _report("checkout-service-production", "CONVERGED", "1.0.274", {"1.0.266": 2, "1.0.265": 1}, {"1.0.274": 3}),
    _report("live_asg_api", "ROLLED_BACK", "1.0.274", {"1.0.266": 3}, {"1.0.266": 3}, duration=123.45),
    _report("web", "CONVERGED", "1.0.274", {"1.0.266": 1}, {"1.0.274": 1}, batches=1, terminated=1),
    _report("held", "SKIPPED", None, None, None, batches=0, terminated=0, duration=None),
]


def _view(output: Any, runs: list[history.StateRun] | None = None) -> history.ExecutionView:
    return history.ExecutionView(
        "arn",
        "app-1-0-274-0018ED72FED43E147D",
        "FAILED",
        T,
        T,
        None,
        json.dumps(output),
        None,
        None,
        {},
        [],
        runs or [],
    )


def _printed(monkeypatch: pytest.MonkeyPatch, *renderables: Any, columns: int = 80) -> list[str]:
    """What the CLI's console (``Console()``, its width from COLUMNS) prints, line by line."""
    monkeypatch.setenv("COLUMNS", str(columns))
    console = Console(file=io.StringIO(), record=True)
    for renderable in renderables:
        console.print(renderable)
    return console.export_text().splitlines()


def _versions(reports: list[dict[str, Any]]) -> set[str]:
    return {
        v for r in reports for v in (r["target_version"], *(r["versions_before"] or {}), *(r["versions_after"] or {}))
    } - {None}


def _assert_fits_with_versions_whole(lines: list[str], versions: set[str]) -> None:
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    text = "\n".join(lines)
    assert "…" not in text
    for version in versions:
        assert version in text, f"{version} is not whole in:\n{text}"


def test_the_summary_fits_80_columns_as_a_table_with_every_version_and_census_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = _printed(monkeypatch, summary_table(_view({"status": "FAILED", "asgs": RELEASE})))

    _assert_fits_with_versions_whole(lines, _versions(RELEASE))
    text = "\n".join(lines)
    assert "┃ target" in text  # the table, not the narrow layout
    for census in ("2x 1.0.266", "1x 1.0.265", "3x 1.0.274", "3x 1.0.266", "1x 1.0.274"):
        assert census in text
    assert "ROLLED_BACK" in text and "123.5 s" in text and "SKIPPED" in text


def test_a_summary_whose_versions_are_too_long_for_a_row_is_shown_a_field_a_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reports = [*RELEASE[:2], _report("web", "CONVERGED", LONG, {LONGEST: 3}, {LONG: 3})]
    lines = _printed(monkeypatch, summary_table(_view({"status": "FAILED", "asgs": reports})))

    _assert_fits_with_versions_whole(lines, _versions(reports))
    assert f"3x {LONGEST}" in "\n".join(lines)
    assert [line.split() for line in lines if line.strip().startswith("target")][2] == ["target", LONG]


def test_a_wide_terminal_shows_the_summary_one_line_an_asg(monkeypatch: pytest.MonkeyPatch) -> None:
    reports = [*RELEASE, _report("web-2", "CONVERGED", LONG, {"1.0.266": 3}, {LONG: 3})]
    lines = _printed(monkeypatch, summary_table(_view({"status": "FAILED", "asgs": reports})), columns=200)

    row = next(line for line in lines if line.startswith("web-2 "))
    cells = [cell.strip() for cell in row.split("│")]
    assert cells == ["web-2", "CONVERGED", LONG, "3x 1.0.266", f"3x {LONG}", "3 in 3 batches", "12.6 s"]


def test_the_plan_fits_80_columns_with_every_version_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    verdict = "terminate: in the next batch (the floor of 2 healthy keeps 2 serving while it is replaced)"
    entries = [
        {"id": "i-0123456789abcdef0", "version": "1.0.266", "state": "InService", "verdict": verdict},
        {"id": "i-0123456789abcdef1", "version": LONG, "state": "InService", "verdict": "keep: serves the target"},
        {"id": "i-0123456789abcdef2", "version": None, "state": "Pending", "verdict": "wait: not read yet"},
    ]
    plan = {"status": "SUCCEEDED", "asgs": [{**RELEASE[0], "status": "PLANNED", "plan": entries}]}
    lines = _printed(monkeypatch, *plan_tables(_view(plan)))

    _assert_fits_with_versions_whole(lines, {"1.0.266", LONG, "1.0.274"})
    assert sum("i-0123456789abcdef" in line for line in lines) == 3  # instance ids whole too


def test_the_history_table_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    cause = json.dumps({"errorMessage": "i-0123456789abcdef0: GET http://127.0.0.1:8080/version: connection refused"})
    run = history.StateRun(
        "ReadVersions",
        "Task",
        T,
        json.dumps({"asg_name": "checkout-service-production"}),
        1,
        T + timedelta(seconds=1.5),
        "{}",
        history.FAILED,
        "VersionUnreadableError",
        cause,
    )
    lines = _printed(monkeypatch, states_table(_view({}, [run])))

    _assert_fits_with_versions_whole(lines, set())
