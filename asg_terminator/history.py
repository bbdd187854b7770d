"""An execution's history as the Step Functions console shows it: states run, path taken, timings.

Works on any endpoint that speaks the Step Functions API (AWS, the local stack, Step Functions
Local). State runs are paired from the event chain (``previousEventId``), so parallel Map
iterations that run the same state at the same time are told apart.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

ExecutionT = TypeVar("ExecutionT")

SUCCEEDED, CAUGHT, FAILED, RUNNING = "SUCCEEDED", "CAUGHT", "FAILED", "RUNNING"
# The statuses after which an execution runs no more (DescribeExecution's terminal values): it
# succeeded, or it ended unsuccessfully (what the Cleanup rule matches, infra/template.yaml).
UNSUCCESSFUL = ("ABORTED", "FAILED", "TIMED_OUT")
TERMINAL = ("SUCCEEDED", *UNSUCCESSFUL)


@dataclass
class StateRun:
    name: str
    type: str
    entered: datetime
    input: str
    entered_id: int
    exited: datetime | None = None
    output: str | None = None
    status: str = RUNNING
    error: str | None = None
    cause: str | None = None
    previous: str | None = None  # the state this run came from, for the path taken

    @property
    def asg_name(self) -> str | None:
        try:
            value = json.loads(self.input)
        except ValueError:
            return None
        name = value.get("asg_name") if isinstance(value, dict) else None
        return name if isinstance(name, str) else None

    def duration(self, until: datetime | None = None) -> float | None:
        end = self.exited or until
        return None if end is None else (end - self.entered).total_seconds()


@dataclass
class ExecutionView:
    arn: str
    name: str
    status: str
    started: datetime
    stopped: datetime | None
    input: str | None
    output: str | None
    error: str | None
    cause: str | None
    definition: dict[str, Any]
    events: list[dict[str, Any]]
    runs: list[StateRun] = field(default_factory=list)

    @property
    def end(self) -> datetime:
        if self.stopped:
            return self.stopped
        return max((e["timestamp"] for e in self.events), default=self.started)

    def state_outcomes(self) -> dict[str, str]:
        """Per state name, the worst outcome of its runs (what the console's graph colours)."""
        rank = {SUCCEEDED: 0, RUNNING: 1, CAUGHT: 2, FAILED: 3}
        outcomes: dict[str, str] = {}
        for run in self.runs:
            if rank[run.status] >= rank.get(outcomes.get(run.name, SUCCEEDED), 0):
                outcomes[run.name] = run.status
        return outcomes

    def seconds_in_states(self) -> dict[str, dict[str, float]]:
        """Per ASG (its Map iteration's runs; ``""`` for the execution's own states), the seconds spent
        in each state, summed over its runs: where a release's time goes."""
        spent: dict[str, dict[str, float]] = {}
        for run in self.runs:
            seconds = run.duration(self.end)
            if seconds is not None:
                per_state = spent.setdefault(run.asg_name or "", {})
                per_state[run.name] = per_state.get(run.name, 0.0) + seconds
        return spent

    def asg_spans(self) -> dict[str, float]:
        """Per ASG, the seconds from its first state entered to its last state left."""
        first: dict[str, datetime] = {}
        last: dict[str, datetime] = {}
        for run in self.runs:
            if run.asg_name is not None:
                first[run.asg_name] = min(first.get(run.asg_name, run.entered), run.entered)
                last[run.asg_name] = max(last.get(run.asg_name, run.entered), run.exited or self.end)
        return {name: (last[name] - first[name]).total_seconds() for name in first}

    def transitions(self) -> dict[tuple[str, str], int]:
        taken: dict[tuple[str, str], int] = {}
        for run in self.runs:
            if run.previous:
                key = (run.previous, run.name)
                taken[key] = taken.get(key, 0) + 1
        return taken


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def earlier(by_id: dict[int, dict[str, Any]], event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The events before ``event`` on its chain (previousEventId), nearest first; ``by_id``: the
    history's events by id."""
    previous = by_id.get(event.get("previousEventId", 0))
    while previous is not None:
        yield previous
        previous = by_id.get(previous.get("previousEventId", 0))


def scheduled(by_id: dict[int, dict[str, Any]], event: dict[str, Any]) -> dict[str, Any] | None:
    """The TaskScheduled event a task event (started, succeeded, failed...) belongs to."""
    return next((e for e in earlier(by_id, event) if e["type"] == "TaskScheduled"), None)


class _RunBuilder:
    """Pairs each *StateEntered event with its *StateExited (or failure) through previousEventId."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._by_id = {e["id"]: e for e in events}
        self.runs: dict[int, StateRun] = {}

    def chain(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return earlier(self._by_id, event)

    def run_of(self, event: dict[str, Any], name: str | None) -> tuple[StateRun | None, dict[str, Any] | None]:
        """The run this event belongs to, and the last failure event inside that run."""
        failure, inside = None, True
        for earlier in self.chain(event):
            kind = str(earlier["type"])
            if kind.endswith("StateEntered"):
                run = self.runs.get(earlier["id"])
                if run is not None and (name is None or run.name == name):
                    return run, failure
                inside = False
            elif kind.endswith("StateExited"):
                inside = False
            elif inside and failure is None and kind.endswith(("Failed", "TimedOut")):
                failure = earlier
        return None, None

    def entered(self, event: dict[str, Any]) -> None:
        details = _details(event)
        previous = next((e for e in self.chain(event) if str(e["type"]).endswith("StateExited")), None)
        self.runs[event["id"]] = StateRun(
            name=details.get("name", "?"),
            type=str(event["type"])[: -len("StateEntered")],
            entered=event["timestamp"],
            input=details.get("input", ""),
            entered_id=event["id"],
            previous=_details(previous).get("name") if previous else None,
        )

    def exited(self, event: dict[str, Any]) -> None:
        details = _details(event)
        run, failure = self.run_of(event, details.get("name"))
        if run is None:
            return
        run.exited, run.output, run.status = event["timestamp"], details.get("output"), SUCCEEDED
        if failure is not None and run.type not in ("Map", "Parallel"):
            run.status = CAUGHT
            run.error, run.cause = _details(failure).get("error"), _details(failure).get("cause")

    def failed(self, event: dict[str, Any]) -> None:
        run, failure = self.run_of(event, None)
        if run is None:
            return
        run.status = FAILED
        source = _details(failure or event)
        run.error = run.error or source.get("error") or _details(event).get("error")
        run.cause = run.cause or source.get("cause") or _details(event).get("cause")


def build_runs(events: list[dict[str, Any]], execution_failed: bool) -> list[StateRun]:
    builder = _RunBuilder(events)
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            builder.entered(event)
        elif kind.endswith("StateExited"):
            builder.exited(event)
        elif kind in (
            "ExecutionFailed",
            "ExecutionTimedOut",
            "ExecutionAborted",
            "MapStateFailed",
            "ParallelStateFailed",
        ):
            builder.failed(event)
    if execution_failed:
        for run in builder.runs.values():
            if run.status == RUNNING and run.type in ("Map", "Parallel"):
                run.status = FAILED
    return sorted(builder.runs.values(), key=lambda r: r.entered_id)


def events_of(sfn: Any, execution_arn: str, max_pages: int | None = None) -> list[dict[str, Any]]:
    """Every event of the execution's history, all pages (at most ``max_pages`` of them, if given)."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    pages = 0
    while max_pages is None or pages < max_pages:
        page = sfn.get_execution_history(**kwargs)
        pages += 1
        events.extend(page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return events


# A callback task's token (``$$.Task.Token``, passed to AwaitApproval) answers it: whoever holds it may
# approve the release. Step Functions records it in the TaskScheduled event's parameters, so every view
# read here drops it, wherever it appears, unless the caller is the one answering (asg_terminator/approval.py).
CALLBACK_SUFFIX = ".waitForTaskToken"
HIDDEN_TOKEN = "(callback token: not shown)"


def _token_values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and key.replace("_", "").lower().endswith("tasktoken"):
                yield item
            else:
                yield from _token_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _token_values(item)


def callback_tokens(events: list[dict[str, Any]]) -> set[str]:
    """The tokens of the execution's callback tasks, read from their TaskScheduled parameters."""
    tokens: set[str] = set()
    for event in events:
        details = event.get("taskScheduledEventDetails") or {}
        if event.get("type") == "TaskScheduled" and str(details.get("resource", "")).endswith(CALLBACK_SUFFIX):
            tokens.update(token for token in _token_values(json_object(details.get("parameters"))) if token)
    return tokens


def hide_tokens(value: Any, tokens: set[str]) -> Any:
    """``value`` (an event, a JSON text...) with each of ``tokens`` replaced, at any depth."""
    if isinstance(value, str):
        for token in tokens:
            value = value.replace(token, HIDDEN_TOKEN)
        return value
    if isinstance(value, dict):
        return {key: hide_tokens(item, tokens) for key, item in value.items()}
    if isinstance(value, list):
        return [hide_tokens(item, tokens) for item in value]
    return value


def load(sfn: Any, execution_arn: str, reveal_tokens: bool = False) -> ExecutionView:
    """The execution's history; callback tokens hidden unless ``reveal_tokens`` (answering needs them)."""
    described = sfn.describe_execution(executionArn=execution_arn)
    events = events_of(sfn, execution_arn)
    tokens = set() if reveal_tokens else callback_tokens(events)
    if tokens:
        events = hide_tokens(events, tokens)
        described = hide_tokens(described, tokens)
    try:
        definition = sfn.describe_state_machine_for_execution(executionArn=execution_arn)["definition"]
    except Exception:  # older endpoints: fall back to the machine's current definition
        definition = sfn.describe_state_machine(stateMachineArn=described["stateMachineArn"])["definition"]
    view = ExecutionView(
        arn=execution_arn,
        name=described.get("name", execution_arn.rsplit(":", 1)[-1]),
        status=described["status"],
        started=described["startDate"],
        stopped=described.get("stopDate"),
        input=described.get("input"),
        output=described.get("output"),
        error=described.get("error"),
        cause=described.get("cause"),
        definition=json.loads(definition),
        events=events,
    )
    view.runs = build_runs(events, execution_failed=view.status in UNSUCCESSFUL)
    return view


# A release longer than one execution's history is a chain: each execution's output names the next
# (``continued_as``) and each continuation's input names the previous one (tasks/domain/chain.py).


def json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def next_execution(status: str, output: object) -> str | None:
    """The next execution of the chain, once one that ended with ``status`` and ``output`` (parsed)
    has started it."""
    arn = output.get("continued_as") if status == "SUCCEEDED" and isinstance(output, dict) else None
    return arn if isinstance(arn, str) else None


def continued_as(view: ExecutionView) -> str | None:
    """The next execution of the chain, once this one has started it."""
    return next_execution(view.status, json_object(view.output))


def continuations(
    execution: ExecutionT, read: Callable[[str], ExecutionT], next_arn: Callable[[ExecutionT], str | None]
) -> Iterator[ExecutionT]:
    """The executions that continue a release after ``execution``, in order, each as ``read`` reads
    its ARN (loads it, or waits for it to end): the ARN ``next_arn`` finds in the one before."""
    while following := next_arn(execution):
        execution = read(following)
        yield execution


def continues(view: ExecutionView) -> str | None:
    """The execution this one continues, if it is not the first of its chain."""
    continuation = json_object(view.input).get("continuation")
    previous = continuation.get("previous_execution") if isinstance(continuation, dict) else None
    return previous if isinstance(previous, str) else None


def chain(sfn: Any, execution_arn: str, limit: int = 1000, reveal_tokens: bool = False) -> list[ExecutionView]:
    """Every execution of the release that ``execution_arn`` belongs to, first to last."""
    views = [load(sfn, execution_arn, reveal_tokens)]
    while (previous := continues(views[0])) is not None and len(views) < limit:
        views.insert(0, load(sfn, previous, reveal_tokens))
    later = continuations(views[-1], lambda arn: load(sfn, arn, reveal_tokens), continued_as)
    return views + list(itertools.islice(later, limit - len(views)))
