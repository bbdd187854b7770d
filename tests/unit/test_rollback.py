"""rollback_on_failure in the pure domain: what a failed ASG goes back to, how it goes, and how it is reported."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import contracts
from tasks.domain import alarms, history_budget
from tasks.domain.decide import decide
from tasks.domain.execution_input import settings_from_input
from tasks.domain.fleet import Decision, Pending, Progress
from tasks.domain.rollback import begin, pin_name, previous_version
from tasks.errors import InvalidExecutionInputError, NothingToRollBackError, ReleaseFailedError
from tests.unit import builders
from tests.unit.builders import OLD, T0, TARGET, at, decision_of, fleet, instance, outcome_progress, policy, stamp

PIN = "/asg-terminator/{asg_name}/build"


def test_the_previous_version_is_what_most_instances_ran_before() -> None:
    assert previous_version({"1.0.272": 1, OLD: 3, TARGET: 2, "unknown": 5}, TARGET) == OLD
    assert previous_version({"1.0.272": 2, OLD: 2}, TARGET) == OLD  # equally common: the highest
    assert previous_version({TARGET: 3, "unknown": 1}, TARGET) is None
    assert previous_version(None, TARGET) is None


def failed_ledger() -> Progress:
    return Progress(
        target_version=TARGET,
        versions_before={OLD: 3},
        batches=(("i-1",),),
        started_at=stamp(0),
        pending=Pending(("i-1",), ("i-1", "i-2", "i-3"), stamp(1), "waiting"),
        decision=Decision("terminate", "x", ("i-1",)),
        waiting_since=stamp(2),
        checkpoints_passed=1,
    )


def test_rolling_back_targets_the_previous_version_and_keeps_what_failed() -> None:
    rolling = begin(failed_ledger(), "web", "AlarmTriggeredError", '{"errorMessage": "web-5xx in ALARM"}')
    assert rolling.target_version == OLD
    assert rolling.rollback_of == {
        "target_version": TARGET,
        "error": "AlarmTriggeredError",
        "cause": "web-5xx in ALARM",
    }
    assert (rolling.pending, rolling.decision, rolling.waiting_since) == (None, None, None)
    assert rolling.batches == (("i-1",),) and rolling.started_at == stamp(0)  # the release's record stays whole
    assert rolling.events_spent == failed_ledger().events_spent + history_budget.ROLLBACK
    assert contracts.problems("roll_back.output", rolling.to_record()) == []
    assert Progress.from_record(rolling.to_record()).carried().rollback_of == rolling.rollback_of
    assert begin(failed_ledger(), "web", "States.Timeout", None).rollback_of["cause"] == ""  # type: ignore[index]


def test_there_is_nothing_to_roll_back_to_when_only_the_target_ran() -> None:
    with pytest.raises(NothingToRollBackError, match=r"web: States\.Timeout and nothing to roll back to"):
        begin(failed_ledger().update(versions_before={TARGET: 2}), "web", "States.Timeout", None)
    with pytest.raises(NothingToRollBackError, match="before any instance was terminated"):
        begin(Progress(target_version=TARGET, versions_before={OLD: 2}, batches=((),)), "web", "States.Timeout", None)


def test_a_rollback_has_no_checkpoints_replaces_what_it_cannot_read_and_ignores_alarms() -> None:
    rolling = begin(failed_ledger(), "web", "AlarmTriggeredError", None).update(checkpoints_passed=0)
    chosen = policy(min_healthy=1, checkpoints=(1,), approve_checkpoints=True)
    seen = fleet(instance("i-2", OLD), instance("i-3", OLD), instance("i-9", None, reason="HTTP 503"))
    batch = decision_of(decide(seen, rolling, chosen, T0)).batch
    assert batch == ("i-9",)  # unreadable, so outdated; no checkpoint holds it back
    assert alarms.watched(["web-5xx"], rolling) == [] and alarms.watched(["web-5xx"], Progress()) == ["web-5xx"]
    assert chosen.during(Progress()) is chosen


def test_a_rollback_takes_what_the_failed_release_launched_first_and_keeps_the_floor() -> None:
    # 4 serve the old version; 3 old ones are slow to answer; the 3 newest run the broken build.
    slow = [instance(f"i-slow{n}", None, reason="timeout after 2 s") for n in range(3)]
    broken = [instance(f"i-new{n}", None, reason="HTTP 503") for n in range(3)]
    seen = fleet(*[instance(f"i-old{n}", OLD) for n in range(4)], *slow, *broken)
    rolling = begin(failed_ledger(), "web", "ReplacementTimeoutError", None)
    batch = decision_of(decide(seen, rolling, policy(min_healthy_percent=50), T0)).batch
    # The floor (5 of 10) counts the unreadable as serving; taking the broken ones first keeps the
    # instances that really serve (4 readable + the slow ones left) at 5 or more.
    assert batch[:3] == ("i-new2", "i-new1", "i-new0") and len(batch) == 5
    assert 4 + sum(1 for i in slow if i.id not in batch) >= 5


def _outcome(status: str, progress: Progress, **failure: Any) -> dict[str, Any]:
    record = outcome_progress(progress.to_record(), status)
    return {"asg_name": "web", "status": status, "release_id": "arn:x", "progress": record, **failure}


def test_a_rolled_back_asg_fails_the_release_and_says_where_it_went() -> None:
    rolling = begin(failed_ledger(), "web", "AlarmTriggeredError", "web-5xx in ALARM").update(finished_at=stamp(60))
    with pytest.raises(ReleaseFailedError) as raised:
        builders.summarized([_outcome("CONVERGED", rolling)], at(60))
    assert str(raised.value) == (
        "1 of 1 ASGs failed: web ROLLED_BACK to 1.0.273 after AlarmTriggeredError (1 terminated in 1 batches): "
        "web-5xx in ALARM"
    )


def test_a_rollback_that_failed_says_so() -> None:
    rolling = begin(failed_ledger(), "web", "AlarmTriggeredError", "web-5xx")
    outcome = _outcome("FAILED", rolling, error="ReplacementTimeoutError", cause="i-9 HTTP 503")
    with pytest.raises(
        ReleaseFailedError, match=r"web FAILED ReplacementTimeoutError .*: i-9 HTTP 503 \(while rolling"
    ):
        builders.summarized([outcome], at(60))


def test_a_cleanup_that_failed_after_a_rollback_says_the_rollback_was_done() -> None:
    rolled = begin(failed_ledger(), "web", "AlarmTriggeredError", "web-5xx").update(finished_at=stamp(60))
    outcome = _outcome("FAILED", rolled, error="AwsRequestError", cause="DeleteTags denied")
    with pytest.raises(ReleaseFailedError, match=r"DeleteTags denied \(after rolling back to 1\.0\.273 after Alarm"):
        builders.summarized([outcome], at(60))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"rollback_on_failure": True}, "rollback_on_failure: needs pin_parameter"),
        ({"pin_parameter": "/asg-terminator/build"}, "has no {asg_name}: each ASG needs its own parameter"),
        ({"pin_parameter": "/app/{asg_name}"}, "is not under /asg-terminator/"),
        ({"asg_names": ["web app"], "pin_parameter": PIN}, "'web app' makes no SSM parameter name"),
    ],
)
def test_rollback_input_that_cannot_work_is_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidExecutionInputError, match=r"pin_parameter|rollback_on_failure") as raised:
        settings_from_input({"asg_names": ["web"], **fields}, contracts.defaults("validate_input.input"))
    assert problem in str(raised.value)


def test_each_asg_has_its_own_pin() -> None:
    assert pin_name(PIN, "live_asg_web") == "/asg-terminator/live_asg_web/build"
    accepted = settings_from_input(
        {"asg_names": ["web"], "pin_parameter": PIN, "rollback_on_failure": True},
        contracts.defaults("validate_input.input"),
    )
    assert accepted["settings"]["pin_parameter"] == PIN
