"""Canary and checkpoints in the pure domain: where a release pauses, and that no batch crosses a pause."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from asg_terminator import approval
from tasks import contracts
from tasks.domain import history_budget
from tasks.domain.checkpoints import Checkpoints, thresholds
from tasks.domain.decide import decide
from tasks.domain.execution_input import settings_from_input
from tasks.domain.fleet import Instance, Progress
from tasks.errors import InvalidExecutionInputError
from tests.unit.builders import OLD, T0, TARGET, decision_of, fleet, instance, policy

if TYPE_CHECKING:
    from tasks.domain.policy import Policy


@pytest.mark.parametrize(
    ("checkpoints", "base", "expected"),
    [
        ([1, "50%", "100%"], 10, (1, 5, 10)),
        (["33%"], 10, (4,)),  # percentages round up
        (["1%"], 10, (1,)),  # and are never 0
        ([5, "50%"], 10, (5,)),  # the same point twice is one checkpoint
        (["100%", 1], 4, (1, 4)),  # in any order
        ([50], 10, (10,)),  # none reaches past the instances to replace
        ([1, "50%"], 0, ()),  # nothing to replace: no checkpoint
    ],
)
def test_thresholds(checkpoints: list[int | str], base: int, expected: tuple[int, ...]) -> None:
    assert thresholds(checkpoints, base) == expected


def test_where_a_release_stands() -> None:
    stage = Checkpoints.of([1, "50%"], base=6, passed=0, replaced=0)
    assert (stage.next, stage.reached, stage.room()) == (1, False, 1)
    stage = Checkpoints.of([1, "50%"], base=6, passed=0, replaced=1)
    assert (stage.next, stage.reached, stage.room()) == (1, True, 0)
    stage = Checkpoints.of([1, "50%"], base=6, passed=2, replaced=3)
    assert (stage.next, stage.reached, stage.room()) == (None, False, None)
    assert stage.describe("web", 60, approval=False).endswith("baking 60 s")
    assert "then waiting for approval (asg-terminator approve|reject)" in stage.describe("web", 60, approval=True)


def _old(count: int) -> list[Instance]:
    return [instance(f"i-o{n}", OLD, az=("us-east-1a", "us-east-1b")[n % 2]) for n in range(count)]


def _canary_policy() -> Policy:
    return policy(target_version=TARGET, min_healthy=1, checkpoints=(1, "50%"), bake_seconds=60)


def test_the_first_batch_is_the_canary_and_no_batch_crosses_a_checkpoint() -> None:
    seen = fleet(*_old(6))
    first = decide(seen, Progress(), _canary_policy(), T0)
    assert decision_of(first).action == "terminate" and len(decision_of(first).batch) == 1  # the floor allows 5

    # One replaced, and its replacement serves: the release bakes before anything else goes.
    one_replaced = fleet(*_old(5), instance("i-n0", TARGET))
    ledger = first.with_batch(decision_of(first).batch).update(decision=None)
    at_canary = decide(one_replaced, ledger, _canary_policy(), T0)
    assert decision_of(at_canary).action == "checkpoint"
    assert decision_of(at_canary).message == "live_asg_web => checkpoint 1 of 2: 1 instances replaced; baking 60 s"
    spent = at_canary.events_spent - ledger.events_spent
    assert spent == history_budget.READ + history_budget.CHECKPOINT

    # Once passed, the next batch goes up to the next checkpoint: 50% of 6 is 3, so 2 more.
    passed = at_canary.update(checkpoints_passed=1)
    second = decide(one_replaced, passed, _canary_policy(), T0)
    assert decision_of(second).action == "terminate" and len(decision_of(second).batch) == 2


def test_a_checkpoint_at_100_percent_bakes_before_the_release_converges() -> None:
    chosen = policy(target_version=TARGET, checkpoints=("100%",))
    started = decide(fleet(*_old(2)), Progress(), chosen, T0)
    done = started.with_batch(("i-o0", "i-o1")).update(decision=None)
    replaced = fleet(instance("i-n0", TARGET), instance("i-n1", TARGET))
    assert decision_of(decide(replaced, done, chosen, T0)).action == "checkpoint"
    assert decision_of(decide(replaced, done.update(checkpoints_passed=1), chosen, T0)).action == "converged"


def test_percentages_count_only_what_the_release_replaces() -> None:
    # 8 outdated instances to replace and 2 protected ones the policy leaves alone: 100% is the 8.
    chosen = policy(target_version=TARGET, checkpoints=("50%", "100%"), protected_instances="ignore")
    protected = [replace(instance(f"i-p{n}", OLD), protected=True) for n in range(2)]
    first = decide(fleet(*_old(8), *protected), Progress(), chosen, T0)
    assert len(decision_of(first).batch) == 4  # 50% of 8
    replaced = [instance(f"i-n{n}", TARGET) for n in range(8)]
    done = first.update(batches=(tuple(f"i-o{n}" for n in range(8)),), checkpoints_passed=1, decision=None)
    assert decision_of(decide(fleet(*replaced, *protected), done, chosen, T0)).action == "checkpoint"


def test_when_the_fleet_shrinks_percentages_follow_what_is_left_to_replace() -> None:
    # 6 outdated at the start, 1 replaced, then the group scaled in: 50% is now of 1, and is reached.
    chosen = policy(target_version=TARGET, checkpoints=("50%",))
    ledger = Progress(target_version=TARGET, versions_before={OLD: 6}, batches=(("i-o0",),))
    shrunk = fleet(instance("i-n0", TARGET), instance("i-n1", TARGET))
    assert decision_of(decide(shrunk, ledger, chosen, T0)).action == "checkpoint"
    assert decision_of(decide(shrunk, ledger.update(checkpoints_passed=1), chosen, T0)).action == "converged"
    # Nothing replaced at all: there is no checkpoint to reach.
    untouched = Progress(target_version=TARGET, versions_before={TARGET: 2})
    assert decision_of(decide(shrunk, untouched, chosen, T0)).action == "converged"


def test_a_chain_carries_the_checkpoints_passed() -> None:
    assert Progress(checkpoints_passed=2).carried().checkpoints_passed == 2
    assert Progress.from_record(Progress(checkpoints_passed=2).to_record()).checkpoints_passed == 2


def test_approval_without_checkpoints_is_refused() -> None:
    with pytest.raises(InvalidExecutionInputError, match="approve_checkpoints: there is no checkpoint to approve"):
        settings_from_input(
            {"asg_names": ["web"], "approve_checkpoints": True}, contracts.defaults("validate_input.input")
        )


@pytest.mark.parametrize("bad", [0, "0%", "150%", "50", "half", -1])
def test_a_checkpoint_is_a_positive_count_or_a_percentage(bad: object) -> None:
    assert contracts.problems("validate_input.input", {"asg_names": ["web"], "checkpoints": [bad]}) != []


def _event(id: int, kind: str, previous: int, **details: Any) -> dict[str, Any]:
    return {"id": id, "type": kind, "previousEventId": previous, **details}


def _scheduled(id: int, asg: str, token: str) -> dict[str, Any]:
    parameters = {"FunctionName": "f", "Payload": {"asg_name": asg, "task_token": token, "message": "checkpoint 1"}}
    details = {"resource": approval.CALLBACK, "parameters": json.dumps(parameters)}
    return _event(id, "TaskScheduled", id - 1, taskScheduledEventDetails=details)


def test_what_waits_for_approval_is_read_from_the_history() -> None:
    events = [
        _scheduled(1, "web", "t-web"),
        _event(2, "TaskStarted", 1),
        _event(3, "TaskSubmitted", 2),
        _scheduled(4, "api", "t-api"),
        _event(5, "TaskStarted", 4),
        _event(6, "TaskSubmitted", 5),
        _event(7, "TaskSucceeded", 3),  # web was answered
        _event(8, "TaskScheduled", 7, taskScheduledEventDetails={"resource": "arn:aws:lambda:::function:Discover"}),
    ]
    (api,) = approval.waiting("arn:x", events)
    assert (api.asg_name, api.token, api.message, api.execution_arn) == ("api", "t-api", "checkpoint 1", "arn:x")
    events.append(_event(9, "TaskTimedOut", 6))
    assert approval.waiting("arn:x", events) == []
