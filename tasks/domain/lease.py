"""Exactly one release owns an ASG: a lease per ASG, one item in the lease table (``LEASE_TABLE``).

``LockAsg`` takes the lease with one conditional write: when no item exists, when the item's holder
has ended (its execution no longer runs; the swap is conditioned on that old holder), or when the
item has expired. Nothing sleeps and nothing is read back: the store decides, atomically, whoever
asks at the same moment and however late a write lands.

Every call that changes the fleet is fenced: the same handler first renews the lease on the
condition that this execution still holds it, and a failed condition is ``LeaseLostError``, with
nothing changed. What the release changed lives in the item beside the holder (the surge, the
processes it suspended, the instances it deregistered and has not terminated), recorded before the
change is made, so whoever lets the ASG go (``UnlockAsg``, ``Cleanup`` after a stop, or the next
release after a crash) can undo it without reading any history.

The ASG's tag ``asg-terminator:release`` is a copy of the holder for the console; it is never
read to decide anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tasks.domain import capacity
from tasks.errors import AsgLockedError, AsgSkippedError, LeaseLostError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tasks.domain.fleet import Instance

LOCK_TAG = "asg-terminator:release"
# when_held: what a start does with an ASG another running release holds.
FAIL, SKIP, SKIP_SAME_TARGET = "fail", "skip", "skip_same_target"
# The longest AwaitApproval waits (its TimeoutSeconds in the ASL) and a target group's longest
# deregistration delay: waits between two renewals that the settings do not bound.
APPROVAL_WAIT_SECONDS = 86400
LONGEST_DRAIN_SECONDS = 3600
MARGIN_SECONDS = 600
CLEANUP = "cleanup:"  # the holder Cleanup writes while it undoes an ended execution's changes
# A branch that continues as a new execution parks its lease until the chain's next execution takes
# it (ContinueAsNewExecution runs once every branch of the Map has ended, however long that takes).
# A parked lease whose execution has ended is taken at once: its holder no longer runs.
PARK_SECONDS = 14 * 86400

Surge = capacity.Surge  # the surge the lease records, defined beside its maths


@dataclass(frozen=True)
class Lease:
    """One ASG's lease item: who holds it until when, and what the holder changed on the ASG."""

    asg_name: str
    holder: str
    expires_at: float  # epoch seconds
    term_seconds: int
    target_version: str | None = None  # what the holder releases (None: the highest version read)
    surge: Surge | None = None
    suspended: tuple[str, ...] = ()  # processes the release suspended (not those already suspended)
    drained: tuple[str, ...] = ()  # instances it deregistered from drained_from and has not terminated
    drained_from: tuple[str, ...] = ()  # target group ARNs
    handed_over_by: str | None = None  # the execution that handed the lease to this one (continue-as-new)
    repair: bool = False  # taken from a release that ended: the changes recorded are still to undo
    # Where the holder reads versions, so a give-back keeps the instances that serve (to_give_back).
    version_url: str | None = None
    probe_timeout_seconds: float | None = None

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    @property
    def changed_anything(self) -> bool:
        return self.surge is not None or bool(self.suspended) or bool(self.drained)


@dataclass(frozen=True)
class Record:
    """A renewal, and what it records beside the holder (written before the change it describes)."""

    target_version: str | None = None
    surge: Surge | None = None
    clear_surge: bool = False
    suspended: tuple[str, ...] = ()  # added
    resumed: tuple[str, ...] = ()  # removed
    drained: tuple[str, ...] = ()  # added
    drained_from: tuple[str, ...] = ()
    undrained: tuple[str, ...] = ()  # removed: terminated, or registered again
    repaired: bool = False  # clears ``repair``
    term_seconds: int | None = None  # a new term, from now (else the item's term, from now)
    version_url: str | None = None
    probe_timeout_seconds: float | None = None


NEW, OURS, SWAP = "new", "ours", "swap"


@dataclass(frozen=True)
class Take:
    """How LockAsg takes the lease: ``new`` (no item), ``ours`` (a retry, or the next execution of a
    chain to which the lease was handed over) or ``swap`` (from ``previous``, which ended or expired)."""

    how: str
    previous: Lease | None = None


def term_seconds(settings: Mapping[str, Any]) -> int:
    """How long a lease lasts after each renewal: longer than the longest stretch a release can go
    without a fenced call (waiting for replacements and then for the fleet, draining, baking,
    waiting for approval), so a live holder never lets it expire. ``settings``: the release's, every
    field there (contracts.settings fills an older execution's from the input schema's defaults)."""
    waits = 2 * int(settings["replacement_timeout_seconds"]) + 2 * int(settings["poll_seconds"]) + LONGEST_DRAIN_SECONDS
    if settings["checkpoints"]:
        waits += int(settings["bake_seconds"])
        waits += APPROVAL_WAIT_SECONDS if settings["approve_checkpoints"] else 0
    return waits + int(settings["healthy_for_seconds"]) + MARGIN_SECONDS


def how_to_take(
    asg_name: str,
    me: str,
    current: Lease | None,
    holder_running: bool,
    now: float,
    when_held: str = FAIL,
    target_version: str | None = None,
) -> Take:
    """Which write takes the lease; raises AsgLockedError (or, for a start that skips held ASGs,
    AsgSkippedError) naming a live holder."""
    if current is None:
        return Take(NEW)
    if current.holder == me:
        return Take(OURS, current)
    if current.expired(now) or not holder_running:
        return Take(SWAP, current)
    raise held(asg_name, me, current, when_held, target_version)


def held(asg_name: str, me: str, current: Lease, when_held: str, target_version: str | None) -> Exception:
    """The error for an ASG a running release holds: skipped by a sweep, and by an upload of the
    version already being released; refused otherwise (the operator asked for this ASG)."""
    releasing = f" ({current.target_version})" if current.target_version else ""
    same = target_version is not None and current.target_version == target_version
    if when_held == SKIP or (when_held == SKIP_SAME_TARGET and same):
        return AsgSkippedError(f"{asg_name}: skipped: being released by {current.holder}{releasing}")
    return AsgLockedError(f"{asg_name}: being released by {current.holder}{releasing}; nothing was terminated by {me}")


def lost(asg_name: str, me: str, holder: str | None, what: str) -> LeaseLostError:
    return LeaseLostError(
        f"{asg_name}: the lease is held by {holder or 'no release'} now, not by {me}; {what} was not done"
    )


def fresh(asg_name: str, me: str, now: float, term: int, target_version: str | None) -> Lease:
    return Lease(asg_name, me, now + term, term, target_version)


def swapped(previous: Lease, me: str, now: float, term: int, target_version: str | None) -> Lease:
    """The item after taking ``previous`` over: this holder's, with the ended release's changes kept
    (and marked ``repair``) until they are undone."""
    return Lease(
        previous.asg_name,
        me,
        now + term,
        term,
        target_version,
        surge=previous.surge,
        suspended=previous.suspended,
        drained=previous.drained,
        drained_from=previous.drained_from,
        repair=previous.repair or previous.changed_anything,
        version_url=previous.version_url,
        probe_timeout_seconds=previous.probe_timeout_seconds,
    )


def to_suspend(wanted: Sequence[str], suspended_now: Sequence[str]) -> tuple[str, ...]:
    """The processes a release suspends: those asked for that nobody has suspended already (an
    operator's suspension stays theirs, and stays when the release ends)."""
    return tuple(p for p in wanted if p not in suspended_now)


@dataclass(frozen=True)
class Lock:
    """What LockAsg changes once it holds the lease: the processes to suspend (each recorded before
    it is suspended) and desired capacity (``surge``, recorded before it is set). ``suspended``:
    every process this release has suspended once the plan is applied."""

    suspend: tuple[str, ...]
    suspended: tuple[str, ...]
    surge: capacity.SurgePlan

    @property
    def line(self) -> str:
        said = f"suspended {' '.join(self.suspended)}" if self.suspended else "no process suspended"
        return f"{said}; {self.surge.note}"


def plan_lock(
    taken: Lease,
    wanted: Sequence[str],
    suspended_now: Sequence[str],
    max_surge: int | str,
    desired: int,
    max_size: int,
) -> Lock:
    """What a release changes on the ASG it has just leased, from one read of the group: the
    processes asked for that nobody suspended already (to_suspend), and its surge (capacity.plan_surge,
    which keeps the surge ``taken`` records: a retried LockAsg, or the chain's next execution)."""
    new = to_suspend(wanted, suspended_now)
    surge = capacity.plan_surge(max_surge, desired, max_size, taken.surge)
    return Lock(new, tuple(sorted({*taken.suspended, *new})), surge)


@dataclass(frozen=True)
class GiveBack:
    """What letting an ASG go undoes, from its lease item and one read of the group."""

    terminate: tuple[str, ...] = ()  # the surplus, each with ShouldDecrementDesiredCapacity
    set_desired: int | None = None
    resume: tuple[str, ...] = ()
    register: tuple[str, ...] = ()  # drained and still in the group
    target_groups: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    # What the renewal before each termination records: where desired capacity stands and where the
    # termination takes it (``was``, as a wave records it); and before SetDesiredCapacity, where the
    # terminations left it. A retry after a partial give-back, or after a termination whose answer
    # was lost but that happened, still finds desired capacity within the recorded surge.
    surges: tuple[Surge, ...] = ()
    surge_before_set: Surge | None = None

    @property
    def restored_capacity(self) -> int | None:
        return self.set_desired


def give_back(lease: Lease, desired: int, instances: Sequence[Instance], waited: float = 0.0) -> GiveBack:
    """Capacity goes back only while desired still equals what the release surged it to: anything
    else means someone (a scaling policy, an operator) changed it since, and their number stands.
    ``waited``: the seconds the group was read again for, in case the read lagged the surge."""
    notes: list[str] = []
    terminate: tuple[str, ...] = ()
    set_desired = None
    surges: tuple[Surge, ...] = ()
    before_set = None
    surge = lease.surge
    if surge is not None and surge.holds(desired):  # only what the surge has not paid for yet is left
        # Between a recorded change and its answer (``was``) desired may be anywhere in the range, and
        # the read may lag: what is surely surge goes by a decrement, and what may be goes by one only
        # for instances that serve nothing (capacity.to_give_back ``unsure``); SetDesiredCapacity sets
        # the rest (it never goes below the original, whatever desired stands at, and raises it back
        # should a decrement have been one too many).
        # An instance the release drained is out of its target groups because the release took it
        # out, and goes back in below: its load balancer state says nothing of whether it serves.
        judged = [replace(i, lb=None) if i.id in lease.drained else i for i in instances]
        # Capacity the read lists no instance for goes by SetDesiredCapacity: a decrement for it
        # would take an instance that is listed, a serving one maybe.
        listed = desired - capacity.unlisted(desired, instances)
        sure = min(surge.low, listed)
        terminate = tuple(capacity.to_give_back(judged, sure - surge.original, unsure=listed - sure))
        set_desired = surge.original
        surges = tuple(Surge(surge.original, desired - n - 1, was=desired - n) for n in range(len(terminate)))
        before_set = Surge(surge.original, desired - len(terminate))
    elif surge is not None and desired != surge.original:
        notes.append(
            f"desired capacity left at {desired}: it is no longer the {surge.surged_to} the release surged it to "
            f"(changed by someone else since); it was {surge.original} before the surge"
        )
    if waited and surge is not None and not surge.holds(desired):
        notes.append(f"read again for {waited:.0f} s in case the read lagged")
    register, gone = to_register(lease.drained, instances, terminate)
    if gone:
        notes.append(gone)
    return GiveBack(
        terminate, set_desired, lease.suspended, register, lease.drained_from, tuple(notes), surges, before_set
    )


def undone(taken: Lease) -> Record:
    """The renewal after a give-back: what ``taken`` recorded is no longer on the ASG."""
    return Record(
        clear_surge=taken.surge is not None,
        resumed=taken.suspended,
        undrained=taken.drained,
        repaired=taken.repair,
    )


@dataclass(frozen=True)
class LetGo:
    """What letting an ASG go did: whether this release's lease was released, desired capacity given
    back, and what was left as it was, and why."""

    unlocked: bool
    restored_capacity: int | None
    notes: tuple[str, ...]

    @property
    def line(self) -> str:
        said = "unlocked" if self.unlocked else "lease not held by this release"
        if self.restored_capacity is not None:
            said += f", desired capacity given back to {self.restored_capacity}"
        return "; ".join([said, *self.notes])


def to_register(
    drained: Sequence[str], instances: Sequence[Instance], terminating: Sequence[str] = ()
) -> tuple[tuple[str, ...], str | None]:
    """The drained instances to register again: those still InService in the group and not about to
    be terminated. The others (terminated by someone else or by AWS, gone from the group or leaving
    it) are named in the note: RegisterTargets would refuse them, and nothing would be given back."""
    found = {i.id: i for i in instances}
    left = [i for i in drained if i not in terminating]
    register = tuple(i for i in left if i in found and found[i].in_service)
    skipped = [
        f"{i} ({found[i].lifecycle if i in found else 'no longer in the group'})" for i in left if i not in register
    ]
    return register, f"not registered again: {', '.join(skipped)}" if skipped else None
