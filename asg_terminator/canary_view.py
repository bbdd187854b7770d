"""Each canary judgement of a release (canary_analysis), read from the execution's history: one row per
metric with both medians, the shift, the p-value and its verdict, for ``release --follow``, ``plan``,
``history`` and the history page.

A checkpoint that passed (or waits for a human) has the whole judgement in PassCheckpoint's output
(``decision.canary``). One that failed has only CanaryAnalysisFailedError's message, which names each
metric (``MetricResult.describe``), those that failed first: its rows are read back from that text.

A dry run (``plan``) reaches no checkpoint and judges nothing in the state machine; ``plan`` judges
the fleet as it stands instead (``judged_now``): the instances already on the target against those on
the version being replaced, over the last ``bake_seconds``, read here with the caller's credentials.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table

from asg_terminator import history
from tasks.domain import canary_checkpoint, rollback, versions
from tasks.domain.canary import CanaryAnalysis
from tasks.domain.report import lambda_error_message

if TYPE_CHECKING:
    from collections.abc import Mapping

    from asg_terminator.history import ExecutionView
    from tasks.adapters.cloudwatch import CloudWatch

FAILED_ERROR = "CanaryAnalysisFailedError"
# MetricResult.describe(), for a metric that was judged or had no data (tasks/domain/canary.py)
_JUDGED = re.compile(
    r"(?P<label>[^;:]+): (?P<verdict>FAIL|PASS): canary median (?P<canary>\S+) vs baseline median (?P<baseline>\S+) "
    r"\((?P<shift>from 0|[+-]?\S+ %), tolerance [^)]*\), p = (?P<p>[^,]+), \d+ vs \d+ datapoints"
)
_NODATA = re.compile(r"(?P<label>[^;:]+): NODATA: (?P<canary>\d+) canary and (?P<baseline>\d+) baseline datapoints")
_SCORE = re.compile(r"=> canary score (?P<score>\S+): (?P<verdict>[A-Z]+)")


@dataclass(frozen=True)
class CanaryRow:
    asg_name: str
    checkpoint: int | str  # from 1, per ASG; "now" for a dry run's judgement of the fleet as it stands
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
    return _from_judgement(judgement)


def _from_judgement(judgement: dict[str, Any]) -> tuple[str, list[tuple[str, ...]]]:
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
        if judged := _JUDGED.search(part):
            label = judged["label"].split(": ")[-1].strip()
            cells.append((label, judged["canary"], judged["baseline"], judged["shift"], judged["p"], judged["verdict"]))
        elif nodata := _NODATA.search(part):
            label = nodata["label"].split(": ")[-1].strip()
            counts = f"{nodata['canary']} datapoints", f"{nodata['baseline']} datapoints"
            cells.append((label, *counts, "-", "-", "NODATA"))
    return f"{score['verdict']} (score {score['score']})", cells


def dry_run_cohorts(report: Mapping[str, Any]) -> dict[str, Any]:
    """A dry run launched nothing: its canary is every InService instance its plan found already on
    the target, its baseline those on the version being replaced (as at a checkpoint)."""
    target = report.get("target_version") or ""
    baseline_version = rollback.previous_version(report.get("versions_before"), target)
    serving = [e for e in report.get("plan", []) if e["state"] == "InService" and e["version"]]
    canaries = [e["id"] for e in serving if versions.same(e["version"], target)]
    baseline = [e["id"] for e in serving if baseline_version and versions.same(e["version"], baseline_version)]
    return {
        "canary_ids": canaries[-canary_checkpoint.MAX_PER_SIDE :],
        "baseline_ids": baseline[: canary_checkpoint.MAX_PER_SIDE],
        "baseline_version": baseline_version,
    }


def judged_now(view: ExecutionView, cloudwatch: CloudWatch, now: datetime) -> tuple[list[CanaryRow], list[str]]:
    """``plan`` with canary_analysis: per ASG, the judge's verdict on the fleet as it stands, over the
    last ``bake_seconds`` before ``now`` (rows), or why there is none to give (lines)."""
    settings = next(
        (history.json_object(r.output).get("settings") for r in view.runs if r.name == "ValidateInput"), None
    )
    if not isinstance(settings, dict) or not settings.get("canary_analysis"):
        return [], []
    analysis = CanaryAnalysis.from_record(settings["canary_analysis"])
    start = now - timedelta(seconds=settings["bake_seconds"])
    output = history.json_object(view.output)
    found: list[CanaryRow] = []
    unjudged: list[str] = []
    for report in output.get("asgs", []):
        cohort = dry_run_cohorts(report)
        asg = report["asg_name"]
        if not cohort["canary_ids"] or not cohort["baseline_ids"]:
            missing = "the target" if not cohort["canary_ids"] else (cohort["baseline_version"] or "an older version")
            unjudged.append(
                f"{asg}: canary not judged now: no instance serves {missing}; each checkpoint judges the instances "
                f"the release launched against those still on the version being replaced"
            )
            continue
        metrics = [(m.namespace, m.metric_name, m.statistic) for m in analysis.metrics]
        ids = [*cohort["canary_ids"], *cohort["baseline_ids"]]
        read = cloudwatch.instance_datapoints(metrics, ids, start, now, analysis.period_seconds)
        judged, cells = _from_judgement(canary_checkpoint.judge(analysis, cohort, read).to_record())
        found += [CanaryRow(asg, "now", judged, *row) for row in cells]
    return found, unjudged


def table(view: ExecutionView, found: list[CanaryRow] | None = None, heading: str = "canary analysis") -> Group | None:
    """The judgements in ``view`` (or ``found``, e.g. ``judged_now``'s): one table per ASG and
    checkpoint, titled with both and the verdict, so each fits 80 columns with its metrics whole."""
    found = rows(view) if found is None else found
    if not found:
        return None
    colours = {"PASS": "green", "FAIL": "red", "NODATA": "red"}
    tables: dict[tuple[str, str], Table] = {}
    for row in found:
        asg, checkpoint, metric, *numbers, verdict = row.cells()
        shown = tables.get((asg, checkpoint))
        if shown is None:
            shown = tables[(asg, checkpoint)] = Table(title=f"{heading}: {asg}, checkpoint {checkpoint}")
            shown.add_column(COLUMNS[2], no_wrap=True)
            for column in COLUMNS[3:-1]:
                shown.add_column(column, justify="right")
            shown.add_column(COLUMNS[-1], no_wrap=True)
        shown.add_row(metric, *numbers, f"[{colours.get(verdict, 'yellow')}]{verdict}")
    return Group(*tables.values())


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
