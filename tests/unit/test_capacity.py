"""Issue #6 item 1: how much a release surges, and what LockAsg does with a surge already recorded."""

from __future__ import annotations

import pytest

from tasks.domain.capacity import SurgePlan, plan_surge, surge_size, to_give_back
from tasks.domain.lease import Surge
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


def test_a_fresh_release_surges_and_records_the_original() -> None:
    assert plan_surge(1, 1, 2, None) == SurgePlan(2, 1, "surge: desired 1 -> 2")


def test_without_surge_nothing_changes() -> None:
    assert plan_surge(0, 3, 6, None) == SurgePlan(None, None, "no surge")


def test_a_retry_or_the_chains_next_execution_keeps_its_own_surge() -> None:
    assert plan_surge(1, 2, 4, Surge(1, 2)) == SurgePlan(None, 1, "surge kept: desired 2, 1 before it")


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
