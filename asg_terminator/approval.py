"""Answering a checkpoint that waits for a human (approve_checkpoints): `asg-terminator approve` and
`reject`. The callback token is read from the execution's history, where Step Functions records the
parameters of the AwaitApproval task it scheduled; so answering takes the same rights as reading
the history, and nobody needs to copy a token around.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from typing import Any

from asg_terminator import history

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
    token: str
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
    latest = history.chain(sfn, execution_arn)[-1]
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


def approve(sfn: Any, found: Waiting, note: str) -> None:
    answer = {"approved_by": getpass.getuser(), "note": note}
    sfn.send_task_success(taskToken=found.token, output=json.dumps(answer))


def reject(sfn: Any, found: Waiting, reason: str) -> None:
    cause = f"{found.asg_name}: rejected by {getpass.getuser()} at '{found.message}': {reason}"
    sfn.send_task_failure(taskToken=found.token, error=REJECTED, cause=cause[:32768])
