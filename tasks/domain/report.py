"""The release's closing report: one outcome per ASG, and the failure that lists them all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tasks.domain.fleet import Progress, parse_iso
from tasks.errors import ReleaseFailedError

if TYPE_CHECKING:
    from datetime import datetime


ROLLED_BACK = "ROLLED_BACK"  # rollback_on_failure: failed, then converged back; the release fails
SKIPPED = "SKIPPED"  # another running release holds the ASG and this start skips held ASGs; fails nothing


def failed(report: dict[str, Any]) -> bool:
    """Whether this ASG's report fails the release."""
    return report["status"] in ("FAILED", ROLLED_BACK)


def lambda_error_message(cause: str) -> str:
    """A Lambda error's cause is its JSON payload; keep only the message an operator reads."""
    try:
        payload = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(payload, dict) and "errorMessage" in payload:
        return str(payload["errorMessage"])
    return cause


def asg_report(outcome: dict[str, Any], now: datetime) -> dict[str, Any]:
    progress = outcome["progress"]
    started = progress.get("started_at")
    ended = progress.get("finished_at")
    duration = None
    if started:
        duration = round(((parse_iso(ended) if ended else now) - parse_iso(started)).total_seconds(), 3)
    ledger = Progress.from_record(progress)
    report: dict[str, Any] = {
        "asg_name": outcome["asg_name"],
        "status": outcome["status"],
        "target_version": progress.get("target_version"),
        "versions_before": progress.get("versions_before"),
        "versions_after": progress.get("versions_after"),
        "batches": progress.get("batches", []),  # this execution's; the counts cover the whole chain
        "batch_count": ledger.batch_count,
        "terminated_count": ledger.terminated_count,
        "duration_seconds": duration,
    }
    if outcome["status"] == "PLANNED":
        report["plan"] = (progress.get("decision") or {}).get("plan", [])
        omitted = (progress.get("decision") or {}).get("plan_omitted", 0)
        if omitted:
            report["plan_omitted"] = omitted
    if outcome["status"] in ("FAILED", SKIPPED):
        report["error"] = outcome["error"]
        cause = outcome["cause"]
        report["cause"] = lambda_error_message(cause if cause is not None else "no cause given")
    notes = (outcome.get("unlock") or {}).get("notes")
    if notes:
        report["notes"] = notes
    rolled_back = ledger.rollback_of
    if rolled_back is not None:  # rollback_on_failure: the target failed, the ledger's is the previous
        report.update(target_version=rolled_back["target_version"], rolled_back_to=ledger.target_version)
        if outcome["status"] == "CONVERGED":
            report.update(
                status=ROLLED_BACK, error=rolled_back["error"], cause=rolled_back["cause"] or "no cause given"
            )
        else:  # the rollback failed, or (converged back) the cleanup after it did
            when = "after rolling back" if ledger.finished_at else "while rolling back"
            report["cause"] = f"{report['cause']} ({when} to {ledger.target_version} after {rolled_back['error']})"
    return report


def _line(report: dict[str, Any]) -> str:
    done = f"{report['terminated_count']} terminated in {report['batch_count']} batches"
    if report["status"] == "FAILED":
        return f"{report['asg_name']} FAILED {report['error']} after {done}: {report['cause']}"
    if report["status"] == ROLLED_BACK:
        return (
            f"{report['asg_name']} ROLLED_BACK to {report['rolled_back_to']} after {report['error']} "
            f"({done}): {report['cause']}"
        )
    if report["status"] == "PLANNED":
        return f"{report['asg_name']} PLANNED (dry run) for {report['target_version']}"
    if report["status"] == SKIPPED:
        return f"{report['asg_name']} SKIPPED: {report['cause']}"
    return f"{report['asg_name']} CONVERGED on {report['target_version']} ({done})"


def release_output(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The output of a release whose ASG reports are these, or ReleaseFailedError naming them all."""
    failures = [r for r in reports if failed(r)]
    if failures:
        raise ReleaseFailedError(
            f"{len(failures)} of {len(reports)} ASGs failed: " + "; ".join(_line(r) for r in reports)
        )
    return {"status": "SUCCEEDED", "asgs": reports}
