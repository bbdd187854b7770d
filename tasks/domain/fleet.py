"""The fleet as one read sees it, and the per-ASG release ledger carried from step to step.

Records (the dicts that travel between states) are converted here, so the domain works on frozen
dataclasses and the step payloads stay a plain, schema-checked JSON shape.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from tasks.domain import versions

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import DataclassInstance

_Record = TypeVar("_Record", bound="DataclassInstance")

IN_SERVICE = "InService"
STANDBY = "Standby"
TERMINATING = "Terminating"
WARMED = "Warmed:"
HEALTHY = "Healthy"
LB_HEALTHY = "healthy"
# Lifecycle states whose version is read: Standby instances still run, and a policy may replace them.
READABLE = (IN_SERVICE, STANDBY)
# The ledger names the ids of the most recent batches only, this many at most (the newest batch cut
# if need be; the pending batch names it whole while it is replaced); older batches become counts.
# A ledger, and with it every ASG's outcome in the Map's output (50 ASGs: under 64 KiB), then stays
# small however large the fleet and its batches.
RECENT_IDS = 20
LAUNCHED_IDS = 100  # the replacements a ledger names (a checkpoint's canary is chosen among them)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def counted_in_capacity(lifecycle: str) -> bool:
    """Counted in the group's desired capacity: Pending (any of its hooks) or InService. Not
    Standby, EnteringStandby, Detaching or the warm pool; nor Terminating, already going. Only such
    an instance may go with a decrement of desired capacity: any other lowers it without leaving
    it, and Auto Scaling scales in an instance that does count, a serving one maybe."""
    return lifecycle == IN_SERVICE or lifecycle.startswith("Pending")


@dataclass(frozen=True)
class Instance:
    """One instance as one read saw it. Its age is its place in the fleet: a fleet lists its
    instances oldest launched first, so no launch time travels with every record."""

    id: str
    az: str
    lifecycle: str = IN_SERVICE
    health: str = HEALTHY
    url: str | None = None
    version: str | None = None
    reason: str | None = None
    protected: bool = False  # scale-in protection
    lb: str | None = None  # with target groups: "healthy" in every one, or why not; None without

    def __post_init__(self) -> None:
        # Every record stays bounded, whatever produced the reason (a probe, a template's tag name).
        object.__setattr__(self, "reason", versions.bounded_reason(self.reason))

    @property
    def in_service(self) -> bool:
        return self.lifecycle == IN_SERVICE

    @property
    def standby(self) -> bool:
        return self.lifecycle == STANDBY

    @property
    def in_capacity(self) -> bool:
        return counted_in_capacity(self.lifecycle)

    @property
    def warm(self) -> bool:
        """In the group's warm pool (Warmed:Pending, Warmed:Stopped, Warmed:Running...)."""
        return self.lifecycle.startswith(WARMED)

    def runs(self, target: str) -> bool:
        """Its version is the target's, whatever its state (a Standby instance runs but does not serve)."""
        return self.version is not None and versions.same(self.version, target)

    @property
    def healthy(self) -> bool:
        return self.in_service and self.health == HEALTHY

    @property
    def booting(self) -> bool:
        """InService and Healthy to Auto Scaling, and no version answered yet: what a watch waits on
        (CheckReplacement's replacements, WatchBooting's)."""
        return self.healthy and self.version is None

    @property
    def serving(self) -> bool:
        """InService, Healthy, healthy in every target group and its version read: the only instances
        the floor counts."""
        return self.healthy and self.version is not None and self.lb in (None, LB_HEALTHY)

    def serves(self, target: str) -> bool:
        return self.serving and self.runs(target)

    def why_not_serving(self) -> str:
        if not self.in_service:
            return self.lifecycle
        if not self.healthy:
            return self.health
        if self.lb not in (None, LB_HEALTHY):
            return str(self.lb)
        if self.version is not None:
            return f"serves {self.version}"
        return self.reason or "version not read"

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Instance:
        return cls(**record)

    def to_record(self) -> dict[str, Any]:
        """Only what differs from the usual case (InService, Healthy, nothing unset): a 2,000-instance
        fleet record then stays well under Step Functions' 256 KiB payload limit."""
        return {k: v for k, v in asdict(self).items() if k in _ALWAYS or v != _USUAL[k]}


_ALWAYS = ("id", "az")
_USUAL = {f.name: f.default for f in fields(Instance) if f.name not in _ALWAYS}


@dataclass(frozen=True)
class Fleet:
    """An ASG's capacity and its instances, oldest launched first (a warm pool's last)."""

    asg_name: str
    desired: int
    min_size: int
    max_size: int
    instances: tuple[Instance, ...]
    # The floor the ASG's own tags set (tasks/domain/guardrails.py): the input may raise it, never lower it.
    tag_min_healthy: int = 0
    tag_min_healthy_percent: int = 0

    @property
    def in_service(self) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances if i.in_service)

    def census(self) -> dict[str, int]:
        """How many InService instances run each version (``unknown`` when unread): the most common
        CENSUS_VERSIONS, the rest summed under ``other versions``, so a census stays small whatever the
        fleet answers."""
        counts: dict[str, int] = {}
        for instance in self.in_service:
            key = instance.version or versions.UNKNOWN
            counts[key] = counts.get(key, 0) + 1
        if len(counts) > versions.CENSUS_VERSIONS:
            ranked = sorted(counts, key=lambda k: (-counts[k], k))
            kept = ranked[: versions.CENSUS_VERSIONS - 1]
            folded = sum(counts[k] for k in ranked[versions.CENSUS_VERSIONS - 1 :])
            counts = {**{k: counts[k] for k in kept}, versions.OTHER_VERSIONS: folded}
        return dict(sorted(counts.items()))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Fleet:
        instances = tuple(Instance.from_record(i) for i in record["instances"])
        return cls(**{**record, "instances": instances})

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "instances": [i.to_record() for i in self.instances]}


class Action(StrEnum):
    """What a decision says the ASG does next: the one list of them, which the state machine's Choice
    states route on (state_machines/build.py ``decided``) and common.json's decision.action allows
    (tests/unit/test_ledger_definition.py compares them)."""

    TERMINATE = "terminate"
    WAIT = "wait"  # read again after a poll
    CONVERGED = "converged"
    CHECKPOINT = "checkpoint"  # bake
    CONTINUE = "continue"  # as a new execution of the chain
    APPROVAL = "approval"  # a checkpoint that, once baked, waits for a human: a MARGINAL canary


@dataclass(frozen=True)
class Decision:
    action: Action
    message: str
    batch: tuple[str, ...] = ()
    # terminate: the stored read the decision saw (a fleet_key); its instances are the known ones and
    # replacements are the others. A key, not the ids: the ids of a large ASG would outgrow a payload.
    # A wait that watches booting instances names it too: WatchBooting reads their URLs there.
    fleet_key: str | None = None
    plan: tuple[dict[str, Any], ...] = ()  # dry run: the batch's instances, then the others', up to PLAN_ENTRIES
    plan_omitted: int = 0  # dry run: instances beyond PLAN_ENTRIES, counted
    # canary_analysis at a checkpoint: who is compared (tasks/domain/canary_checkpoint.py), then the judgement
    canary: dict[str, Any] | None = None
    # terminate: the outdated instances the release still replaces after this batch; a surge is kept
    # for them, the rest of it pays for the batch (tasks/domain/capacity.py plan_wave)
    outdated_after: int | None = None
    # wait: the instances booting (InService and Healthy, no version answered yet) that WatchBooting
    # watches for up to a poll before the next read, instead of WaitBeforeReread (decide.booting)
    watch: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Decision:
        return _from_record(cls, record, _USUAL_DECISION, _READ_DECISION)

    def to_record(self) -> dict[str, Any]:
        return _to_record(self, _USUAL_DECISION)


@dataclass(frozen=True)
class Pending:
    """A terminated batch whose replacements are awaited. ``serving_since``: with healthy_for_seconds,
    since when each replacement has been seen serving the target at every check (a miss forgets it)."""

    instance_ids: tuple[str, ...]
    fleet_key: str | None  # the read the batch was chosen from (Decision.fleet_key)
    since: str
    status: str
    serving_since: tuple[tuple[str, str], ...] = ()
    decremented: int = 0  # terminated with ShouldDecrementDesiredCapacity: the surge replaced them, nothing launches
    # How long WaitForReplacement waits before the next check (tasks/domain/replacement.py first_check_after).
    wait_seconds: int = 0

    @property
    def expected(self) -> int:
        """How many replacements Auto Scaling launches for the batch."""
        return len(self.instance_ids) - self.decremented

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Pending:
        return _from_record(cls, record, _USUAL_PENDING, _READ_PENDING)

    def to_record(self) -> dict[str, Any]:
        return _to_record(self, _USUAL_PENDING, serving_since=dict(self.serving_since))


@dataclass(frozen=True)
class Progress:
    target_version: str | None = None
    versions_before: dict[str, int] | None = None
    versions_after: dict[str, int] | None = None
    batches: tuple[tuple[str, ...], ...] = ()
    started_at: str | None = None
    finished_at: str | None = None
    waiting_since: str | None = None
    pending: Pending | None = None
    decision: Decision | None = None
    # A chain of executions: what earlier executions did, and this execution's history events.
    earlier_batches: int = 0
    earlier_terminated: int = 0
    events_budget: int | None = None
    events_spent: int = 0
    release_id: str | None = None  # the execution that started this ASG's release (a chain's first)
    checkpoints_passed: int = 0
    # rollback_on_failure: what failed (target_version, error, cause) while this ledger converges back
    rollback_of: dict[str, str | None] | None = None
    # The replacements this release launched (serving the target when their batch was done), the newest
    # LAUNCHED_IDS: a checkpoint's canary (canary_analysis) is those still serving it.
    launched: tuple[str, ...] = ()
    # Terminations the surge paid for (ShouldDecrementDesiredCapacity): each one lowered the surge by one.
    surge_paid: int = 0
    # The shortest time a batch of this release took to be replaced (its termination to the check that
    # saw it done): the next batch's first check comes after it (replacement.first_check_after).
    boot_seconds: float | None = None

    @property
    def batch_count(self) -> int:
        return self.earlier_batches + len(self.batches)

    @property
    def terminated_count(self) -> int:
        return self.earlier_terminated + sum(len(b) for b in self.batches)

    def with_batch(self, terminated: tuple[str, ...]) -> Progress:
        """The ledger after one more batch: at most RECENT_IDS ids, older batches folded into the counts."""
        return replace(self, batches=(*self.batches, terminated)).trimmed()

    def trimmed(self) -> Progress:
        """At most RECENT_IDS ids, the newest batch cut if need be; what is cut is counted."""
        kept: list[tuple[str, ...]] = []
        room = RECENT_IDS
        for batch in reversed(self.batches):
            if room <= 0:
                break
            kept.insert(0, batch[:room])
            room -= len(batch)
        return replace(
            self,
            batches=tuple(kept),
            earlier_batches=self.batch_count - len(kept),
            earlier_terminated=self.terminated_count - sum(len(b) for b in kept),
        )

    def spend(self, events: int) -> Progress:
        return replace(self, events_spent=self.events_spent + events)

    def carried(self) -> Progress:
        """What the next execution of a chain starts from: the release's facts, not its lists."""
        return Progress(
            target_version=self.target_version,
            versions_before=self.versions_before,
            started_at=self.started_at,
            waiting_since=self.waiting_since,
            earlier_batches=self.batch_count,
            earlier_terminated=self.terminated_count,
            release_id=self.release_id,
            checkpoints_passed=self.checkpoints_passed,
            rollback_of=self.rollback_of,
            launched=self.launched,
            surge_paid=self.surge_paid,
            boot_seconds=self.boot_seconds,
        )

    def with_launched(self, instance_ids: tuple[str, ...]) -> Progress:
        return replace(self, launched=(*self.launched, *instance_ids)[-LAUNCHED_IDS:])

    def update(self, **changes: Any) -> Progress:
        return replace(self, **changes)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Progress:
        return _from_record(cls, record, _USUAL_PROGRESS, _READ_PROGRESS)

    def to_record(self) -> dict[str, Any]:
        return _to_record(self, _USUAL_PROGRESS)


# What a ledger record leaves out when it holds the usual value (the record stays small; from_record
# reads the usual value back). A field a record lacks and that is not listed here takes its dataclass
# default when read: a record written before the field was added still loads.
_USUAL_PENDING: dict[str, Any] = {
    "fleet_key": None,  # only a batch chosen from a stored read names it
    "serving_since": {},  # only a stability window keeps one
    "decremented": 0,  # only a batch the surge paid for
}
_USUAL_DECISION: dict[str, Any] = {
    "fleet_key": None,  # only a terminate decision, or a wait that watches, names the read it saw
    "plan": [],  # only a dry run carries a plan
    "plan_omitted": 0,  # only a dry run of a large ASG leaves entries out
    "canary": None,  # only a checkpoint with canary_analysis carries one
    "outdated_after": None,  # only a terminate decision carries it
    "watch": [],  # only a wait for booting instances
}
# A ledger record leaves nothing out: a continuing ASG's outcome names every field it carries on
# (state_machines/build.py CHAIN_ONLY), and a Parameters path to a missing one would fail.
_USUAL_PROGRESS: dict[str, Any] = {}
USUAL: dict[type, dict[str, Any]] = {Pending: _USUAL_PENDING, Decision: _USUAL_DECISION, Progress: _USUAL_PROGRESS}
"""Per ledger record, what its records leave out (tests/unit/test_ledger_definition.py compares each
record's fields, these and the schemas)."""

# How a field's record value (JSON: a list, an object, a string) becomes the domain's (a tuple, a
# record, an Action) where they differ; a null stays None. The way back is _plain's, field by field.
_READ_PENDING: dict[str, Callable[[Any], Any]] = {
    "instance_ids": tuple,
    "serving_since": lambda since: tuple(sorted(since.items())),
}
_READ_DECISION: dict[str, Callable[[Any], Any]] = {"action": Action, "batch": tuple, "plan": tuple, "watch": tuple}
_READ_PROGRESS: dict[str, Callable[[Any], Any]] = {
    "batches": lambda batches: tuple(tuple(b) for b in batches),
    "launched": tuple,
    "pending": Pending.from_record,
    "decision": Decision.from_record,
}


def _from_record(
    cls: type[_Record], record: dict[str, Any], usual: dict[str, Any], read: dict[str, Callable[[Any], Any]]
) -> _Record:
    values: dict[str, Any] = {}
    for field in fields(cls):
        if field.name not in record and field.name not in usual:
            continue  # a record from before the field was added: the dataclass default
        value = record.get(field.name, usual.get(field.name))
        values[field.name] = value if value is None or field.name not in read else read[field.name](value)
    return cls(**values)


def _to_record(value: DataclassInstance, usual: dict[str, Any], **written: Any) -> dict[str, Any]:
    """``written``: a field whose record value is not its ``_plain`` form."""
    record = {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
    return _without(record | written, usual)


def _plain(value: Any) -> Any:
    """A field's value as its record holds it: a list for a tuple (of tuples: of lists), an object for a
    nested record, an action's text; anything else a copy, as ``asdict`` makes one."""
    if isinstance(value, Pending | Decision):
        return value.to_record()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Action):
        return value.value
    return deepcopy(value)


def _without(record: dict[str, Any], usual: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in usual or v != usual[k]}
