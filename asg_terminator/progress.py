"""Live progress of a release in the terminal, and the summary when it ends."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.live import Live
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from asg_terminator import history
from tasks.domain import versions
from tasks.domain.report import lambda_error_message

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import ConsoleOptions, RenderResult


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


# The states whose output names a read of the fleet (its census): ReadVersions, and the check that saw a
# batch replaced (SelectBatch decides on its read).
FLEET_READS = ("ReadVersions", "CheckReplacement")


def history_counts(view: history.ExecutionView, asg_name: str) -> FleetCounts | None:
    """Fleet counts from the last fleet read in the history (for releases on real AWS)."""
    for run in reversed(view.runs):
        if run.asg_name != asg_name or run.name not in FLEET_READS or not run.output:
            continue
        output = history.json_object(run.output)
        if "fleet" in output:  # a CheckReplacement names the read that saw its batch replaced, a waiting one none
            # The state carries where the read is stored and its census, not the fleet (tasks/adapters/s3.py).
            fleet, target = output["fleet"], output.get("progress", {}).get("target_version")
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
        while view.status not in history.TERMINAL or history.continued_as(view):
            following = history.continued_as(view)
            if following is not None:  # the release goes on in the chain's next execution
                execution_arn = following
            time.sleep(interval)
            view, group = refresh()
            bars.refresh()
            display.update(group, refresh=True)
    return view


SUMMARY_COLUMNS = ("ASG", "status", "target", "before", "after", "replaced", "time")
_WRAPPING = frozenset({"ASG", "replaced"})  # the columns that wrap; the others (versions) never do
_NARROWEST_WRAP = 6  # what a wrapping column keeps at least: "3 in 3", a name's first letters


@dataclass(frozen=True)
class Summary:
    """The summary when a release ends, one row per ASG, every version whole at any width.

    A table where it fits (80 columns for the usual versions): the version columns never wrap (a
    census shows one version a line), the ASG name and the counts wrap instead. Where versions are
    too long for a table row, one block per ASG, a field a line.
    """

    view: history.ExecutionView

    def rows(self) -> list[dict[str, str]]:
        output = history.json_object(self.view.output)
        reports = output.get("asgs", []) if isinstance(output, dict) else []
        rows = []
        for report in reports:
            duration, batches = report.get("duration_seconds"), report["batch_count"]
            cells = (
                report["asg_name"],
                report["status"],
                report.get("target_version") or "-",
                _census(report.get("versions_before")),
                _census(report.get("versions_after")),
                f"{report['terminated_count']} in {batches} batch{'' if batches == 1 else 'es'}",
                "-" if duration is None else f"{duration:.1f} s",
            )
            rows.append(dict(zip(SUMMARY_COLUMNS, cells, strict=True)))
        return rows

    def table(self, rows: list[dict[str, str]]) -> Table:
        table = Table(title=self.title, show_edge=False, pad_edge=False)
        for column in SUMMARY_COLUMNS:
            table.add_column(column, no_wrap=column not in _WRAPPING, overflow="fold")
        for row in rows:
            table.add_row(*row.values())
        return table

    def blocks(self, rows: list[dict[str, str]]) -> Group:
        parts: list[Any] = [Text(self.title, style="italic")]
        for row in rows:
            fields = Table.grid(padding=(0, 2))
            fields.add_column(no_wrap=True)
            fields.add_column(overflow="fold")
            for column in SUMMARY_COLUMNS[1:]:
                fields.add_row(column, row[column])
            parts += [Text(row["ASG"], style="bold", overflow="fold"), Padding(fields, (0, 0, 0, 2))]
        return Group(*parts)

    @property
    def title(self) -> str:
        return f"{self.view.name}: {self.view.status}"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self.rows()
        yield self.table(rows) if _table_fits(rows, options.max_width) else self.blocks(rows)


def _table_fits(rows: list[dict[str, str]], width: int) -> bool:
    """Whether the summary table's columns that never wrap fit ``width``, with the wrapping ones at
    their narrowest: a column between each two, one space either side of each (no outer frame)."""
    needed = 3 * (len(SUMMARY_COLUMNS) - 1)
    for column in SUMMARY_COLUMNS:
        cells = [column, *(line for row in rows for line in row[column].splitlines())]
        widest = max(cell_len(cell) for cell in cells)
        needed += min(widest, _NARROWEST_WRAP) if column in _WRAPPING else widest
    return needed <= width


def summary_table(view: history.ExecutionView) -> Summary:
    return Summary(view)


def _census(census: dict[str, int] | None) -> str:
    return "\n".join(f"{n}x {v}" for v, n in (census or {}).items()) or "-"


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

    def ended(arn: str) -> history.ExecutionView:
        while sfn.describe_execution(executionArn=arn)["status"] not in history.TERMINAL:
            time.sleep(interval)
        return history.load(sfn, arn)

    last = ended(execution_arn)
    for later in history.continuations(last, ended, history.continued_as):
        last = later
    return last


def plan_tables(view: history.ExecutionView) -> list[Table]:
    """A dry run's verdict per instance, one table per ASG."""
    output = history.json_object(view.output)
    tables = []
    for report in output.get("asgs", []) if isinstance(output, dict) else []:
        table = Table(title=f"{report['asg_name']}: {report['status']} (target {report['target_version']})")
        table.add_column("instance", no_wrap=True)
        table.add_column("version", no_wrap=True)  # whole, whatever the width: the verdict wraps instead
        table.add_column("state", overflow="fold")
        table.add_column("verdict", overflow="fold")
        for entry in report.get("plan", []):
            table.add_row(entry["id"], entry["version"] or "-", entry["state"], entry["verdict"])
        if report.get("plan_omitted"):
            table.add_row("...", "", "", f"and {report['plan_omitted']} more instances, not listed")
        tables.append(table)
    return tables
