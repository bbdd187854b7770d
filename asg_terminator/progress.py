"""Live progress of a release in the terminal, and the summary when it ends."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from asg_terminator import history
from tasks.domain import versions
from tasks.domain.report import lambda_error_message

if TYPE_CHECKING:
    from collections.abc import Callable

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class FleetCounts:
    desired: int
    old: int
    booting: int
    new: int


@dataclass
class AsgView:
    name: str
    state: str = "pending"
    batch: str = ""
    note: str = ""
    target: str | None = None


def asg_views(view: history.ExecutionView, asg_names: list[str]) -> dict[str, AsgView]:
    """Per ASG: its current state, last batch and what it waits for, read from the history."""
    views = {name: AsgView(name) for name in asg_names}
    for run in view.runs:
        asg = views.get(run.asg_name or "")
        if asg is None:
            continue
        asg.state = run.name if run.status != history.FAILED else f"{run.name} (failed)"
        output = history.json_object(run.output)
        progress = output.get("progress", output) if isinstance(output, dict) else {}
        if isinstance(progress, dict):
            asg.target = progress.get("target_version") or asg.target
            if run.name == "Terminate" and progress.get("batches"):
                asg.batch = " ".join(progress["batches"][-1])
            pending = progress.get("pending")
            decision = progress.get("decision")
            if isinstance(pending, dict):
                asg.note = pending.get("status", "")
            elif isinstance(decision, dict):
                asg.note = decision.get("message", "")
        if run.name == "AsgFailed":
            asg.note = lambda_error_message(history.json_object(run.output).get("cause", ""))
    return views


def history_counts(view: history.ExecutionView, asg_name: str) -> FleetCounts | None:
    """Fleet counts from the last fleet read in the history (for releases on real AWS)."""
    for run in reversed(view.runs):
        if run.asg_name == asg_name and run.name == "ReadVersions" and run.output:
            output = history.json_object(run.output)
            # The state carries where the read is stored and its census, not the fleet (tasks/adapters/s3.py).
            fleet, target = output.get("fleet", {}), output.get("progress", {}).get("target_version")
            census = {v: n for v, n in (fleet.get("census") or {}).items() if v != versions.UNKNOWN}
            new = sum(
                n for v, n in census.items() if target and v != versions.OTHER_VERSIONS and versions.same(v, target)
            )
            old = sum(census.values()) - new
            return FleetCounts(fleet.get("desired", 0), old, int(fleet.get("instances", 0)) - new - old, new)
    return None


def follow(
    sfn: Any,
    execution_arn: str,
    asg_names: list[str],
    counts: Callable[[history.ExecutionView, str], FleetCounts | None] = history_counts,
    console: Console | None = None,
    interval: float = 0.5,
    live: bool = True,
) -> history.ExecutionView:
    """Show per-ASG progress until the execution ends; returns its final history."""
    console = console or Console()
    bars = Progress(
        TextColumn("[bold]{task.description:<16}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("old {task.fields[old]}  booting {task.fields[booting]}  new {task.fields[new]}"),
        TextColumn("[cyan]{task.fields[state]}"),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
    )
    tasks = {name: bars.add_task(name, total=1, old=0, booting=0, new=0, state="pending") for name in asg_names}
    notes = Table.grid(padding=(0, 2))

    def refresh() -> tuple[history.ExecutionView, Group]:
        view = history.load(sfn, execution_arn)
        notes.columns.clear()
        notes.rows.clear()
        for name, asg in asg_views(view, asg_names).items():
            found = counts(view, name)
            if found is not None:
                bars.update(
                    tasks[name],
                    total=max(found.desired, 1),
                    completed=found.new,
                    old=found.old,
                    booting=found.booting,
                    new=found.new,
                    state=asg.state,
                )
            else:
                bars.update(tasks[name], state=asg.state)
            notes.add_row(f"[bold]{name}", f"batch: {asg.batch or '-'}", asg.note[:140])
        return view, Group(bars, notes)

    view, group = refresh()
    with Live(group, console=console, refresh_per_second=4, transient=False, auto_refresh=live) as display:
        while view.status not in TERMINAL or history.continued_as(view):
            following = history.continued_as(view)
            if following is not None:  # the release goes on in the chain's next execution
                execution_arn = following
            time.sleep(interval)
            view, group = refresh()
            bars.refresh()
            display.update(group, refresh=True)
    return view


def summary_table(view: history.ExecutionView) -> Table:
    table = Table(title=f"{view.name}: {view.status}", show_lines=False)
    for column in ("ASG", "status", "target", "before", "after", "batches", "terminated", "time"):
        table.add_column(column, no_wrap=column in ("status", "target", "batches", "terminated", "time"))
    output = history.json_object(view.output)
    reports = output.get("asgs", []) if isinstance(output, dict) else []
    for report in reports:
        table.add_row(
            report["asg_name"],
            report["status"],
            report["target_version"],
            _census(report["versions_before"]),
            _census(report["versions_after"]),
            str(report["batch_count"]),
            str(report["terminated_count"]),
            f"{report['duration_seconds']:.1f} s",
        )
    return table


def _census(census: dict[str, int] | None) -> str:
    return ", ".join(f"{n}x {v}" for v, n in (census or {}).items())


def states_table(view: history.ExecutionView) -> Table:
    """The terminal view of a history: one row per state run."""
    table = Table(title=f"{view.name}: {view.status}")
    for column in ("#", "state", "type", "ASG", "status", "start", "duration", "error"):
        table.add_column(column, overflow="fold")
    colours = {history.SUCCEEDED: "green", history.CAUGHT: "yellow", history.FAILED: "red", history.RUNNING: "cyan"}
    for number, run in enumerate(view.runs, 1):
        duration = run.duration()
        table.add_row(
            str(number),
            run.name,
            run.type,
            run.asg_name or "",
            f"[{colours[run.status]}]{run.status}",
            f"+{(run.entered - view.started).total_seconds():.2f} s",
            "" if duration is None else f"{duration:.2f} s",
            f"{run.error}: {lambda_error_message(run.cause or '')}"[:200] if run.error else "",
        )
    return table


def wait_for(sfn: Any, execution_arn: str, interval: float = 0.5) -> history.ExecutionView:
    """Wait quietly until the release ends (the last execution of its chain); returns its history."""
    while True:
        while sfn.describe_execution(executionArn=execution_arn)["status"] not in TERMINAL:
            time.sleep(interval)
        view = history.load(sfn, execution_arn)
        following = history.continued_as(view)
        if following is None:
            return view
        execution_arn = following


def plan_tables(view: history.ExecutionView) -> list[Table]:
    """A dry run's verdict per instance, one table per ASG."""
    output = history.json_object(view.output)
    tables = []
    for report in output.get("asgs", []) if isinstance(output, dict) else []:
        table = Table(title=f"{report['asg_name']}: {report['status']} (target {report['target_version']})")
        for column in ("instance", "version", "state", "verdict"):
            table.add_column(column, overflow="fold")
        for entry in report.get("plan", []):
            table.add_row(entry["id"], entry["version"] or "-", entry["state"], entry["verdict"])
        if report.get("plan_omitted"):
            table.add_row("...", "", "", f"and {report['plan_omitted']} more instances, not listed")
        tables.append(table)
    return tables
