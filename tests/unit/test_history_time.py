"""Where a release's time goes (benchmarks/demo_overhead.py's breakdown, `demo --json`'s
seconds_in_states and asg_seconds): per ASG, each state's runs summed, and the ASG's span."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from asg_terminator import history

T = datetime(2026, 12, 2, tzinfo=UTC)


def _run(name: str, asg: str | None, start: float, end: float | None) -> history.StateRun:
    return history.StateRun(
        name=name,
        type="Task",
        entered=T + timedelta(seconds=start),
        input=json.dumps({"asg_name": asg} if asg else {"asgs": []}),
        entered_id=1,
        exited=None if end is None else T + timedelta(seconds=end),
    )


def test_seconds_per_state_and_the_span_of_each_asg() -> None:
    runs = [
        _run("ValidateInput", None, 0, 0.5),
        _run("LockAsg", "web", 1, 1.5),
        _run("WaitForReplacement", "web", 2, 5),
        _run("CheckReplacement", "web", 5, 5.25),
        _run("WaitForReplacement", "web", 5.5, 7.5),
        _run("LockAsg", "api", 1, 2),
        _run("Discover", "api", 3, None),  # still running: until the view's end
    ]
    view = history.ExecutionView("arn", "n", "RUNNING", T, T + timedelta(seconds=10), None, None, None, None, {}, [])
    view.runs = runs
    assert view.seconds_in_states() == {
        "": {"ValidateInput": 0.5},
        "web": {"LockAsg": 0.5, "WaitForReplacement": 5.0, "CheckReplacement": 0.25},
        "api": {"LockAsg": 1.0, "Discover": 7.0},
    }
    assert view.asg_spans() == {"web": 6.5, "api": 9.0}
