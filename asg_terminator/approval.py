"""Answering a checkpoint that waits for a human (approve_checkpoints): `asg-terminator approve` and
`reject`. The callback token is read from the execution's history, where Step Functions records the
parameters of the AwaitApproval task it scheduled; so answering takes the same rights as reading
the history, and nobody needs to copy a token around. Nothing here prints the token: whoever holds
it may answer, so it stays in the history (and out of ``asg-terminator history``, see history.py).
The answer names the caller as AWS knows them (``sts:GetCallerIdentity``), not the local user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from asg_terminator import history

if TYPE_CHECKING:
    from collections.abc import Callable

CALLBACK = "invoke.waitForTaskToken"
REJECTED = "ReleaseRejectedError"  # tasks/errors.py: the ASG's release fails with this name
_TASK_ENDED = ("TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed")


class ApprovalError(Exception):
    """Nothing to answer, or no way to tell which: the message says which and what to do."""


@dataclass(frozen=True)
class Waiting:
    execution_arn: str
    asg_name: str
    message: str
    token: str = field(repr=False)  # answers the task: never shown
    rolls_back: bool = False  # a rejection converges the ASG back (rollback_on_failure)


def waiting(execution_arn: str, events: list[dict[str, Any]]) -> list[Waiting]:
    """The callback tasks of one execution's history that no answer, failure or timeout has ended."""
    by_id = {e["id"]: e for e in events}
    answered = (history.scheduled(by_id, e) for e in events if e["type"] in _TASK_ENDED)
    ended = {task["id"] for task in answered if task is not None}
    found = []
    for event in events:
        details = event.get("taskScheduledEventDetails") or {}
        if event["type"] != "TaskScheduled" or details.get("resource") != CALLBACK or event["id"] in ended:
            continue
        payload = history.json_object(details.get("parameters")).get("Payload", {})
        asg, message, rolls_back = payload["asg_name"], payload.get("message", ""), payload.get("rollback_on_failure")
        found.append(Waiting(execution_arn, asg, message, payload["task_token"], bool(rolls_back)))
    return found


def waiting_in(sfn: Any, execution_arn: str, asg_name: str | None) -> list[Waiting]:
    """What waits in the release ``execution_arn`` belongs to (its chain's running execution), for
    ``asg_name`` or any ASG."""
    latest = history.chain(sfn, execution_arn, reveal_tokens=True)[-1]
    if latest.status != "RUNNING":
        raise ApprovalError(f"{latest.arn} is {latest.status}: nothing waits for approval")
    found = [w for w in waiting(latest.arn, latest.events) if asg_name in (None, w.asg_name)]
    if not found:
        which = f"{asg_name}'s release" if asg_name else "no ASG's release"
        raise ApprovalError(f"{which} waits for approval in {latest.arn} (yet); see `asg-terminator history`")
    if asg_name is None and len(found) > 1:
        names = ", ".join(sorted(w.asg_name for w in found))
        raise ApprovalError(f"{len(found)} ASGs wait for approval ({names}): name one with --asg")
    return found[:1]


def caller(sts: Any) -> str:
    """Who answers, as AWS knows them: the ARN of the credentials that will call SendTask*."""
    try:
        return str(sts.get_caller_identity()["Arn"])
    except ClientError as e:
        raise ApprovalError(f"cannot tell who answers (sts:GetCallerIdentity): {e}") from e


def approve(sfn: Any, found: Waiting, note: str, approved_by: str) -> None:
    """``approved_by``: :func:`caller`'s ARN, recorded in the history as AwaitApproval's result."""
    answer = {"approved_by": approved_by, "note": note}
    _send(found, lambda: sfn.send_task_success(taskToken=found.token, output=json.dumps(answer)))


def reject(sfn: Any, found: Waiting, reason: str, rejected_by: str) -> None:
    cause = f"{found.asg_name}: rejected by {rejected_by} at '{found.message}': {reason}"
    _send(found, lambda: sfn.send_task_failure(taskToken=found.token, error=REJECTED, cause=cause[:32768]))


def _send(found: Waiting, call: Callable[[], object]) -> None:
    """Make the answer; a refusal (answered meanwhile, timed out) is said without the token."""
    try:
        call()
    except ClientError as e:
        said = history.hide_tokens(str(e), {found.token})
        raise ApprovalError(f"{found.asg_name}: the answer was refused: {said}") from None
