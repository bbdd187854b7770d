"""The execution history as one self-contained HTML page: graph, path taken, events, timeline.

No network at view time: styles are inline and the graph is an inline SVG, laid out in Python
(asg_terminator/history_graph.py: no system binary).
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from asg_terminator import canary_view, history_graph
from asg_terminator.history import CAUGHT, FAILED, RUNNING, SUCCEEDED, ExecutionView, StateRun

if TYPE_CHECKING:
    from collections.abc import Sequence

COLOURS = {SUCCEEDED: "#2e7d32", CAUGHT: "#ef6c00", FAILED: "#c62828", RUNNING: "#1565c0", None: "#9e9e9e"}
TYPE_COLOURS = {"Task": "#43a047", "Wait": "#90a4ae", "Map": "#2e7d32"}
FILLS = {SUCCEEDED: "#e8f5e9", CAUGHT: "#fff3e0", FAILED: "#ffebee", RUNNING: "#e3f2fd", None: "#f5f5f5"}


def graph_svg(view: ExecutionView) -> str:
    """The state machine laid out and drawn in Python (no system binary), coloured by this execution."""
    return history_graph.svg(view.definition, view.state_outcomes(), view.transitions(), COLOURS, FILLS)


def _pretty(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def _fmt_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"


def _timeline(view: ExecutionView) -> str:
    start, end = view.started, view.end
    total = max((end - start).total_seconds(), 0.001)
    lanes: dict[str, list[StateRun]] = {}
    for run in view.runs:
        lanes.setdefault(run.asg_name or "release", []).append(run)
    rows = []
    for lane, runs in lanes.items():
        bars = []
        for run in runs:
            left = (run.entered - start).total_seconds() / total * 100
            width = max((run.duration(end) or 0) / total * 100, 0.3)
            title = f"{run.name} {run.status} {_fmt_seconds(run.duration(end))}"
            colour = TYPE_COLOURS.get(run.type, "#b0bec5") if run.status == SUCCEEDED else COLOURS[run.status]
            bars.append(
                f'<div class="bar" title="{html.escape(title)}" style="left:{left:.3f}%;width:{width:.3f}%;'
                f'background:{colour}"></div>'
            )
        rows.append(
            f'<div class="lane"><div class="lane-name">{html.escape(lane)}</div><div class="track">{"".join(bars)}</div></div>'
        )
    key = "".join(f'<span><i style="background:{c}"></i>{t}</span>' for t, c in TYPE_COLOURS.items())
    return (
        f'<p class="legend">{key}<span><i style="background:#b0bec5"></i>Choice/Pass</span></p>'
        f'<div class="timeline">{"".join(rows)}</div><p class="note">0 s … {total:.1f} s; hover a bar for the state.</p>'
    )


def _runs_table(view: ExecutionView) -> str:
    rows = []
    for run in view.runs:
        error = f"{run.error}: {run.cause}" if run.error else ""
        rows.append(
            f'<tr class="run {run.status.lower()}"><td>{html.escape(run.name)}</td><td>{run.type}</td>'
            f"<td>{html.escape(run.asg_name or '')}</td>"
            f'<td style="color:{COLOURS[run.status]}">{run.status}</td>'
            f"<td>{(run.entered - view.started).total_seconds():.2f} s</td><td>{_fmt_seconds(run.duration())}</td>"
            f"<td>{html.escape(error[:300])}</td>"
            f"<td><details><summary>input</summary><pre>{html.escape(_pretty(run.input))}</pre></details>"
            f"<details><summary>output</summary><pre>{html.escape(_pretty(run.output))}</pre></details></td></tr>"
        )
    return (
        '<table id="states"><thead><tr><th>State</th><th>Type</th><th>ASG</th><th>Status</th><th>Start</th>'
        "<th>Duration</th><th>Error</th><th>Data</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _events_table(view: ExecutionView) -> str:
    rows = []
    for event in view.events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
        name = details.get("name", "") if isinstance(details, dict) else ""
        body = html.escape(json.dumps(details, indent=2, default=str)) if details else ""
        rows.append(
            f'<tr class="event"><td>{event["id"]}</td><td>{html.escape(str(event["type"]))}</td><td>{html.escape(name)}</td>'
            f"<td>{(event['timestamp'] - view.started).total_seconds():.3f} s</td>"
            f"<td>{f'<details><summary>details</summary><pre>{body}</pre></details>' if body else ''}</td></tr>"
        )
    return (
        '<table id="events"><thead><tr><th>ID</th><th>Type</th><th>Step</th><th>Elapsed</th><th></th></tr></thead>'
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


STYLE = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#212121}
h1{font-size:20px;margin-bottom:4px} h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
.status{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:bold}
.meta td{padding:2px 12px 2px 0} pre{background:#fafafa;border:1px solid #eee;padding:8px;max-height:360px;overflow:auto;font-size:12px}
table#states,table#events{border-collapse:collapse;width:100%;font-size:13px}
table#states td,table#states th,table#events td,table#events th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
.graph{border:1px solid #eee;border-radius:6px;padding:8px;overflow:auto;max-height:900px}
.graph svg{max-width:100%;height:auto} .legend span{margin-right:14px} .legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:4px;vertical-align:middle}
.timeline{border:1px solid #eee;border-radius:6px;padding:8px} .lane{display:flex;align-items:center;height:22px}
.lane-name{width:160px;font-size:12px;overflow:hidden} .track{position:relative;flex:1;height:14px;background:#fafafa}
.bar{position:absolute;top:0;height:14px;border-radius:2px;opacity:.85} .note{color:#757575;font-size:12px}
"""


def chain_pages(views: Sequence[ExecutionView], first: str) -> list[str]:
    """File names for a chain's pages: ``history.html``, ``history-2.html``, ..."""
    stem, dot, suffix = first.rpartition(".")
    if not dot:
        stem, suffix = first, "html"
    return [first] + [f"{stem}-{n}.{suffix}" for n in range(2, len(views) + 1)]


def _chain_nav(view: ExecutionView, views: Sequence[ExecutionView], pages: Sequence[str]) -> str:
    """For a release that continued as new executions: every execution of the chain, linked."""
    if len(views) < 2:
        return ""
    items = []
    for number, (other, page) in enumerate(zip(views, pages, strict=True), 1):
        label = f"{number}. {html.escape(other.name)}: {other.status}, {len(other.events)} events"
        items.append(
            f"<li><b>{label}</b> (this page)</li>"
            if other.arn == view.arn
            else f'<li><a href="{html.escape(page)}">{label}</a></li>'
        )
    return (
        f"<h2>Chain: one release, {len(views)} executions</h2>"
        f'<p class="note">The release continued as a new execution before the history limit.</p><ol>{"".join(items)}</ol>'
    )


def render(view: ExecutionView, chain: Sequence[ExecutionView] = (), pages: Sequence[str] = ()) -> str:
    graph = f'<div class="graph" id="graph">{graph_svg(view)}</div>'
    status_colour = {"SUCCEEDED": COLOURS[SUCCEEDED], "FAILED": COLOURS[FAILED]}.get(view.status, COLOURS[RUNNING])
    duration = (view.end - view.started).total_seconds()
    legend = "".join(
        f'<span><i style="background:{COLOURS[s]}"></i>{label}</span>'
        for s, label in (
            (SUCCEEDED, "succeeded"),
            (CAUGHT, "failed, caught"),
            (FAILED, "failed"),
            (RUNNING, "running"),
            (None, "not run"),
        )
    )
    failure = (
        f"<h2>Error</h2><p><b>{html.escape(view.error or '')}</b></p><pre>{html.escape(_pretty(view.cause))}</pre>"
        if view.error
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(view.name)}: execution history</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(view.name)} <span class="status" style="background:{status_colour}">{view.status}</span></h1>
<table class="meta"><tr><td>Execution</td><td><code>{html.escape(view.arn)}</code></td></tr>
<tr><td>Started</td><td>{view.started.isoformat()}</td></tr><tr><td>Duration</td><td>{duration:.2f} s</td></tr>
<tr><td>States run</td><td>{len(view.runs)}</td></tr><tr><td>Events</td><td>{len(view.events)}</td></tr></table>
{_chain_nav(view, chain, pages)}{failure}
<h2>Graph: the path taken</h2><p class="legend">{legend}</p>{graph}
<h2>Timeline</h2>{_timeline(view)}
{canary_view.html_section(view)}
<h2>States</h2>{_runs_table(view)}
<h2>Input and output</h2><details open><summary>execution input</summary><pre>{html.escape(_pretty(view.input))}</pre></details>
<details><summary>execution output</summary><pre>{html.escape(_pretty(view.output))}</pre></details>
<h2>Events</h2>{_events_table(view)}
</body></html>
"""
