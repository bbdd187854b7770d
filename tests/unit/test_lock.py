"""The per-ASG release lock's rules (tasks/domain/lock.py)."""

from __future__ import annotations

import pytest

from tasks.domain.lock import confirm, may_take
from tasks.errors import AsgLockedError

ME = "arn:aws:states:us-east-1:123456789012:execution:release:me"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:release:other"


def test_a_free_asg_or_our_own_lock_may_be_taken() -> None:
    assert may_take("web", ME, None, holder_running=False)
    assert may_take("web", ME, ME, holder_running=True)


def test_a_lock_whose_release_has_ended_may_be_taken_over() -> None:
    assert may_take("web", ME, OTHER, holder_running=False)


def test_a_running_holder_keeps_the_asg() -> None:
    with pytest.raises(AsgLockedError, match=f"web: being released by {OTHER}; nothing was terminated by {ME}"):
        may_take("web", ME, OTHER, holder_running=True)


def test_reading_back_our_own_name_confirms_the_lock() -> None:
    confirm("web", ME, ME)


@pytest.mark.parametrize(("holder", "named"), [(OTHER, OTHER), (None, "another release")])
def test_losing_the_race_names_the_winner(holder: str | None, named: str) -> None:
    with pytest.raises(AsgLockedError, match=f"web: {named} took the lock at the same time"):
        confirm("web", ME, holder)
