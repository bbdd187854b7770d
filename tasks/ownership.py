"""Owning an ASG: taking its lease, fencing every change to its fleet, and letting it go as it was.

The decisions are tasks/domain/lease.py's; this module applies them with the adapters, for the
handlers that change the fleet (LockAsg, Drain, Terminate, RollBack, UnlockAsg), hand it over
(ContinueAsNewExecution) or clean up after an execution that ended (Cleanup). Each change is
preceded by a renewal conditioned on this execution holding the lease, and what it changes is
recorded in that same renewal, before the change is made.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tasks import runtime
from tasks.adapters.fleet_reader import read_versions
from tasks.domain import capacity, events, lease
from tasks.domain.fleet import counted_in_capacity
from tasks.domain.lease import Lease, LetGo, Record, Surge
from tasks.errors import AsgLockedError, AsgNotFoundError, ContinuationTakenError, LeaseLostError

if TYPE_CHECKING:
    from tasks.domain.fleet import Fleet
    from tasks.domain.lease import GiveBack

TAKE_ATTEMPTS = 3
TERMINATE_CONCURRENCY = 10  # terminations of one batch under way at once (each one call, 100-200 ms in AWS)
CLEANUP_SECONDS = 900  # how long Cleanup holds a lease while it undoes an ended release's changes
CAPACITY_POLL_SECONDS = 5.0  # how often letting go reads desired capacity again (Settings.capacity_lag_seconds)


def fence(asg_name: str, me: str, what: str, record: Record | None = None) -> Lease:
    """Renew the lease (and record ``record``) if ``me`` still holds it; LeaseLostError otherwise."""
    return runtime.leases().renew(asg_name, me, runtime.epoch(), record or Record(), what)


def _running(current: Lease | None, me: str, now: float) -> bool:
    """Whether the holder of ``current`` may still change the fleet: it runs; it ended so recently
    that a step of it may still be running (a Lambda runs to its end after a stop); or it is the
    chain's next execution, not started yet by one that runs. Cleanup, while its lease lasts, counts
    as running."""
    if current is None or current.holder == me or current.expired(now):
        return False
    if current.holder.startswith(lease.CLEANUP):
        return True
    sfn = runtime.stepfunctions()
    state = sfn.state_of(current.holder)
    if state.status == "RUNNING":
        return True
    if state.status is None and current.handed_over_by is not None:
        return sfn.is_running(current.handed_over_by)
    return state.stopped_at is not None and now - state.stopped_at < runtime.settings().in_flight_seconds


def take(asg_name: str, me: str, settings: dict[str, Any], when_held: str = lease.FAIL) -> Lease:
    """Take the ASG's lease with one conditional write, and undo what an ended holder left behind."""
    store, target = runtime.leases(), settings.get("target_version")
    term = lease.term_seconds(settings)
    # Where this release reads versions, recorded so a give-back (even Cleanup's) keeps what serves.
    url, timeout = settings.get("version_url"), settings.get("probe_timeout_seconds")
    current = store.get(asg_name)
    for _ in range(TAKE_ATTEMPTS):
        now = runtime.epoch()
        decided = lease.how_to_take(asg_name, me, current, _running(current, me, now), now, when_held, target)
        if decided.how == lease.OURS:  # a retry, or the chain's next execution after a handover
            renewed = fence(
                asg_name,
                me,
                "taking the lease",
                Record(target_version=target, term_seconds=term, version_url=url, probe_timeout_seconds=timeout),
            )
            return _repaired(asg_name, me, renewed)
        if decided.previous is None:
            wanted = lease.fresh(asg_name, me, now, term, target)
        else:
            wanted = lease.swapped(decided.previous, me, now, term, target)
        wanted = replace(wanted, version_url=url, probe_timeout_seconds=timeout)
        taken, current = store.put(wanted, decided.previous)
        if taken:
            return _repaired(asg_name, me, wanted)
        # Someone wrote first: the item the condition met names them, or is an earlier attempt of ours
        # that landed late; none (deleted meanwhile) is read again.
        current = current or store.get(asg_name)
    raise AsgLockedError(
        f"{asg_name}: other releases kept taking the lease at the same moment; nothing was terminated by {me}"
    )


def _repaired(asg_name: str, me: str, taken: Lease) -> Lease:
    """A lease taken from a release that ended with changes on the ASG: undo them first."""
    if not taken.repair:
        return taken
    group = _with_versions(taken, runtime.fleet_reader().discover(asg_name, None, guarded=False))
    plan = lease.give_back(taken, group.desired, group.instances)
    plan = replace(plan, notes=(*plan.notes, *_apply(asg_name, me, plan)))
    runtime.logger.warning(
        f"{asg_name} => undid what an ended release left: {describe(plan) or 'nothing to change'}",
        extra={"asg_name": asg_name, "notes": list(plan.notes)},
    )
    return fence(asg_name, me, "recording what was given back", lease.undone(taken))


def lock(asg_name: str, me: str, plan: lease.Lock) -> None:
    """Apply LockAsg's plan: each change recorded in a renewal before it is made."""
    if plan.suspend:
        fence(asg_name, me, f"suspending {' '.join(plan.suspend)}", Record(suspended=plan.suspend))
        runtime.autoscaling().suspend(asg_name, plan.suspend)
    surge = plan.surge
    if surge.set_to is not None and surge.original is not None:
        record = Record(surge=Surge(surge.original, surge.set_to))
        fence(asg_name, me, f"surging desired capacity to {surge.set_to}", record)
        runtime.autoscaling().set_desired(asg_name, surge.set_to)


def park(asg_name: str, me: str) -> None:
    """This branch continues as a new execution: its lease lasts until ContinueAsNewExecution hands it
    over, however long the other branches of the Map run."""
    fence(asg_name, me, "parking the lease for the next execution", Record(term_seconds=lease.PARK_SECONDS))


def undrain(asg_name: str, me: str) -> tuple[str, ...]:
    """Register a drained batch that was not terminated again (a rollback goes on with the fleet):
    returns the instances registered."""
    held = runtime.leases().get(asg_name)
    if held is None or held.holder != me or not held.drained:
        return ()
    present = runtime.autoscaling().describe_group(asg_name).lifecycle
    back = tuple(i for i in held.drained if i in present)
    if back:
        fence(asg_name, me, "registering the drained batch again")
        refused = runtime.load_balancing().register(held.drained_from, back)
        for note in _refused_note(refused):
            runtime.logger.warning(f"{asg_name} => {note}", extra={"asg_name": asg_name})
        back = tuple(i for i in back if i not in refused)
    fence(asg_name, me, "recording the drained batch registered again", Record(undrained=held.drained))
    return back


def drain(asg_name: str, me: str, target_groups: list[str], batch: list[str]) -> int:
    """Deregister the batch (recorded first, so a stop registers it again); returns the delay (s)."""
    fence(asg_name, me, "draining the batch", Record(drained=tuple(batch), drained_from=tuple(target_groups)))
    return runtime.load_balancing().deregister(target_groups, batch)


@dataclass(frozen=True)
class Terminated:
    """A batch's terminations: those made (in the batch's order), and those of them the surge paid for."""

    instance_ids: list[str]
    decremented: tuple[str, ...]
    note: str


def terminate(
    asg_name: str, me: str, batch: tuple[str, ...], target: str | None, outdated_after: int | None = None
) -> Terminated:
    """Terminate each instance of the batch still in the group, each after a renewal, up to
    TERMINATE_CONCURRENCY at once. The first renewal also reads the lease's surge: the wave's plan
    (capacity.plan_wave, from ``outdated_after``) says which go with ShouldDecrementDesiredCapacity,
    recorded before any of them goes. The first failure (a lost lease, a throttled call) starts no
    further termination and is raised once those under way have ended: a retried Terminate counts
    the instances already terminating."""
    autoscaling = runtime.autoscaling()
    group = autoscaling.describe_group(asg_name)
    states = group.lifecycle
    present = [i for i in batch if i in states]
    to_go = [i for i in present if not states[i].startswith("Terminating")]  # else an earlier attempt's
    wave = capacity.Wave()
    if to_go:
        held = fence(asg_name, me, f"terminating {to_go[0]}", Record(target_version=target))
        desired, min_size = group.desired, group.min_size
        counted = {i for i in to_go if counted_in_capacity(states[i])}  # never a Standby one by a decrement
        wave = capacity.plan_wave(to_go, outdated_after, held.surge, desired, min_size, counted)
        if wave.moving is not None:
            fence(asg_name, me, wave.note, Record(surge=wave.moving))
    failed = threading.Event()

    def one(instance_id: str) -> bool:
        if instance_id not in to_go:
            return True
        if failed.is_set():
            return False
        try:
            if instance_id != to_go[0]:  # the first was fenced above, with the plan's read
                fence(asg_name, me, f"terminating {instance_id}", Record(target_version=target))
            return autoscaling.terminate_in_group(instance_id, decrement=instance_id in wave.decrement)
        except Exception:
            failed.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, min(TERMINATE_CONCURRENCY, len(present)))) as pool:
        futures = [pool.submit(one, i) for i in present]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    terminated = [i for i, f in zip(present, futures, strict=True) if f.exception() is None and f.result()]
    decremented = tuple(i for i in wave.decrement if i in terminated)
    if errors:
        runtime.logger.warning(f"{asg_name} => batch stopped after terminating [{' '.join(terminated)}]: {errors[0]}")
        raise errors[0]
    try:
        settled = wave.settled_after(len(decremented))
        fence(asg_name, me, "recording the terminated batch", Record(undrained=batch, surge=settled))
    except LeaseLostError:  # lost after the terminations: they happened, and the next change stops
        runtime.logger.warning(f"{asg_name} => lease lost after terminating [{' '.join(terminated)}]")
    return Terminated(terminated, decremented, wave.note)


def pin(asg_name: str, me: str, parameter: str, version: str) -> str | None:
    """Write the build replacements boot (pin_parameter); returns what it said before."""
    fence(asg_name, me, f"pinning {parameter} to {version}")
    return runtime.parameters().pin(parameter, version)


def hand_over(asg_names: list[str], me: str, to: str) -> None:
    """Move each continuing ASG's lease to the chain's next execution, before it starts; refused when
    an execution of that name exists that does not continue this one (never hand a lease to it)."""
    existing = runtime.stepfunctions().state_of(to)
    if existing.status is not None:
        previous = ((existing.input or {}).get("continuation") or {}).get("previous_execution")
        if previous != me:
            raise ContinuationTakenError(
                f"{to} exists and does not continue {me} (it continues {previous}): the leases of "
                f"{', '.join(asg_names)} are not handed to it"
            )
    for name in asg_names:
        runtime.leases().hand_over(name, me, to, runtime.epoch())


def let_go(asg_name: str, me: str, tag_holder: str | None = None, ended_at: float | None = None) -> LetGo:
    """Undo what the release changed and release its lease, if ``me`` holds it; another holder's
    lease, and the ASG, stay as they are. ``ended_at``: when no step of the release that changed the ASG
    can still be running (Cleanup), so a read of desired capacity can no longer lag its changes once
    ``capacity_lag_seconds`` have passed (None: it changes the ASG until now)."""
    store = runtime.leases()
    held = store.get(asg_name)
    if held is None or held.holder != me:
        return LetGo(False, None, ())
    try:
        group, waited = _settled(asg_name, held.surge, ended_at)
        group = _with_versions(held, group)
    except AsgNotFoundError:  # deleted during the release: nothing to give back
        return LetGo(store.release(asg_name, me), None, ("the ASG no longer exists",))
    plan = lease.give_back(held, group.desired, group.instances, waited)
    notes = (*plan.notes, *_apply(asg_name, me, plan))
    runtime.autoscaling().delete_tag_if(asg_name, lease.LOCK_TAG, tag_holder or me)
    return LetGo(store.release(asg_name, me), plan.restored_capacity, notes)


def _settled(asg_name: str, surge: Surge | None, ended_at: float | None) -> tuple[Fleet, float]:
    """The group as a read sees it once desired capacity is the release's surge again, or after
    ``capacity_lag_seconds`` (and the seconds waited). DescribeAutoScalingGroups may lag the release's
    own last change of desired capacity (the surge, a wave's decrements): a read from before it would
    be taken for someone else's change, and the surge left behind. Only a read that still disagrees
    after the wait is taken for someone else's change, and their number stands."""
    reader, bound = runtime.fleet_reader(), runtime.settings().capacity_lag_seconds
    if ended_at is not None:
        bound = max(0.0, ended_at + bound - runtime.epoch())
    group, waited = reader.discover(asg_name, None, guarded=False), 0.0
    # A read that lists fewer instances than desired capacity counts may lag the surge's launches too.
    while surge is not None and waited < bound and not _agrees(surge, group):
        pause = min(CAPACITY_POLL_SECONDS, bound - waited)
        runtime.sleep(pause)
        waited += pause
        group = reader.discover(asg_name, None, guarded=False)
    return group, waited


def _agrees(surge: Surge, group: Fleet) -> bool:
    """The read shows the release's surge: desired capacity is the surge's, and it lists an
    instance for each of it."""
    return surge.holds(group.desired) and capacity.unlisted(group.desired, group.instances) == 0


def _with_versions(held: Lease, group: Fleet) -> Fleet:
    """``group`` with its instances' versions read where the holder reads them, when a surge of
    its is to go back: the give-back then keeps the instances that serve, and terminates one that
    is InService and Healthy but serves nothing (a broken boot) first. Unread without a surge, or
    when the lease does not say where (an item written before it did)."""
    if held.surge is None or not held.surge.holds(group.desired):
        return group
    if held.version_url is None or held.probe_timeout_seconds is None:
        return group
    located = runtime.fleet_reader().discover(group.asg_name, held.version_url, guarded=False)
    read = {i.id: i for i in read_versions(located, runtime.prober(held.probe_timeout_seconds)).instances}
    return replace(
        group,
        instances=tuple(
            replace(i, version=read[i.id].version, reason=read[i.id].reason) if i.id in read else i
            for i in group.instances
        ),
    )


def clean_up(execution_arn: str, stopped_at: float) -> dict[str, LetGo]:
    """After an execution ended (stopped, failed, timed out): let go of every ASG it still holds,
    and of those it handed to a next execution that never ran. Idempotent.

    The leases are taken first, which fences every later change of the ended execution; a step of it
    that had passed its fence just before may still be making its change, so the undoing waits until
    no step of it can still be running (``in_flight_seconds`` after it stopped)."""
    store, taken_over = runtime.leases(), []
    me = lease.CLEANUP + execution_arn
    for held in store.held_by(execution_arn):
        if held.holder not in (execution_arn, me) and _running(held, me, runtime.epoch()):
            continue  # handed over to an execution that runs: the ASG is its own now
        taken = lease.swapped(held, me, runtime.epoch(), CLEANUP_SECONDS, held.target_version)
        if held.holder == me or store.put(taken, held)[0]:  # else someone else took it meanwhile
            taken_over.append((held.asg_name, held.holder if held.holder != me else execution_arn))
    if taken_over:
        runtime.sleep(max(0.0, stopped_at + runtime.settings().in_flight_seconds - runtime.epoch()))
    last_change = stopped_at + runtime.settings().in_flight_seconds  # the latest a step of it ends
    return {asg_name: let_go(asg_name, me, tag_holder, last_change) for asg_name, tag_holder in taken_over}


def _apply(asg_name: str, me: str, plan: GiveBack) -> tuple[str, ...]:
    """Apply a give-back, each change after a renewal that records what the plan says it leaves
    (GiveBack.surges). Returns notes on what could not be given back: drained instances the target
    groups refused (stopped or terminated since the read)."""
    autoscaling = runtime.autoscaling()
    for instance_id, recorded in zip(plan.terminate, plan.surges, strict=True):
        fence(asg_name, me, f"terminating {instance_id} to give surged capacity back", Record(surge=recorded))
        autoscaling.terminate_in_group(instance_id, decrement=True)
    if plan.set_desired is not None:
        record = Record(surge=plan.surge_before_set)
        fence(asg_name, me, f"setting desired capacity back to {plan.set_desired}", record)
        autoscaling.set_desired(asg_name, plan.set_desired)
    refused: tuple[str, ...] = ()
    if plan.register:
        fence(asg_name, me, "registering the drained instances again")
        refused = runtime.load_balancing().register(plan.target_groups, plan.register)
    if plan.resume:
        fence(asg_name, me, f"resuming {' '.join(plan.resume)}")
        autoscaling.resume(asg_name, plan.resume)
    return _refused_note(refused)


def _refused_note(refused: tuple[str, ...]) -> tuple[str, ...]:
    if not refused:
        return ()
    return (f"not registered again: {' '.join(refused)} (refused by the target groups: no longer running)",)


def describe(plan: GiveBack) -> str:
    parts = []
    if plan.set_desired is not None:
        parts.append(f"desired capacity back to {plan.set_desired}")
    if plan.register:
        parts.append(f"{' '.join(plan.register)} registered again")
    if plan.resume:
        parts.append(f"{' '.join(plan.resume)} resumed")
    return ", ".join([*parts, *plan.notes])


def claim_upload(app: str, version: str, name: str, arn: str) -> str | None:
    """Make this event's execution the one release of an upload of ``app`` ``version``; returns why
    it must not start instead (another file of the same upload, or a release of it still running)."""
    claims, key = runtime.upload_claims(), events.upload_key(app, version)
    for _ in range(TAKE_ATTEMPTS):
        now, claim = runtime.epoch(), claims.get(key)
        running = (
            claim is not None
            and claim.execution_name != name
            and runtime.stepfunctions().is_running(claim.execution_arn)
        )
        skipped = events.upload_skipped(claim, name, now, running, runtime.settings().upload_window_seconds)
        if skipped is not None:
            return skipped
        if claim is not None and claim.execution_name == name:
            return None  # this event, delivered again: start_once starts nothing twice
        if claims.put(events.UploadClaim(key, name, arn, now), claim):
            return None
    return f"other uploads of {app}/{version} kept claiming it at the same moment"
