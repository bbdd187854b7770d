"""The events a release sends to EventBridge (``event_bus_name``): source ``asg-terminator``.

Five detail types, each detail checked against tasks/schemas/notification.json before it is sent:
``ASG Release Started`` once an ASG's lock is taken, ``Batch Replaced`` once a batch's replacements
serve the target, ``Canary Judged`` when a checkpoint's canary was judged (canary_analysis),
``Approval Requested`` when a checkpoint waits for a human (approve_checkpoints, a MARGINAL canary),
``Release Ended`` with every ASG's outcome. A release that continues as a new
execution sends one of each, not one per execution; a dry run sends none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.domain import report

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tasks.domain.canary import CanaryJudgement
    from tasks.domain.fleet import Progress

SOURCE = "asg-terminator"
STARTED, BATCH_REPLACED, ENDED = "ASG Release Started", "Batch Replaced", "Release Ended"
APPROVAL_REQUESTED = "Approval Requested"
CANARY_JUDGED = "Canary Judged"


def started(release_id: str, asg_name: str) -> tuple[str, dict[str, Any]]:
    return STARTED, {"release_id": release_id, "asg_name": asg_name}


def batch_replaced(
    release_id: str, asg_name: str, progress: Progress, batch: tuple[str, ...]
) -> tuple[str, dict[str, Any]]:
    """``batch``: the instances replaced (the pending batch, whole; the ledger names only its recent ids)."""
    return BATCH_REPLACED, {
        "release_id": release_id,
        "asg_name": asg_name,
        "target_version": progress.target_version,
        "instance_ids": list(batch),
        "batch_count": progress.batch_count,
        "terminated_count": progress.terminated_count,
    }


def canary_judged(
    asg_name: str, progress: Progress, cohort: Mapping[str, Any], judgement: CanaryJudgement
) -> tuple[str, dict[str, Any]]:
    """Sent before the verdict acts (a FAIL's is sent before the ASG fails), so a subscriber sees each."""
    return CANARY_JUDGED, {
        "release_id": progress.release_id or "",
        "asg_name": asg_name,
        "target_version": progress.target_version,
        "baseline_version": cohort["baseline_version"],
        "checkpoint": progress.checkpoints_passed + 1,
        "verdict": judgement.verdict,
        "score": judgement.score,
        "message": judgement.summary(asg_name),
        "canary_ids": list(cohort["canary_ids"]),
        "baseline_ids": list(cohort["baseline_ids"]),
        "results": [r.to_record() for r in judgement.results],
    }


def approval_requested(release_id: str, asg_name: str, execution_arn: str, message: str) -> tuple[str, dict[str, Any]]:
    """What a human needs to answer: the commands, not the callback token (answering reads it from
    the execution's history, which takes the rights to answer)."""
    return APPROVAL_REQUESTED, {
        "release_id": release_id,
        "asg_name": asg_name,
        "execution_arn": execution_arn,
        "message": message,
        "approve": f"asg-terminator approve {execution_arn} --asg {asg_name}",
        "reject": f"asg-terminator reject {execution_arn} --asg {asg_name} --reason TEXT",
    }


def ended(release_id: str, reports: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """From the release's reports (tasks/domain/report.py): its status and each ASG's outcome."""
    keep = ("asg_name", "status", "target_version", "batch_count", "terminated_count", "error")
    return ENDED, {
        "release_id": release_id,
        "status": "FAILED" if any(map(report.failed, reports)) else "SUCCEEDED",
        "asgs": [{k: r[k] for k in keep if k in r} for r in reports],
    }
