"""What EventBridge delivers to the stack's functions, delivered in its place on the local stack.

In AWS two rules reach the functions: S3's ``Object Created`` for an upload to the artifacts bucket
goes to ``StartRelease``, and Step Functions' ``Step Functions Execution Status Change`` for a
release execution that ended ABORTED, FAILED or TIMED_OUT goes to ``Cleanup``. moto emits neither
in a usable form (no status-change events at all; S3 events with one fixed sequencer), so the local
stack and the workflow tests watch the bucket and the state machine's executions instead and
deliver the same events, in their documented shapes, within a second or two.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asg_terminator.history import UNSUCCESSFUL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

DETAIL_TYPE = "Step Functions Execution Status Change"
CLEANED_UP = UNSUCCESSFUL  # the rule's pattern (infra/template.yaml): every end but success
RUNNING = "RUNNING"
_STILL_RUNNING = {"status": RUNNING, "stopDate": None, "output": None, "error": None, "cause": None}


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_event(described: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """The event for one ended execution, from its DescribeExecution."""
    arn = described["executionArn"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.states",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": described["stateMachineArn"],
            "name": described["name"],
            "status": described["status"],
            "startDate": _millis(described.get("startDate")),
            "stopDate": _millis(described.get("stopDate")),
            "input": described.get("input"),
            "output": described.get("output"),
            "inputDetails": {"included": True},
            "outputDetails": None if described.get("output") is None else {"included": True},
            "error": described.get("error"),
            "cause": described.get("cause"),
        },
    }


class _Poller:
    """Look every ``interval`` seconds on a daemon thread; an endpoint going away is tried again."""

    name = "poller"

    def __init__(
        self, deliver: Callable[[dict[str, Any]], None], region: str, account: str, interval: float = 0.5
    ) -> None:
        self._deliver, self._region, self._account, self._interval = deliver, region, account, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered: list[dict[str, Any]] = []

    def first_look(self) -> None:
        """What is there before the watch starts is not new."""

    def poll(self) -> None:
        raise NotImplementedError

    def start(self) -> _Poller:
        self.first_look()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> _Poller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _send(self, event: dict[str, Any]) -> None:
        self._deliver(event)
        self.delivered.append(event)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception:  # the endpoint may be going away; the next look will do
                continue


class StatusChangeDelivery(_Poller):
    """Watch a state machine's executions; hand each change to one of ``statuses`` (by default
    CLEANED_UP, the Cleanup rule's pattern) to ``deliver``, once, as the event EventBridge sends.

    An execution that started and ended between two looks changed twice: RUNNING, then its end."""

    name = "status-change-events"

    def __init__(
        self, sfn: Any, state_machine_arn: str, *delivery: Any, statuses: Iterable[str] = CLEANED_UP, **options: Any
    ) -> None:
        """``delivery``: deliver, region, account (and ``interval``), as for every poller."""
        super().__init__(*delivery, **options)
        self._sfn, self._machine, self._statuses = sfn, state_machine_arn, frozenset(statuses)
        self._seen: dict[str, str] = {}  # each execution's status at the last look

    def first_look(self) -> None:
        self._seen = {e["executionArn"]: e["status"] for e in self._executions()}

    def poll(self) -> None:
        """Deliver what has changed since the last look, the executions in the order they started."""
        for execution in sorted(self._executions(), key=lambda e: e["startDate"]):
            arn, status = execution["executionArn"], execution["status"]
            before = self._seen.get(arn)
            if status == before:
                continue
            changes = [status] if before is not None or status == RUNNING else [RUNNING, status]
            described = None
            for change in changes:
                if change in self._statuses:
                    described = described or self._sfn.describe_execution(executionArn=arn)
                    shown = described if change == status else {**described, **_STILL_RUNNING}
                    self._send(status_change_event(shown, self._region, self._account))
                self._seen[arn] = change  # delivered: a look that fails from here on does not repeat it

    def _executions(self) -> list[dict[str, Any]]:
        pages = self._sfn.get_paginator("list_executions").paginate(stateMachineArn=self._machine)
        return [e for page in pages for e in page["executions"]]


def invoke(lambda_invoke: Callable[[str, bytes], tuple[dict[str, str], bytes]], function: str) -> Any:
    """A ``deliver`` that runs ``function`` with the event through a Lambda Invoke call, as the rule's
    target; returns the function's result."""

    def deliver(event: dict[str, Any]) -> Any:
        _, body = lambda_invoke(function, json.dumps(event).encode())
        return json.loads(body)

    return deliver


def s3_event(bucket: str, key: str, head: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """The EventBridge 'Object Created' event S3 sends for an upload (its documented shape)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": head["ContentLength"],
                "etag": head["ETag"].strip('"'),
                "sequencer": f"{time.time_ns():018X}",
            },
            "reason": "PutObject",
        },
    }


class UploadDelivery(_Poller):
    """Watch a bucket; hand an ``Object Created`` event for each object put since the last look to
    ``deliver``, once per put (a put of the same key again is a new event, as in S3)."""

    name = "object-created-events"

    def __init__(self, s3: Any, bucket: str, *delivery: Any, **options: Any) -> None:
        """``delivery``: deliver, region, account (and ``interval``), as for every poller."""
        super().__init__(*delivery, **options)
        self._s3, self._bucket = s3, bucket
        self._seen: set[tuple[str, str, str]] = set()

    def first_look(self) -> None:
        self._seen = set(self._objects())

    def poll(self) -> None:
        for seen in sorted(set(self._objects()) - self._seen, key=lambda o: o[2]):  # in the order they landed
            self._seen.add(seen)
            head = self._s3.head_object(Bucket=self._bucket, Key=seen[0])
            self._send(s3_event(self._bucket, seen[0], head, self._region, self._account))

    def _objects(self) -> list[tuple[str, str, str]]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket)
        return [
            (o["Key"], o["ETag"], o["LastModified"].isoformat()) for page in pages for o in page.get("Contents", [])
        ]
