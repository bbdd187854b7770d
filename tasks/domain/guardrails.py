"""What the ASG itself says a release may do to it, whatever the execution input asks.

Whoever may start an execution (or put an object in the artifacts bucket) chooses the input, but
the ASG's owner chooses its tags. So the tags have the last word: an ASG is released only when it
opted in, its floor is never below the one its tags set, and a release never moves it to an older
build than most of it serves unless the input says so on purpose (``allow_downgrade``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasks.domain import versions
from tasks.domain.events import APP_TAG, ENABLED_TAG
from tasks.errors import AsgNotOptedInError, DowngradeRefusedError, InvalidAsgTagError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

MIN_HEALTHY_TAG = "asg-terminator:min-healthy"
MIN_HEALTHY_PERCENT_TAG = "asg-terminator:min-healthy-percent"
_LIMITS = {MIN_HEALTHY_TAG: 10000, MIN_HEALTHY_PERCENT_TAG: 100}  # as the input's min_healthy fields
_DIGITS = re.compile(r"[0-9]{1,5}")


def app_of(tags: Mapping[str, str]) -> str | None:
    """The app an ASG's ``asg-terminator:app`` names; None when absent or blank (an empty value is no app)."""
    return tags.get(APP_TAG, "").strip() or None


def opted_in(tags: Mapping[str, str]) -> bool:
    """``asg-terminator:enabled=true``, or a non-empty ``asg-terminator:app``."""
    return tags.get(ENABLED_TAG) == "true" or app_of(tags) is not None


def require_opt_in(asg_name: str, tags: Mapping[str, str]) -> None:
    if not opted_in(tags):
        raise AsgNotOptedInError(
            f"{asg_name}: not opted in to asg-terminator: it needs the tag {ENABLED_TAG}=true or a non-empty "
            f"{APP_TAG} (it has {ENABLED_TAG}={tags.get(ENABLED_TAG)!r}, {APP_TAG}={tags.get(APP_TAG)!r}); "
            f"nothing was changed"
        )


@dataclass(frozen=True)
class TagFloor:
    """The floor the ASG's tags set; 0 where a tag is absent."""

    min_healthy: int = 0
    min_healthy_percent: int = 0


def tag_floor(asg_name: str, tags: Mapping[str, str]) -> TagFloor:
    """Read the floor tags; a malformed one raises InvalidAsgTagError naming it."""
    found: dict[str, int] = {}
    for key, limit in _LIMITS.items():
        if key not in tags:
            continue
        value = tags[key].strip()
        if not _DIGITS.fullmatch(value) or int(value) > limit:
            raise InvalidAsgTagError(
                f"{asg_name}: tag {key}={tags[key]!r} is not a whole number from 0 to {limit}; "
                f"fix or remove the tag (nothing was changed)"
            )
        found[key] = int(value)
    return TagFloor(found.get(MIN_HEALTHY_TAG, 0), found.get(MIN_HEALTHY_PERCENT_TAG, 0))


def check(asg_name: str, tags: Mapping[str, str]) -> TagFloor:
    """Everything an ASG's tags require before a release may touch it: opted in, well-formed floor."""
    require_opt_in(asg_name, tags)
    return tag_floor(asg_name, tags)


def prevailing(served: Iterable[str]) -> str | None:
    """The version most of these instances serve; a tie goes to the highest of the tied versions."""
    counts = Counter(served)
    if not counts:
        return None
    most = max(counts.values())
    return versions.highest([v for v, n in counts.items() if n == most])


def refuse_downgrade(asg_name: str, target: str, served: Iterable[str], allowed: bool) -> None:
    """A target older than the version most serving instances serve is a downgrade: refused unless allowed."""
    current = prevailing(served)
    if allowed or current is None or versions.parse(target) >= versions.parse(current):
        return
    raise DowngradeRefusedError(
        f"{asg_name}: target {target} is older than {current}, the version most serving instances run; "
        f"set allow_downgrade: true to release it on purpose (nothing was terminated)"
    )
