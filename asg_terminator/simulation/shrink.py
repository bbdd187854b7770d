"""Shrink a failing case to a short one that fails the same way.

A case is its list of draws (engine.Draws); past the list's end every draw is 0, the calmest choice.
So a shorter list, or smaller numbers in it, is a simpler case: fewer ASGs and instances, fewer
releases, fewer faults and stops. The shrinker tries, greedily, cutting the list short, deleting
runs of draws and lowering single draws, and keeps each change after which the case still breaks
the same invariant (Hypothesis shrinks its choice sequences the same way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asg_terminator.simulation import engine

if TYPE_CHECKING:
    from asg_terminator.simulation.engine import Result


def rules(result: Result) -> set[str]:
    return {v.split(":", 1)[0] for v in result.violations}


def shrink(failing: Result, findings: frozenset[str] = frozenset(), budget: int = 400) -> Result:  # noqa: C901
    """The smallest case found within ``budget`` runs that breaks one of the same invariants."""
    wanted = rules(failing)
    best, tries = failing, 0

    def attempt(draws: list[int]) -> bool:
        nonlocal best, tries
        if tries >= budget or draws == best.draws:
            return False
        tries += 1
        result = engine.run(failing.seed or 0, trace=True, replay=draws, findings=findings, contracts=False)
        if rules(result) & wanted and (len(result.draws), result.draws) < (len(best.draws), best.draws):
            best = result
            return True
        return False

    # Cut the list short: the shortest prefix that still fails (a binary search, then a step back).
    low, high = 0, len(best.draws)
    while low < high and tries < budget:
        middle = (low + high) // 2
        if attempt(best.draws[:middle]):
            high = len(best.draws)
        else:
            low = middle + 1
    improved = True
    while improved and tries < budget:
        improved = False
        for size in (8, 4, 2, 1):
            start = 0
            while start < len(best.draws) and tries < budget:
                if attempt(best.draws[:start] + best.draws[start + size :]):
                    improved = True
                else:
                    start += size
        for at in range(len(best.draws)):
            if tries >= budget or at >= len(best.draws):  # an attempt that failed may have shortened it
                break
            value = best.draws[at]
            for lower in sorted({0, value // 2, value - 1} - {value}):
                if lower >= 0 and attempt([*best.draws[:at], lower, *best.draws[at + 1 :]]):
                    improved = True
                    break
    return best
