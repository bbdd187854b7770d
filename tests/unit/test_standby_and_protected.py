"""Issue #6 item 7: Standby and scale-in protected instances, each kind under its policy
(``standby_instances``, ``protected_instances``: replace | ignore | wait)."""

from __future__ import annotations

import pytest

from tasks.domain.decide import decide
from tasks.domain.dry_run import explain
from tasks.domain.fleet import Instance, Progress
from tasks.errors import ReleaseStalledError
from tests.unit.builders import OLD, TARGET, at, decision_of, fleet, instance, policy


def standby(id: str, version: str | None = OLD) -> Instance:
    return instance(id, version, lifecycle="Standby")


def protected(id: str, version: str = OLD) -> Instance:
    return Instance(**{**instance(id, version).__dict__, "protected": True})


def test_the_record_names_protection_only_when_set() -> None:
    assert "protected" not in instance("i-1", OLD).to_record()
    record = protected("i-1").to_record()
    assert record["protected"] is True and Instance.from_record(record) == protected("i-1")


# -- Standby ----------------------------------------------------------------------------------------


def test_by_default_a_standby_instance_is_left_alone_and_named_at_convergence() -> None:
    seen = fleet(instance("i-1", TARGET), instance("i-2", TARGET), standby("i-s"))
    done = decide(seen, Progress(), policy(target_version=TARGET), at(0))
    decision = decision_of(done)
    assert decision.action == "converged"
    assert "left as they are: i-s in Standby on 1.0.273 (standby_instances: ignore)" in decision.message


def test_replace_terminates_standby_instances_first_without_spending_headroom() -> None:
    # min_healthy 2 of 2 serving: no headroom at all, yet the Standby instance may go.
    seen = fleet(instance("i-1", OLD), instance("i-2", OLD), standby("i-s"), desired=2)
    chosen = decide(seen, Progress(), policy(target_version=TARGET, min_healthy=2, standby_instances="replace"), at(0))
    assert decision_of(chosen).batch == ("i-s",)


def test_replace_keeps_standby_within_max_batch_and_then_fills_it_from_headroom() -> None:
    seen = fleet(*(instance(f"i-{n}", OLD) for n in range(4)), standby("i-s1"), standby("i-s2"), desired=4)
    rules = policy(target_version=TARGET, min_healthy=2, standby_instances="replace")
    assert decision_of(decide(seen, Progress(), policy(**{**rules.__dict__, "max_batch": 1}), at(0))).batch == ("i-s1",)
    both = decision_of(decide(seen, Progress(), policy(**{**rules.__dict__, "max_batch": 3}), at(0))).batch
    assert both[:2] == ("i-s1", "i-s2") and len(both) == 3


def test_a_standby_instance_on_the_target_needs_nothing() -> None:
    seen = fleet(instance("i-1", TARGET), standby("i-s", TARGET))
    for rule in ("replace", "wait"):
        assert decision_of(
            decide(seen, Progress(), policy(target_version=TARGET, standby_instances=rule), at(0))
        ).action == ("converged")


def test_wait_holds_convergence_while_a_standby_instance_is_outdated_then_stalls_naming_it() -> None:
    seen = fleet(instance("i-1", TARGET), standby("i-s", None))
    rules = policy(target_version=TARGET, standby_instances="wait", replacement_timeout_seconds=60)
    waiting = decide(seen, Progress(), rules, at(0))
    assert decision_of(waiting).action == "wait"
    assert "i-s in Standby on an unread version (standby_instances: wait)" in decision_of(waiting).message
    with pytest.raises(ReleaseStalledError, match="i-s in Standby"):
        decide(seen, waiting, rules, at(61))


# -- scale-in protection ----------------------------------------------------------------------------


def test_by_default_a_protected_instance_is_replaced_like_any_other() -> None:
    seen = fleet(protected("i-p"), instance("i-1", TARGET))
    assert decision_of(decide(seen, Progress(), policy(target_version=TARGET, min_healthy=1), at(0))).batch == ("i-p",)


def test_ignore_leaves_protected_instances_serving_and_converges_around_them() -> None:
    seen = fleet(protected("i-p"), instance("i-1", OLD), instance("i-2", TARGET))
    rules = policy(target_version=TARGET, min_healthy=1, protected_instances="ignore")
    chosen = decide(seen, Progress(), rules, at(0))
    assert decision_of(chosen).batch == ("i-1",)

    after = fleet(protected("i-p"), instance("i-3", TARGET), instance("i-2", TARGET))
    done = decide(after, Progress(), rules, at(1))
    assert decision_of(done).action == "converged"
    assert "i-p protected from scale-in on 1.0.273 (protected_instances: ignore)" in decision_of(done).message
    assert "3 instances serve" in decision_of(done).message  # it still serves traffic, on its version


def test_wait_never_terminates_a_protected_instance_and_stalls_naming_it() -> None:
    seen = fleet(protected("i-p"), instance("i-2", TARGET), instance("i-3", TARGET))
    rules = policy(target_version=TARGET, min_healthy=1, protected_instances="wait", replacement_timeout_seconds=60)
    waiting = decide(seen, Progress(), rules, at(0))
    assert decision_of(waiting).action == "wait"
    assert "i-p protected from scale-in on 1.0.273 (protected_instances: wait)" in decision_of(waiting).message
    unprotected = fleet(instance("i-p", OLD), instance("i-2", TARGET), instance("i-3", TARGET))
    assert decision_of(decide(unprotected, waiting, rules, at(30))).batch == ("i-p",)
    with pytest.raises(ReleaseStalledError, match="i-p protected from scale-in"):
        decide(seen, waiting, rules, at(61))


# -- the dry run says which policy set an instance aside -------------------------------------------


def test_the_plan_names_the_policy_behind_each_verdict() -> None:
    seen = fleet(
        instance("i-1", OLD),
        instance("i-2", OLD),
        protected("i-p"),
        standby("i-s1"),
        standby("i-s2"),
        desired=3,
    )
    rules = policy(target_version=TARGET, min_healthy=1, max_batch=1, standby_instances="replace", dry_run=True)
    verdicts = {e["id"]: e["verdict"] for e in explain(seen, decide(seen, Progress(), rules, at(0)), rules)}
    assert verdicts["i-s1"] == "terminate: in the next batch"
    assert verdicts["i-s2"] == "later: in Standby on 1.0.273 (standby_instances: replace), beyond this batch"
    for held, rule in (
        ("wait", "keep: protected from scale-in on 1.0.273 (protected_instances: wait); the release waits"),
    ):
        waiting = policy(**{**rules.__dict__, "protected_instances": held, "standby_instances": "ignore"})
        verdicts = {e["id"]: e["verdict"] for e in explain(seen, decide(seen, Progress(), waiting, at(0)), waiting)}
        assert verdicts["i-p"].startswith(rule)
        assert verdicts["i-s1"] == "keep: in Standby on 1.0.273 (standby_instances: ignore)"


# -- target groups (issue #6 item 2) -----------------------------------------------------------------


def test_an_instance_unhealthy_in_a_target_group_does_not_serve_and_says_why() -> None:
    draining = Instance(**{**instance("i-1", TARGET).__dict__, "lb": "draining in target group web"})
    healthy = Instance(**{**instance("i-2", TARGET).__dict__, "lb": "healthy"})
    assert not draining.serving and draining.why_not_serving() == "draining in target group web"
    assert healthy.serving and instance("i-3", TARGET).serving  # no target groups: lb is None
    assert "lb" not in instance("i-3", TARGET).to_record() and healthy.to_record()["lb"] == "healthy"
    waiting = decide(fleet(draining, healthy), Progress(), policy(target_version=TARGET, min_healthy=1), at(0))
    assert decision_of(waiting).action == "wait"
    assert "i-1 draining in target group web" in decision_of(waiting).message
