"""The state machine is written once, in state_machines/build.py: the committed files are its rendering,
the stretches the history budget charges are walks through it, and the figures the docs give of its
states and events are the code's."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import pytest

from state_machines import build
from tasks.domain import history_budget

ROOT = Path(build.__file__).resolve().parent.parent
STATES = dict(build.EXECUTION) | dict(build.ONE_ASG)


@pytest.mark.parametrize("path", list(build.rendered()), ids=lambda path: path.name)
def test_the_committed_file_is_the_builders_rendering(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == build.rendered()[path], (
        f"{path.relative_to(ROOT)} differs from what state_machines/build.py renders: edit the builder, "
        "then run `make asl`"
    )


def successors(state: dict[str, Any]) -> set[str]:
    """Every state ``state`` can go on to: Next, a Choice's rules and Default, a Catch's Next."""
    rules = state.get("Choices", []) + state.get("Catch", [])
    return {state[key] for key in ("Next", "Default") if key in state} | {rule["Next"] for rule in rules}


def first(stretch: build.Walk) -> str:
    return stretch[0][0]


def last(stretch: build.Walk) -> str:
    return stretch[-1][0]


@pytest.mark.parametrize("stretch", list(build.PATHS))
def test_each_charged_stretch_is_a_walk_through_the_state_machine(stretch: str) -> None:
    """A state added inside a stretch breaks its walk, so it cannot go uncharged."""
    for walk in build.PATHS[stretch]:
        names = [name for name, _ in walk]
        for here, there in itertools.pairwise(names):
            assert there in successors(STATES[here]), f"{stretch}: {here} does not go on to {there}"


REREAD = (build.WAIT_BEFORE_REREAD,)
JOINS = [
    (build.LOCK, build.READ),
    (build.READ, build.TERMINATE),
    (build.TERMINATE, build.POLL),
    (build.POLL, build.POLL),
    (build.POLL, build.DECIDE),
    (build.READ, REREAD),
    (REREAD, build.READ),
    (build.READ, build.CHECKPOINT),
    (build.CHECKPOINT, build.READ),
    (build.ROLLBACK, build.READ),
]


@pytest.mark.parametrize(("before", "after"), JOINS, ids=lambda s: f"{first(s)}..{last(s)}")
def test_the_loop_joins_its_stretches_as_the_budget_charges_them(before: build.Walk, after: build.Walk) -> None:
    """A batch is a read, a termination, checks until done and the decision on the last check's read
    (batch_cost): a state added between two stretches breaks the join."""
    assert first(after) in successors(STATES[last(before)]), f"{last(before)} does not go on to {first(after)}"


def figures(document: str, pattern: str) -> list[int]:
    """The numbers ``pattern`` finds in a document (its lines joined, white space folded)."""
    text = " ".join((ROOT / document).read_text(encoding="utf-8").split())
    found = re.search(pattern, text)
    assert found, f"{document}: no {pattern!r}: the text moved; point this test at the figure again"
    return [int(group.replace(",", "")) for group in found.groups()]


def test_the_history_figures_in_the_docs_are_the_codes() -> None:
    doc = "docs/input.md"
    assert figures(doc, r"less (\d+) for the execution's own states") == [history_budget.EXECUTION]
    assert figures(doc, r"a Lambda Task writes (\d+), a Choice, Pass or Wait (\d+)") == [
        history_budget.TASK,
        history_budget.CHOICE,
    ]
    share, events, asgs = figures(doc, r"get (\d+) events each, `per_asg\((\d+), (\d+)\)`")
    assert share == history_budget.per_asg(events, asgs)
    cost, poll, timeout = figures(doc, r"may write (\d+), `batch_cost\((\d+), (\d+)\)`")
    assert cost == history_budget.batch_cost(poll, timeout)
    # 5-minute boots checked every 15 s (the default poll_seconds): 20 checks a batch
    per_batch = history_budget.TERMINATE + math.ceil(300 / 15) * history_budget.POLL + history_budget.DECIDE
    assert figures(doc, r"writes about (\d+) events per batch, so it would get there after about (\d+) batches") == [
        round(per_batch, -1),
        round(25000 / per_batch, -1),
    ]


def test_the_transition_figures_in_the_docs_are_the_builders() -> None:
    batch, poll, reread = len(build.DECIDE + build.TERMINATE), len(build.POLL), len((*REREAD, *build.READ))
    assert figures("docs/performance.md", r"\d+ fixed \+ (\d+) per batch, [^+]*\+ (\d+) per poll") == [batch, poll]
    readme = "benchmarks/README.md"
    assert figures(readme, r"counts WaitBeforeReread loops \((\d+) transitions each\)") == [reread]
    assert figures(readme, r"plus (\d+) per batch, (\d+) per poll and (\d+) per re-read") == [batch, poll, reread]
