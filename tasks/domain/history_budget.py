"""How many execution-history events a release spends, so that it continues as a new execution in time.

Step Functions ends an execution that reaches 25,000 history events, and a long release (1,000
instances one at a time, slow boots) would get there. Each state run writes a fixed number of events,
so the per-ASG ledger counts what its branch of the Map has spent without reading the history: a
Lambda Task writes 5 (entered, scheduled, started, succeeded, exited), a Choice, Pass or Wait 2.
Retries write more (failed, scheduled, started); the default budget leaves 5,000 events for them.
tests/workflow/test_continue_as_new.py compares these counts with real histories.
"""

from __future__ import annotations

from tasks.domain import asl_paths
from tasks.errors import InvalidExecutionInputError

TASK = 5
CHOICE = PASS = WAIT = 2
MAP = 4  # MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited
MAP_ITERATION = 2  # MapIterationStarted, MapIterationSucceeded
_EVENTS = {"Task": TASK, "Choice": CHOICE, "Pass": PASS, "Wait": WAIT, "Map": MAP}


def _written(states: tuple[tuple[str, str], ...]) -> int:
    """The events a run through ``states`` (name, type) writes, retries aside."""
    return sum(_EVENTS[kind] for _, kind in states)


# Which states each stretch runs is the state machine's (asl_paths, generated from its builder); what
# the states write beyond them is written here. ExecutionStarted, the execution's own states
# (ContinueAsNewExecution writes TaskSubmitted too) and ExecutionSucceeded.
EXECUTION = 1 + _written(asl_paths.EXECUTION) + 1 + 1
# Per ASG, once: the Map iteration, taking the ASG, its outcome and giving it back.
ASG_ONCE = MAP_ITERATION + _written(asl_paths.ASG_ONCE)
# One read of the fleet and the decision on it, and the wait before the next read after a ``wait`` decision.
READ = _written(asl_paths.READ)
# The decision on the read CheckReplacement made when it saw a batch replaced (no Discover, no ReadVersions).
DECIDE = _written(asl_paths.DECIDE)
REREAD = _written(asl_paths.REREAD)
WATCH = _written(asl_paths.WATCH)
# A batch going: drained, then terminated.
TERMINATE = _written(asl_paths.TERMINATE)
# One check of a batch's replacements.
POLL = _written(asl_paths.POLL)
# A checkpoint: the bake, its judgement and (at most) the approval, whose callback writes one more
# event (TaskSubmitted).
CHECKPOINT = _written(asl_paths.CHECKPOINT) + 1
# Rolling back (rollback_on_failure, at most once per ASG).
ROLLBACK = _written(asl_paths.ROLLBACK)


def per_asg(max_events: int, asg_count: int) -> int:
    """Each ASG's share of the execution's budget: the Map runs them side by side."""
    return (max_events - EXECUTION) // asg_count


def batch_cost(poll_seconds: int, replacement_timeout_seconds: int) -> int:
    """The most one more batch can spend: terminate, every check until the timeout, the decision on
    the last check's read (and a wait after it)."""
    polls = -(-replacement_timeout_seconds // poll_seconds) + 2
    return TERMINATE + polls * POLL + DECIDE + REREAD


# The least an execution must do for every ASG: a read, one batch checked twice, the decision after it.
ONE_QUICK_BATCH = ASG_ONCE + READ + TERMINATE + 2 * POLL + DECIDE + REREAD


def check_fits(max_events: int, asg_count: int, poll_seconds: int, replacement_timeout_seconds: int) -> int:
    """The per-ASG budget; raises when not even one quick batch per execution would fit in it.

    A share smaller than the worst case of one batch (every check until the timeout) is allowed:
    such a branch hands over after every batch, and only if most ASGs waited out their whole
    timeout at once could the execution overrun; the default budget leaves 5,000 events for that.
    """
    budget = per_asg(max_events, asg_count)
    if budget < ONE_QUICK_BATCH:
        raise InvalidExecutionInputError(
            f"execution input: max_history_events {max_events} leaves {budget} events for each of "
            f"{asg_count} ASGs, less than the {ONE_QUICK_BATCH} one batch needs at the least; raise "
            f"max_history_events or release fewer ASGs at once"
        )
    return budget


def must_continue(spent: int, budget: int | None, next_batch: int) -> bool:
    """Whether the branch must hand over before its next batch. The first read of an execution never
    does (``check_fits`` made room for it), so every execution in a chain makes progress."""
    if budget is None or spent <= ASG_ONCE + READ:
        return False
    return spent + next_batch > budget
