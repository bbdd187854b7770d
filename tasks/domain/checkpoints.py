"""Canary and checkpoints: after so many instances are replaced, the release bakes, and may wait for a
human's approval, before it terminates more.

``checkpoints`` lists how far the release goes before each pause: a count of instances (``1``, the
canary) or a percentage (``"50%"``) of the instances the release replaces (those it has replaced,
and those the latest read says it still will; instances a policy leaves alone are not counted).
A checkpoint is reached once that many instances were terminated and their replacements serve the
target; batches never cross one. ``"100%"`` bakes after the last batch,
before the release is declared converged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

APPROVAL_PROMPT = "waiting for approval (asg-terminator approve|reject)"


def thresholds(checkpoints: Sequence[int | str], base: int) -> tuple[int, ...]:
    """Each checkpoint as a number of replaced instances (a percentage of ``base`` rounded up, at
    least 1), ascending and without repeats; none reaches past ``base``."""
    counts = {min(_count(c, base), base) for c in checkpoints}
    return tuple(sorted(c for c in counts if c > 0))


def _count(checkpoint: int | str, base: int) -> int:
    if isinstance(checkpoint, int):
        return checkpoint
    percent = int(checkpoint.removesuffix("%"))
    return max(1, -(-percent * base // 100))


@dataclass(frozen=True)
class Checkpoints:
    """Where a release stands against its checkpoints."""

    at: tuple[int, ...]  # thresholds, in replaced instances
    passed: int  # how many of them the release has passed
    replaced: int  # instances terminated so far (their replacements serve: decisions come after)

    @classmethod
    def of(cls, checkpoints: Sequence[int | str], base: int, passed: int, replaced: int) -> Checkpoints:
        return cls(thresholds(checkpoints, base), passed, replaced)

    @property
    def next(self) -> int | None:
        return self.at[self.passed] if self.passed < len(self.at) else None

    @property
    def reached(self) -> bool:
        """The next checkpoint's instances are replaced: bake before anything else is terminated."""
        return self.next is not None and self.replaced >= self.next

    def room(self) -> int | None:
        """How many more instances may go before the next checkpoint (None: no checkpoint ahead)."""
        return None if self.next is None else self.next - self.replaced

    def describe(self, asg_name: str, bake_seconds: int, approval: bool) -> str:
        then = f"; then {APPROVAL_PROMPT}" if approval else ""
        return (
            f"{asg_name} => checkpoint {self.passed + 1} of {len(self.at)}: {self.replaced} instances "
            f"replaced; baking {bake_seconds} s{then}"
        )
