"""Each canary judgement of a release (canary_analysis), read from the execution's history: one row per
metric with both medians, the shift, the p-value and its verdict, for ``release --follow``, ``plan``,
``history`` and the history page.

A checkpoint that passed (or waits for a human) has the whole judgement in PassCheckpoint's output
(``decision.canary``). One that failed has only CanaryAnalysisFailedError's message, which names each
failed metric (``MetricResult.describe``): its rows are read back from that text.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table

from asg_terminator import history
from tasks.domain.report import lambda_error_message

if TYPE_CHECKING:
    from asg_terminator.history import ExecutionView

FAILED_ERROR = "CanaryAnalysisFailedError"
# MetricResult.describe(), for a metric that FAILed or had no data (tasks/domain/canary.py)
_FAILED = re.compile(
    r"(?P<label>[^;:]+): FAIL: canary median (?P<canary>\S+) vs baseline median (?P<baseline>\S+) "
    r"\((?P<shift>from 0|[+-]?\S+ %), tolerance [^)]*\), p = (?P<p>[^,]+), \d+ vs \d+ datapoints"
)
_NODATA = re.compile(r"(?P<label>[^;:]+): NODATA: (?P<canary>\d+) canary and (?P<baseline>\d+) baseline datapoints")
_SCORE = re.compile(r"=> canary score (?P<score>\S+): (?P<verdict>[A-Z]+)")


@dataclass(frozen=True)
class CanaryRow:
    asg_name: str
    checkpoint: int  # from 1, per ASG
    judged: str  # the checkpoint's verdict and score, e.g. "FAIL (score 0)"
    metric: str
    canary_median: str
    baseline_median: str
    shift: str
    p_value: str
    verdict: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.asg_name,
            f"{self.checkpoint}: {self.judged}",
            self.metric,
            self.canary_median,
            self.baseline_median,
            self.shift,
            self.p_value,
            self.verdict,
        )


COLUMNS = ("ASG", "checkpoint", "metric", "canary median", "baseline median", "shift", "p", "verdict")


def _number(value: float | None, form: str = ".4g") -> str:
    return "-" if value is None else format(value, form)


def rows(view: ExecutionView) -> list[CanaryRow]:
    found: list[CanaryRow] = []
    checkpoints: dict[str, int] = {}
    for run in view.runs:
        if run.name != "PassCheckpoint" or run.asg_name is None:
            continue
        judged = _from_output(run.output) if run.status == history.SUCCEEDED else None
        if judged is None and run.error == FAILED_ERROR:
            judged = _from_failure(run.cause)
        if judged is None:
            continue
        number = checkpoints[run.asg_name] = checkpoints.get(run.asg_name, 0) + 1
        found += [CanaryRow(run.asg_name, number, judged[0], *cells) for cells in judged[1]]
    return found


def _from_output(output: str | None) -> tuple[str, list[tuple[str, ...]]] | None:
    state = history.json_object(output)
    canary = ((state.get("progress") or {}).get("decision") or {}).get("canary") or {}
    judgement = canary.get("judgement")
    if not isinstance(judgement, dict):
        return None
    cells: list[tuple[str, ...]] = []
    for result in judgement["results"]:
        metric = result["metric"]
        shift = result["shift_percent"]
        if shift is None and result["canary_median"] is not None and result["baseline_median"] is not None:
            shown = "from 0"
        else:
            shown = "-" if shift is None else f"{shift:+.3g} %"
        cells.append(
            (
                f"{metric['namespace']}/{metric['metric_name']} ({metric['statistic']})",
                _number(result["canary_median"]),
                _number(result["baseline_median"]),
                shown,
                _number(result["p_value"], ".2g"),
                result["verdict"],
            )
        )
    return f"{judgement['verdict']} (score {judgement['score']:.3g})", cells


def _from_failure(cause: str | None) -> tuple[str, list[tuple[str, ...]]] | None:
    message = lambda_error_message(cause or "")
    score = _SCORE.search(message)
    if score is None:
        return None
    cells: list[tuple[str, ...]] = []
    for part in message.split("; "):
        if failed := _FAILED.search(part):
            label = failed["label"].split(": ")[-1].strip()
            cells.append((label, failed["canary"], failed["baseline"], failed["shift"], failed["p"], "FAIL"))
        elif nodata := _NODATA.search(part):
            label = nodata["label"].split(": ")[-1].strip()
            counts = f"{nodata['canary']} datapoints", f"{nodata['baseline']} datapoints"
            cells.append((label, *counts, "-", "-", "NODATA"))
    return f"{score['verdict']} (score {score['score']})", cells


def table(view: ExecutionView) -> Table | None:
    found = rows(view)
    if not found:
        return None
    shown = Table(title="canary analysis")
    for column in COLUMNS:
        shown.add_column(column, overflow="fold")
    colours = {"PASS": "green", "FAIL": "red", "NODATA": "red"}
    for row in found:
        *cells, verdict = row.cells()
        shown.add_row(*cells, f"[{colours.get(verdict, 'yellow')}]{verdict}")
    return shown


def html_section(view: ExecutionView) -> str:
    found = rows(view)
    if not found:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        '<tr class="canary">' + "".join(f"<td>{html.escape(cell)}</td>" for cell in row.cells()) + "</tr>"
        for row in found
    )
    return f'<h2>Canary analysis</h2><table id="canary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def as_records(view: ExecutionView) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts (``history --json``, a demo's summary)."""
    return [json.loads(json.dumps(row.__dict__)) for row in rows(view)]
