"""LockAsg against a lease store whose reads lag and whose writes land late: at most one holder wins.

The store is moto's DynamoDB behind a wrapper that lies the way a distributed store can: every read
(even one asking for consistency) returns the item as it was ``lag`` seconds ago, and a write may
land ``late`` seconds after it was sent, its caller told it timed out (so it retries, as the ASL's
Retry would) while the write still lands later. The conditions are evaluated by DynamoDB when a
write lands, which is what the lease relies on: nothing else about the reads or the timing.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from tasks import runtime
from tasks.adapters.leases import Leases, to_item
from tasks.adapters.stepfunctions import ExecutionState
from tasks.domain.lease import Lease
from tasks.errors import AsgLockedError, AwsUnavailableError
from tasks.handlers.lock_asg import handler as lock_asg
from tests.functional.support import REGION
from tests.unit.builders import settings

if TYPE_CHECKING:
    from collections.abc import Callable

CONTENDERS = 5
ROUNDS = 8


class LaggingStore:
    """A DynamoDB client whose reads are ``lag`` seconds stale and whose writes may land late."""

    def __init__(self, client: Any, rng: random.Random, lag: float, late: float, lost: float = 0.4) -> None:
        self._client, self._rng, self._lag, self._late, self._lost = client, rng, lag, late, lost
        self._lock = threading.Lock()
        self._history: list[tuple[float, dict[str, Any] | None]] = [(0.0, None)]
        self.landed_late = 0

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        seen_at = time.monotonic() - self._lag
        with self._lock:
            item = next(item for at, item in reversed(self._history) if at <= seen_at)
        return {} if item is None else {"Item": item}

    def put_item(self, **kwargs: Any) -> Any:
        return self._write(self._client.put_item, kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        return self._write(self._client.update_item, kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        return self._write(self._client.delete_item, kwargs)

    def _write(self, call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        if self._rng.random() < self._lost:  # lands late; the caller hears a timeout and retries
            threading.Thread(target=self._land_late, args=(call, kwargs), daemon=True).start()
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return self._land(call, kwargs)

    def _land_late(self, call: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        time.sleep(self._rng.uniform(0, self._late))
        self.landed_late += 1
        # A write whose condition no longer held when it landed changed nothing.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._land(call, kwargs)

    def _land(self, call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        result = call(**kwargs)
        now = self._client.get_item(TableName=kwargs["TableName"], Key={"asg_name": {"S": "web"}}, ConsistentRead=True)
        with self._lock:
            self._history.append((time.monotonic(), now.get("Item")))
        return result

    def holder(self, table: str) -> str | None:
        item = self._client.get_item(TableName=table, Key={"asg_name": {"S": "web"}}, ConsistentRead=True)
        return item["Item"]["holder"]["S"] if "Item" in item else None


ENDED = "arn:aws:states:us-east-1:123456789012:execution:release:ended-long-ago"


class Executions:
    """Step Functions' view: every contender's execution runs; ENDED stopped an hour ago."""

    def state_of(self, execution_arn: str) -> ExecutionState:
        if execution_arn == ENDED:
            return ExecutionState("ABORTED", time.time() - 3600, None)
        return ExecutionState("RUNNING", None, None)

    def is_running(self, execution_arn: str) -> bool:
        return self.state_of(execution_arn).status == "RUNNING"


def contend(me: str, chosen: dict[str, Any], outcome: dict[str, str]) -> None:
    """LockAsg, retried on AwsUnavailableError as the ASL's Retry does (with a jittered pause)."""
    for attempt in range(6):
        try:
            lock_asg({"asg_name": "web", "release_id": me, "takes_over": None, "settings": chosen}, None)
        except AwsUnavailableError:
            time.sleep(random.uniform(0, 0.05 * 2**attempt))
            continue
        except AsgLockedError:
            outcome[me] = "locked out"
            return
        outcome[me] = "owner"
        return
    outcome[me] = "gave up"


@pytest.mark.parametrize("seed", range(ROUNDS))
@pytest.mark.parametrize("before", ["free", "held by an ended release"])
def test_lock_asg_against_lagging_reads_and_late_writes_lets_at_most_one_holder_win(
    seed: int, before: str, make_asg: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("web", 2, max_size=4)
    rng = random.Random(seed)
    client = boto3.client("dynamodb", region_name=REGION)
    table = runtime.settings().lease_table
    if before != "free":  # every contender swaps from the same ended holder, conditioned on it
        client.put_item(TableName=table, Item=to_item(Lease("web", ENDED, time.time() + 3600, 3600)))
    store = LaggingStore(client, rng, lag=rng.uniform(0.05, 0.3), late=0.4)
    monkeypatch.setattr(runtime, "leases", lambda: Leases(store, table))  # type: ignore[arg-type]
    monkeypatch.setattr(runtime, "stepfunctions", Executions)
    chosen = settings(suspend_processes=["AZRebalance"], max_surge=1)  # fenced changes, recorded in the lease
    outcome: dict[str, str] = {}
    names = [f"arn:aws:states:us-east-1:123456789012:execution:release:r{seed}-{n}" for n in range(CONTENDERS)]
    threads = [threading.Thread(target=contend, args=(name, chosen, outcome)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    time.sleep(0.5)  # every late write has landed

    owners = [name for name, said in outcome.items() if said == "owner"]
    assert len(outcome) == CONTENDERS
    assert len(owners) <= 1, outcome
    if owners:
        assert store.holder(table) == owners[0]  # no late write displaced the one that won
        desired = boto3.client("autoscaling", region_name=REGION).describe_auto_scaling_groups(
            AutoScalingGroupNames=["web"]
        )["AutoScalingGroups"][0]["DesiredCapacity"]
        assert desired == 3  # surged once, by the owner: a loser's surge never landed


def test_without_faults_exactly_one_contender_wins(
    make_asg: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rounds above are not vacuous: a LockAsg that refused everyone would pass them, not this."""
    make_asg("web", 2, max_size=4)
    client = boto3.client("dynamodb", region_name=REGION)
    table = runtime.settings().lease_table
    store = LaggingStore(client, random.Random(0), lag=0.0, late=0.0, lost=0.0)
    monkeypatch.setattr(runtime, "leases", lambda: Leases(store, table))  # type: ignore[arg-type]
    monkeypatch.setattr(runtime, "stepfunctions", Executions)
    outcome: dict[str, str] = {}
    names = [f"arn:aws:states:us-east-1:123456789012:execution:release:calm-{n}" for n in range(CONTENDERS)]
    threads = [threading.Thread(target=contend, args=(n, settings(max_surge=1), outcome)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    owners = [name for name, said in outcome.items() if said == "owner"]
    assert len(owners) == 1 and store.holder(table) == owners[0], outcome
    assert sorted(outcome.values()) == ["locked out"] * (CONTENDERS - 1) + ["owner"]
