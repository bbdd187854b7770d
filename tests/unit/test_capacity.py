"""Issue #6 item 1: how much a release surges, and what LockAsg does with a surge already recorded."""

from __future__ import annotations

import pytest

from tasks.domain.capacity import SurgePlan, plan_surge, recorded, surge_size, to_give_back
from tasks.errors import InvalidStepInputError


@pytest.mark.parametrize(
    ("max_surge", "desired", "max_size", "added"),
    [
        (0, 4, 8, 0),
        (1, 1, 2, 1),
        (3, 4, 5, 1),  # never beyond max size
        ("25%", 4, 8, 1),
        ("25%", 5, 8, 2),  # rounded up
        ("100%", 3, 10, 3),
        ("50%", 4, 4, 0),  # at max size: no room
        ("0%", 4, 8, 0),
    ],
)
def test_a_surge_is_a_count_or_a_percentage_within_max_size(
    max_surge: int | str, desired: int, max_size: int, added: int
) -> None:
    assert surge_size(max_surge, desired, max_size) == added


def test_a_malformed_percentage_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidStepInputError, match="max_surge: 'lots'"):
        surge_size("lots", 4, 8)


@pytest.mark.parametrize(("tag", "value"), [(None, None), ("3", 3), ("0", 0), ("three", None), ("-1", None)])
def test_a_recorded_capacity_is_read_only_when_it_is_a_count(tag: str | None, value: int | None) -> None:
    assert recorded(tag) == value


def test_a_fresh_release_surges_and_records_the_original() -> None:
    assert plan_surge(1, 1, 2, None, ours=False) == SurgePlan(2, 1, "surge: desired 1 -> 2")


def test_without_surge_nothing_changes() -> None:
    assert plan_surge(0, 3, 6, None, ours=False) == SurgePlan(None, None, "no surge")


def test_a_retry_or_the_chains_next_execution_keeps_its_own_surge() -> None:
    assert plan_surge(1, 2, 4, 1, ours=True) == SurgePlan(None, 1, "surge kept: desired 2, 1 before it")


def test_an_interrupted_releases_surge_is_undone_before_surging_again() -> None:
    # desired 5 was left surged from 4 by a release stopped by hand
    assert plan_surge(1, 5, 8, 4, ours=False) == SurgePlan(5, 4, "surge: desired 4 -> 5")
    assert plan_surge(0, 5, 8, 4, ours=False) == SurgePlan(
        4, None, "an interrupted release's surge undone: desired 5 -> 4"
    )


def test_the_surplus_given_back_is_what_serves_nothing_then_the_newest() -> None:
    from tests.unit.builders import instance

    old = instance("i-old", "1.0.1")
    sick = instance("i-sick", "1.0.2", health="Unhealthy")
    booting = instance("i-boot", None, lifecycle="Pending")
    new = instance("i-new", "1.0.2")
    newer = instance("i-newer", "1.0.2")
    warm = instance("i-warm", None, lifecycle="Warmed:Stopped")
    fleet = [old, sick, booting, new, newer, warm]  # oldest launched first, as a fleet lists them
    assert to_give_back(fleet, 3) == ["i-boot", "i-sick", "i-newer"]  # serving nothing, newest first
    assert to_give_back(fleet, 0) == [] and to_give_back(fleet, -1) == []
    assert "i-warm" not in to_give_back(fleet, 10)  # the warm pool is not the group's capacity
