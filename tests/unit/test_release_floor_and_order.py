"""The healthy floor, and the order outdated instances are taken in."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.domain import versions
from tasks.domain.assess import healthy_floor, spread_over_zones
from tests.unit.builders import instance

if TYPE_CHECKING:
    from tasks.domain.fleet import Instance


def test_floor_of_desired_one_with_min_healthy_one_is_the_whole_fleet() -> None:
    assert healthy_floor(desired=1, min_healthy=1, min_healthy_percent=0) == 1


def test_floor_at_one_hundred_percent_is_desired() -> None:
    assert healthy_floor(desired=7, min_healthy=1, min_healthy_percent=100) == 7


def test_floor_percent_rounds_up() -> None:
    assert healthy_floor(desired=10, min_healthy=0, min_healthy_percent=75) == 8  # 7.5 -> 8
    assert healthy_floor(desired=3, min_healthy=0, min_healthy_percent=34) == 2  # 1.02 -> 2
    assert healthy_floor(desired=3, min_healthy=0, min_healthy_percent=1) == 1  # 0.03 -> 1
    assert healthy_floor(desired=4, min_healthy=0, min_healthy_percent=25) == 1  # exactly 1


def test_floor_is_min_healthy_when_it_is_bigger_than_the_percent() -> None:
    assert healthy_floor(desired=10, min_healthy=5, min_healthy_percent=20) == 5
    assert healthy_floor(desired=10, min_healthy=1, min_healthy_percent=20) == 2


def test_floor_with_nothing_asked_is_zero() -> None:
    assert healthy_floor(desired=5, min_healthy=0, min_healthy_percent=0) == 0


@given(
    desired=st.integers(min_value=0, max_value=10_000),
    min_healthy=st.integers(min_value=0, max_value=10_000),
    percent=st.integers(min_value=0, max_value=100),
)
def test_floor_is_max_of_min_healthy_and_ceiling_of_percent(desired: int, min_healthy: int, percent: int) -> None:
    expected = max(min_healthy, math.ceil(Fraction(percent * desired, 100)))
    assert healthy_floor(desired, min_healthy, percent) == expected


def ids(instances: list[Instance]) -> list[str]:
    return [i.id for i in instances]


def test_spread_takes_one_per_zone_in_turn_oldest_first() -> None:
    candidates = [  # oldest launched first, as a fleet lists them
        instance("i-a2", "1.0.271", az="us-east-1a"),
        instance("i-b1", "1.0.272", az="us-east-1b"),
        instance("i-c2", "1.0.273", az="us-east-1c"),
        instance("i-a1", "1.0.270", az="us-east-1a"),
        instance("i-c1", "1.0.270", az="us-east-1c"),
    ]
    ordered = spread_over_zones(candidates)
    assert ids(ordered) == ["i-a1", "i-c1", "i-b1", "i-a2", "i-c2"]
    assert {i.az for i in ordered[:3]} == {"us-east-1a", "us-east-1b", "us-east-1c"}


def test_spread_orders_by_version_numerically_then_by_launch_order() -> None:
    candidates = [
        instance("i-x", "1.0.274"),
        instance("i-w", "1.0.100.0"),
        instance("i-z", "1.0.100"),
        instance("i-y", "1.0.99"),
    ]
    assert ids(spread_over_zones(candidates)) == ["i-y", "i-w", "i-z", "i-x"]


def test_spread_takes_unreadable_versions_first() -> None:
    candidates = [
        instance("i-new", "1.0.2", az="us-east-1b"),
        instance("i-old", "1.0.1", az="us-east-1a"),
        instance("i-u2", None, az="us-east-1b"),
        instance("i-u1", None, az="us-east-1a"),
    ]
    ordered = spread_over_zones(candidates)
    assert ids(ordered) == ["i-u2", "i-u1", "i-old", "i-new"]


def test_spread_of_nothing_is_nothing() -> None:
    assert spread_over_zones([]) == []


_VERSIONS = [None, "1.0.9", "1.0.10", "1.0.100", "1.0.100.0", "2.0"]


@st.composite
def candidate_lists(draw: st.DrawFn) -> list[Instance]:
    """Candidates in a fleet's order (oldest launched first), with repeated versions and zones."""
    count = draw(st.integers(min_value=0, max_value=12))
    return [
        instance(
            f"i-{n:04d}",
            draw(st.sampled_from(_VERSIONS)),
            az=draw(st.sampled_from(["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"])),
        )
        for n in range(count)
    ]


def _age(i: Instance) -> tuple[int, object, str]:
    """Version (unreadable first), then launch order, which the ids above follow."""
    if i.version is None:
        return (0, 0, i.id)
    return (1, versions.parse(i.version), i.id)


@settings(max_examples=300, deadline=None)
@given(candidate_lists())
def test_spread_is_a_zone_balanced_permutation_oldest_first_within_a_zone(candidates: list[Instance]) -> None:
    ordered = spread_over_zones(candidates)
    assert sorted(ids(ordered)) == sorted(ids(candidates))

    totals = Counter(i.az for i in candidates)
    for k in range(len(ordered) + 1):
        taken = Counter(i.az for i in ordered[:k])
        open_zones = [z for z in totals if taken[z] < totals[z]]
        # a zone with candidates left never lags more than one behind any other zone
        for zone in open_zones:
            assert all(taken[other] <= taken[zone] + 1 for other in totals)

    for zone in totals:
        in_zone = [i for i in ordered if i.az == zone]
        assert in_zone == sorted(in_zone, key=_age)
