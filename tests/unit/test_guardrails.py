"""What the ASG's own tags allow, whatever the input asks: opt-in, a floor the input cannot lower,
and no downgrade by accident (tasks/domain/guardrails.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.domain.decide import decide
from tasks.domain.fleet import Progress
from tasks.domain.guardrails import (
    MIN_HEALTHY_PERCENT_TAG,
    MIN_HEALTHY_TAG,
    TagFloor,
    check,
    opted_in,
    prevailing,
    refuse_downgrade,
    tag_floor,
)
from tasks.errors import AsgNotOptedInError, DowngradeRefusedError, InvalidAsgTagError
from tests.unit.builders import ASG, T0, decision_of, fleet, instance, policy

ENABLED, APP = "asg-terminator:enabled", "asg-terminator:app"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({ENABLED: "true"}, True),
        ({APP: "web"}, True),
        ({ENABLED: "false", APP: "web"}, True),
        ({}, False),
        ({APP: ""}, False),  # the IAM loophole: an empty value opted in
        ({APP: "   "}, False),
        ({ENABLED: "TRUE"}, False),  # tag values are case-sensitive, as the IAM condition is
        ({ENABLED: "yes"}, False),
        ({ENABLED: ""}, False),
        ({"Name": "web"}, False),
    ],
)
def test_an_asg_is_opted_in_only_by_enabled_true_or_a_non_empty_app(tags: dict[str, str], expected: bool) -> None:
    assert opted_in(tags) is expected


def test_an_asg_not_opted_in_is_refused_naming_it_and_the_tags() -> None:
    with pytest.raises(AsgNotOptedInError) as refused:
        check(ASG, {APP: ""})
    message = str(refused.value)
    assert message.startswith(f"{ASG}: not opted in") and ENABLED in message and APP in message
    assert "nothing was changed" in message


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, TagFloor(0, 0)),
        ({MIN_HEALTHY_TAG: "3"}, TagFloor(3, 0)),
        ({MIN_HEALTHY_PERCENT_TAG: "50"}, TagFloor(0, 50)),
        ({MIN_HEALTHY_TAG: " 2 ", MIN_HEALTHY_PERCENT_TAG: "100"}, TagFloor(2, 100)),
        ({MIN_HEALTHY_TAG: "10000"}, TagFloor(10000, 0)),
    ],
)
def test_the_floor_tags_are_read(tags: dict[str, str], expected: TagFloor) -> None:
    assert check(ASG, {ENABLED: "true", **tags}) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (MIN_HEALTHY_TAG, ""),
        (MIN_HEALTHY_TAG, "-1"),
        (MIN_HEALTHY_TAG, "1.5"),
        (MIN_HEALTHY_TAG, "two"),
        (MIN_HEALTHY_TAG, "10001"),
        (MIN_HEALTHY_TAG, "1e3"),
        (MIN_HEALTHY_TAG, "０"),  # a full-width digit: int() would take it
        (MIN_HEALTHY_TAG, "9" * 400),
        (MIN_HEALTHY_PERCENT_TAG, "101"),
        (MIN_HEALTHY_PERCENT_TAG, "50%"),
        (MIN_HEALTHY_PERCENT_TAG, "0x10"),
    ],
)
def test_a_malformed_floor_tag_is_refused_naming_it(key: str, value: str) -> None:
    with pytest.raises(InvalidAsgTagError, match=f"^{ASG}: tag {key}=") as refused:
        tag_floor(ASG, {key: value})
    assert "nothing was changed" in str(refused.value)


def test_the_input_can_raise_the_tags_floor_but_never_lower_it() -> None:
    seen = fleet(*[instance(f"i-{n}", "1.0.1") for n in range(10)], desired=10)
    guarded = replace(seen, tag_min_healthy=6)
    lowered = decide(guarded, Progress(), policy(target_version="1.0.2", min_healthy=0, min_healthy_percent=0), T0)
    assert len(decision_of(lowered).batch) == 4  # the tag's floor of 6, not the input's 0
    raised = decide(guarded, Progress(), policy(target_version="1.0.2", min_healthy=8), T0)
    assert len(decision_of(raised).batch) == 2  # the input's higher floor of 8
    by_percent = replace(seen, tag_min_healthy_percent=70)
    chosen = decide(by_percent, Progress(), policy(target_version="1.0.2", min_healthy=0, min_healthy_percent=10), T0)
    assert len(decision_of(chosen).batch) == 3  # 70 % of 10


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        ([], None),
        (["1.0.1"], "1.0.1"),
        (["1.0.1", "1.0.1", "1.0.2"], "1.0.1"),
        (["1.0.1", "1.0.2"], "1.0.2"),  # a tie goes to the highest
        (["1.0.10", "1.0.9", "1.0.9", "1.0.10"], "1.0.10"),
    ],
)
def test_the_prevailing_version_is_what_most_serve(served: list[str], expected: str | None) -> None:
    assert prevailing(served) == expected


def test_a_target_older_than_most_of_the_fleet_is_refused_unless_allowed() -> None:
    served = ["1.0.274", "1.0.274", "1.0.266"]
    with pytest.raises(DowngradeRefusedError, match=r"target 1\.0\.266 is older than 1\.0\.274"):
        refuse_downgrade(ASG, "1.0.266", served, allowed=False)
    refuse_downgrade(ASG, "1.0.266", served, allowed=True)
    refuse_downgrade(ASG, "1.0.274", served, allowed=False)  # the same version is no downgrade
    refuse_downgrade(ASG, "1.0.274.0", served, allowed=False)
    refuse_downgrade(ASG, "1.0.280", served, allowed=False)
    refuse_downgrade(ASG, "1.0.1", [], allowed=False)  # nothing serves yet: nothing to downgrade


def test_the_downgrade_is_judged_at_the_first_read_only() -> None:
    """The first read fixes the target; later reads (half the fleet on the older target) do not re-judge."""
    old_fleet = fleet(*[instance(f"i-{n}", "1.0.274") for n in range(4)], desired=4)
    first = decide(old_fleet, Progress(), policy(target_version="1.0.266", min_healthy=2, allow_downgrade=True), T0)
    assert decision_of(first).action == "terminate"
    later = decide(old_fleet, first.update(decision=None), policy(target_version="1.0.266", min_healthy=2), T0)
    assert decision_of(later).action == "terminate"
    with pytest.raises(DowngradeRefusedError):
        decide(old_fleet, Progress(), policy(target_version="1.0.266", min_healthy=2), T0)
