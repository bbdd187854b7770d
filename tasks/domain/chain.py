"""A release longer than one execution's history: a chain of executions, each starting the next.

When a branch of the Map has spent its share of the history (see history_budget), it ends with the
outcome CONTINUE and keeps the ASG's lock. Summarize then builds the next execution's input: the same
settings, the ASGs still releasing with their compact ledgers, and the reports of those already done.
The next execution takes the locks over from this one (``takes_over``) and goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasks.domain import history_budget
from tasks.domain.fleet import Progress
from tasks.domain.report import asg_report

if TYPE_CHECKING:
    from datetime import datetime

CONTINUE = "CONTINUE"
CONTINUING = "CONTINUING"
# The console links an execution to the one that started it through this input key.
STARTED_BY = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
NAME_LIMIT = 80


def branches(
    asg_names: list[str], settings: dict[str, Any], continuation: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The Map's items: each ASG, the ledger it starts from, and whose lock it may take over."""
    budget = history_budget.check_fits(
        settings["max_history_events"],
        len(asg_names),
        settings["poll_seconds"],
        settings["replacement_timeout_seconds"],
    )
    carried = {a["asg_name"]: a["progress"] for a in (continuation or {}).get("asgs", [])}
    takes_over = continuation["previous_execution"] if continuation else None
    items = []
    for name in asg_names:
        progress = Progress.from_record(carried[name]) if name in carried else Progress()
        fresh = progress.update(events_budget=budget, events_spent=history_budget.ASG_ONCE)
        items.append({"asg_name": name, "progress": fresh.to_record(), "takes_over": takes_over})
    return items


def next_name(origin: str, index: int) -> str:
    """``web-20261127T1310-3fa2c1`` continues as ``web-20261127T1310-3fa2c1-c2``, then ``-c3``..."""
    suffix = f"-c{index}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", origin)[: NAME_LIMIT - len(suffix)] + suffix


def continue_as_new(
    continuing: list[dict[str, Any]],
    finished: list[dict[str, Any]],
    settings: dict[str, Any],
    execution_id: str,
    execution_name: str,
    continuation: dict[str, Any] | None,
) -> dict[str, Any]:
    """Summarize's output when some ASG continues: the next execution's name and input."""
    origin = continuation["origin"] if continuation else execution_name
    first = continuation["first_execution"] if continuation else execution_id
    index = continuation["index"] + 1 if continuation else 2
    asgs = [
        {"asg_name": o["asg_name"], "progress": Progress.from_record(o["progress"]).carried().to_record()}
        for o in continuing
    ]
    next_input = {
        **settings,
        "asg_names": [a["asg_name"] for a in asgs],
        "continuation": {
            "origin": origin,
            "first_execution": first,
            "index": index,
            "previous_execution": execution_id,
            "asgs": asgs,
            "finished": finished,
        },
        STARTED_BY: execution_id,
    }
    # The finished reports travel once, in the next input: the 256 KiB payload limit applies here.
    return {"status": CONTINUING, "next": {"name": next_name(origin, index), "input": next_input}}


@dataclass(frozen=True)
class Summary:
    """What Summarize does with the branches' outcomes: when some ASG continues, start the chain's
    next execution (``next``: continue_as_new's output); else end the release with the reports of
    ``finished``, announcing its end (``announce``: the release's id) unless it is a dry run."""

    finished: list[dict[str, Any]]
    continuing: int
    next: dict[str, Any] | None
    announce: str | None


def summarize(
    outcomes: list[dict[str, Any]],
    continuation: dict[str, Any] | None,
    settings: dict[str, Any],
    now: datetime,
    execution_id: str,
    execution_name: str,
) -> Summary:
    """The reports of every ASG done, this execution's and those the chain carried, and what follows."""
    continuing = [o for o in outcomes if o["status"] == CONTINUE]
    finished = [
        *(continuation["finished"] if continuation else []),
        *(asg_report(o, now) for o in outcomes if o["status"] != CONTINUE),
    ]
    if continuing:
        following = continue_as_new(continuing, finished, settings, execution_id, execution_name, continuation)
        return Summary(finished, len(continuing), following, None)
    release_id = continuation["first_execution"] if continuation else execution_id
    return Summary(finished, 0, None, None if settings["dry_run"] else release_id)
