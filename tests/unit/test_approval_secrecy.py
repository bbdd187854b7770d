"""The callback token is read only to answer: every view of the history hides it, wherever it appears."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from asg_terminator import approval, history, history_html
from asg_terminator.paths import RELEASE_ASL

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAfakeTokenABCDEF0123456789=="
ARN = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:r1"
AT = datetime(2026, 12, 1, tzinfo=UTC)


def scheduled(id: int, token: str, resource: str = approval.CALLBACK) -> dict[str, Any]:
    payload = {"asg_name": "web", "task_token": token, "message": "checkpoint 1"}
    details = {"resource": resource, "parameters": json.dumps({"FunctionName": "f", "Payload": payload})}
    return {
        "id": id,
        "type": "TaskScheduled",
        "previousEventId": id - 1,
        "timestamp": AT,
        "taskScheduledEventDetails": details,
    }


class History:
    """Step Functions' answers for one running execution waiting at AwaitApproval."""

    def __init__(self, events: list[dict[str, Any]], cause: str | None = None) -> None:
        self.events, self.cause = events, cause

    def describe_execution(self, **_: Any) -> dict[str, Any]:
        described = {"executionArn": ARN, "name": "r1", "status": "RUNNING", "startDate": AT, "input": "{}"}
        return {**described, "cause": self.cause} if self.cause else described

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": self.events}

    def describe_state_machine_for_execution(self, **_: Any) -> dict[str, Any]:
        return {"definition": RELEASE_ASL.read_text()}


def waiting_history() -> list[dict[str, Any]]:
    entered = {"name": "AwaitApproval", "input": json.dumps({"asg_name": "web"})}
    return [
        {
            "id": 1,
            "type": "TaskStateEntered",
            "previousEventId": 0,
            "timestamp": AT,
            "stateEnteredEventDetails": entered,
        },
        scheduled(2, TOKEN),
        {"id": 3, "type": "TaskStarted", "previousEventId": 2, "timestamp": AT, "taskStartedEventDetails": {}},
        {
            "id": 4,
            "type": "TaskSubmitted",
            "previousEventId": 3,
            "timestamp": AT,
            "taskSubmittedEventDetails": {"output": json.dumps({"echo": f"token {TOKEN} seen"})},
        },
    ]


def test_only_callback_tasks_carry_tokens() -> None:
    events = [scheduled(1, TOKEN), scheduled(2, "not-a-callback", resource="arn:aws:states:::lambda:invoke")]
    assert history.callback_tokens(events) == {TOKEN}
    assert history.callback_tokens([scheduled(1, "")]) == set()


def test_every_view_of_the_history_hides_the_token_wherever_it_appears() -> None:
    sfn = History(waiting_history(), cause=f"failed with {TOKEN}")

    view = history.load(sfn, ARN)
    page = history_html.render(view)

    assert TOKEN in json.dumps(sfn.events, default=str)  # Step Functions keeps it
    assert TOKEN not in json.dumps(view.events, default=str) and TOKEN not in page
    assert TOKEN not in (view.cause or "") and history.HIDDEN_TOKEN in (view.cause or "")
    assert page.count(history.HIDDEN_TOKEN) >= 2  # the scheduled parameters and the echo
    assert [r.name for r in view.runs] == ["AwaitApproval"]  # the history still reads the same
    assert TOKEN in json.dumps(history.load(sfn, ARN, reveal_tokens=True).events, default=str)


def test_answering_reads_the_token_and_never_shows_it() -> None:
    sfn = History(waiting_history())

    (found,) = approval.waiting_in(sfn, ARN, None)

    assert found.token == TOKEN and TOKEN not in repr(found) and TOKEN not in str(found)


class Refusing:
    """SendTaskSuccess/Failure refused as AWS does for an answered task, echoing the token."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _refuse(self, name: str, token: str) -> None:
        self.calls.append(name)
        error = {"Error": {"Code": "TaskTimedOut", "Message": f"Task Timed Out: '{token}'"}}
        raise ClientError(error, name)  # type: ignore[arg-type]

    def send_task_success(self, **call: Any) -> None:
        self._refuse("SendTaskSuccess", call["taskToken"])

    def send_task_failure(self, **call: Any) -> None:
        self._refuse("SendTaskFailure", call["taskToken"])


@pytest.mark.parametrize("approving", [True, False])
def test_a_refused_answer_is_said_without_the_token(approving: bool) -> None:
    found = approval.Waiting(ARN, "web", "checkpoint 1", TOKEN)
    sfn = Refusing()

    with pytest.raises(approval.ApprovalError) as raised:
        if approving:
            approval.approve(sfn, found, "ok", "arn:aws:iam::123456789012:user/ops")
        else:
            approval.reject(sfn, found, "5xx", "arn:aws:iam::123456789012:user/ops")

    assert sfn.calls == ["SendTaskSuccess" if approving else "SendTaskFailure"]
    assert str(raised.value).startswith("web: the answer was refused: ")
    assert TOKEN not in str(raised.value) and history.HIDDEN_TOKEN in str(raised.value)
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_the_caller_is_whoever_sts_says() -> None:
    class Sts:
        def get_caller_identity(self) -> dict[str, str]:
            return {"Arn": "arn:aws:sts::123456789012:assumed-role/ops/alice", "Account": "123456789012"}

    class Denied:
        def get_caller_identity(self) -> dict[str, str]:
            raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "GetCallerIdentity")

    assert approval.caller(Sts()) == "arn:aws:sts::123456789012:assumed-role/ops/alice"
    with pytest.raises(approval.ApprovalError, match=r"cannot tell who answers \(sts:GetCallerIdentity\)"):
        approval.caller(Denied())


@pytest.mark.parametrize(
    ("endpoint", "asked"),
    [
        ("http://127.0.0.1:4566", "http://127.0.0.1:4566"),  # the local stack answers every service
        ("https://states.us-east-1.amazonaws.com", "https://sts.us-east-1.amazonaws.com"),
        (None, "https://sts.us-east-1.amazonaws.com"),
    ],
)
def test_the_caller_is_asked_where_the_release_runs(
    endpoint: str | None, asked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asg_terminator.cli import _sts

    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)  # never look for credentials on 169.254.169.254
    assert _sts(endpoint, "us-east-1").meta.endpoint_url == asked  # a client only: nothing is sent
