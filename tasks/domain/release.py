"""Release decisions for one ASG: the healthy floor, the next batch, and when a batch is replaced.

Everything here is pure: it takes what a read saw and the clock's reading, and returns the next
ledger (``Progress``) or raises the named error the state machine reports.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tasks.domain import canary_checkpoint, guardrails, history_budget, versions
from tasks.domain.checkpoints import Checkpoints
from tasks.domain.fleet import Decision, Fleet, Instance, Pending, Progress, iso, parse_iso
from tasks.errors import (
    FloorBlocksReleaseError,
    InvalidStepInputError,
    ReleaseStalledError,
    ReplacementTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime


@dataclass(frozen=True)
class Policy:
    """The release settings that shape decisions (a subset of the execution input)."""

    target_version: str | None = None
    min_healthy: int = 1
    min_healthy_percent: int = 0
    max_batch: int | None = None
    replace_unreadable: bool = False
    replacement_timeout_seconds: int = 900
    healthy_for_seconds: int = 0  # a replacement serves once every check this long saw it serving
    poll_seconds: int = 15
    dry_run: bool = False
    standby_instances: str = "ignore"  # replace | ignore | wait
    protected_instances: str = "replace"  # replace | ignore | wait (scale-in protected instances)
    checkpoints: tuple[int | str, ...] = ()  # counts or percentages of the instances to replace
    bake_seconds: int = 300
    approve_checkpoints: bool = False
    allow_downgrade: bool = False  # a target older than what most serving instances run
    canary_analysis: bool = False  # a checkpoint names the canary and the baseline to compare
    rolling_back: bool = False  # set by during(), never by the input

    def during(self, progress: Progress) -> Policy:
        """The policy for this ledger: a rollback has no checkpoints and replaces instances whose
        version cannot be read (a broken build often answers nothing), under the same floor."""
        if progress.rollback_of is None:
            return self
        return replace(self, checkpoints=(), approve_checkpoints=False, replace_unreadable=True, rolling_back=True)

    def checkpoints_of(self, progress: Progress, view: Assessment) -> Checkpoints:
        """Percentages are of the instances the release replaces: those it has replaced, and those
        this read says it still will (instances a policy leaves alone are not among them)."""
        remaining = len(view.candidates) + len(view.standby) + len(view.held)
        base = progress.terminated_count + remaining
        return Checkpoints.of(self.checkpoints, base, progress.checkpoints_passed, progress.terminated_count)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Policy:
        chosen = {k: settings[k] for k in cls.__dataclass_fields__ if k in settings}
        return cls(
            **{
                **chosen,
                "checkpoints": tuple(settings.get("checkpoints", ())),
                "canary_analysis": settings.get("canary_analysis") is not None,
            }
        )


def healthy_floor(desired: int, min_healthy: int, min_healthy_percent: int) -> int:
    """max(min_healthy, ceil(min_healthy_percent x desired / 100)), in integers."""
    return max(min_healthy, -(-min_healthy_percent * desired // 100))


def _age_key(instance: Instance) -> tuple[int, Any]:
    """Oldest version first, unreadable versions before any; equal versions keep the fleet's order,
    which is the order of launch (sorts are stable)."""
    if instance.version is None:
        return (0, None)
    return (1, versions.parse(instance.version))


def spread_over_zones(candidates: list[Instance], newest_unreadable_first: bool = False) -> list[Instance]:
    """Oldest first, but take one per zone in turn, so a batch never empties one zone first.
    ``candidates`` are in the fleet's order: oldest launched first. A rollback takes unreadable
    instances newest first: those the failed release launched, which most likely serve nothing,
    before old ones that are merely slow to answer."""
    launch_order = {instance.id: n for n, instance in enumerate(candidates)}

    def oldest(instance: Instance) -> tuple[tuple[int, Any], int]:
        position = launch_order[instance.id]
        if newest_unreadable_first and instance.version is None:
            position = -position
        return (_age_key(instance), position)

    queues: dict[str, deque[Instance]] = {}
    for instance in sorted(candidates, key=oldest):
        queues.setdefault(instance.az, deque()).append(instance)
    ordered: list[Instance] = []
    while queues:
        heads = sorted((q[0] for q in queues.values()), key=oldest)
        for head in heads:
            ordered.append(queues[head.az].popleft())
            if not queues[head.az]:
                del queues[head.az]
    return ordered


REPLACE, IGNORE, WAIT = "replace", "ignore", "wait"
# A batch is at most this many instances, whatever max_batch says: its ids travel in the ledger (the
# decision, the pending batch, the recent batches), and that keeps every state's payload under 64 KiB
# however large the ASG (benchmarks/payload.py).
MAX_BATCH = 500
PLAN_ENTRIES = 100  # a dry run's plan names the batch, then the others in the fleet's order, up to this many


@dataclass(frozen=True)
class Assessment:
    """One read of an ASG judged against the target."""

    target: str
    serving: int
    floor: int
    candidates: list[Instance]  # outdated serving instances: each one terminated costs headroom
    converged: bool
    standby: list[Instance] = field(default_factory=list)  # Standby, not on the target: replaced freely
    held: list[Instance] = field(default_factory=list)  # a policy says wait for these
    ignored: list[Instance] = field(default_factory=list)  # a policy says leave these as they are

    @property
    def headroom(self) -> int:
        return self.serving - self.floor


def assess(fleet: Fleet, target: str, policy: Policy) -> Assessment:
    """Which instances must serve the target, which may be terminated, and which a policy sets aside.

    Scale-in protected instances (``protected_instances``): replaced like any other, left alone, or
    waited for until unprotected. Standby instances (``standby_instances``) serve nothing, so the
    floor never counts them: left alone, replaced (without spending headroom), or waited for until
    they return to service. Either kind already on the target needs nothing.
    """
    in_service = fleet.in_service
    serving = [i for i in in_service if i.serving]
    unreadable = [i for i in in_service if i.healthy and i.version is None]
    outdated = [i for i in serving if not i.serves(target)] + (unreadable if policy.replace_unreadable else [])
    protected = [i for i in outdated if i.protected and policy.protected_instances != REPLACE]
    standby = [i for i in fleet.instances if i.standby and not i.runs(target)]
    ignored = [i for i in protected if policy.protected_instances == IGNORE]
    ignored += standby if policy.standby_instances == IGNORE else []
    held = [i for i in protected if policy.protected_instances == WAIT]
    held += standby if policy.standby_instances == WAIT else []
    counted = len(serving) + (len(unreadable) if policy.replace_unreadable else 0)
    must_serve = [i for i in in_service if i not in ignored]
    converged = (
        all(i.serves(target) for i in must_serve)
        and len(serving) >= fleet.desired
        and not any(i not in ignored for i in standby)
    )
    return Assessment(
        target=target,
        serving=counted,
        floor=healthy_floor(
            fleet.desired,
            max(policy.min_healthy, fleet.tag_min_healthy),
            max(policy.min_healthy_percent, fleet.tag_min_healthy_percent),
        ),
        candidates=[i for i in outdated if i not in protected],
        converged=converged,
        standby=standby if policy.standby_instances == REPLACE else [],
        held=held,
        ignored=ignored,
    )


LISTED = 10  # instances named in one message; an error cause must stay readable (and under 32 KB)


def listed(items: list[str], separator: str) -> str:
    """The first few items, then how many more: '... i-9 HTTP 503 and 1990 more'."""
    shown = separator.join(items[:LISTED])
    return shown if len(items) <= LISTED else f"{shown} and {len(items) - LISTED} more"


def _elapsed(since: str, now: datetime) -> float:
    return (now - parse_iso(since)).total_seconds()


def decision_line(fleet: Fleet, count: int) -> str:
    """The original tool's readable log line."""
    read = [i.version for i in fleet.in_service if i.version is not None]
    return (
        f"{fleet.asg_name} => lowest version {versions.lowest(read)}, "
        f"highest version {versions.highest(read)}, {count} instances to terminate"
    )


def decide(fleet: Fleet, progress: Progress, policy: Policy, now: datetime, fleet_key: str | None = None) -> Progress:
    """Choose the next batch, declare convergence, or wait; fail when no progress is possible.

    In a dry run the decision also carries the plan: every instance and what would happen to it.
    A branch that has spent its share of the execution's history hands over instead of going on
    (decision ``continue``): the next execution of the chain re-reads the fleet and decides again.
    ``fleet_key``: where this read is stored; a terminate decision names it, so the replacements can
    be told from the instances it knew.
    """
    policy = policy.during(progress)
    decided = _decide(fleet, progress.spend(history_budget.READ), policy, now, fleet_key)
    if decided.decision is not None and decided.decision.action == "wait":
        decided = decided.spend(history_budget.WAIT)  # WaitBeforeReread
    if decided.decision is not None and decided.decision.action == "checkpoint":
        decided = decided.spend(history_budget.CHECKPOINT)  # Bake, PassCheckpoint, approval
    if policy.dry_run and decided.decision is not None:
        plan = explain(fleet, decided, policy)
        batch = set(decided.decision.batch)
        listed_first = [e for e in plan if e["id"] in batch] + [e for e in plan if e["id"] not in batch]
        kept = tuple(listed_first[:PLAN_ENTRIES])
        return decided.update(decision=replace(decided.decision, plan=kept, plan_omitted=len(plan) - len(kept)))
    next_batch = history_budget.batch_cost(policy.poll_seconds, policy.replacement_timeout_seconds)
    ended = decided.decision is not None and decided.decision.action in ("converged", "checkpoint")
    if ended or not history_budget.must_continue(decided.events_spent, decided.events_budget, next_batch):
        return decided
    message = (
        f"{fleet.asg_name} => continuing as a new execution: {decided.events_spent} of "
        f"{decided.events_budget} history events spent, the next batch may need {next_batch}"
    )
    return decided.update(decision=Decision("continue", message))


def explain(fleet: Fleet, progress: Progress, policy: Policy) -> tuple[dict[str, Any], ...]:
    """Per instance: its version and state, and why it would or would not be terminated now."""
    target = progress.target_version
    if target is None:  # no version read anywhere yet: nothing can be judged outdated
        return tuple(_entry(i, f"keep: {i.why_not_serving()}; no target yet") for i in fleet.instances)
    batch = set(progress.decision.batch) if progress.decision else set()
    view = assess(fleet, target, policy)
    entries = []
    for instance in fleet.instances:
        if instance.id in batch:
            verdict = "terminate: in the next batch"
        elif instance in view.held:
            verdict = f"keep: {_set_aside(instance, policy)}; the release waits for it"
        elif instance in view.ignored:
            verdict = f"keep: {_set_aside(instance, policy)}"
        elif instance in view.standby:
            verdict = f"later: {_set_aside(instance, policy)}, beyond this batch"
        elif not instance.in_service or not instance.healthy:
            verdict = f"keep: {instance.why_not_serving()}, not serving (Auto Scaling's to handle)"
        elif instance.serves(target):
            verdict = f"keep: serves the target {target}"
        elif instance.version is None:
            verdict = f"keep: version unreadable ({instance.reason}); it blocks convergence"
        else:
            verdict = f"later: outdated, beyond this batch (serving {view.serving}, floor {view.floor})"
        entries.append(_entry(instance, verdict))
    return tuple(entries)


def _entry(instance: Instance, verdict: str) -> dict[str, Any]:
    return {"id": instance.id, "version": instance.version, "state": instance.lifecycle, "verdict": verdict}


def _decide(fleet: Fleet, progress: Progress, policy: Policy, now: datetime, fleet_key: str | None) -> Progress:
    readable = [i.version for i in fleet.in_service if i.version is not None]
    target = progress.target_version or policy.target_version or versions.highest(readable)
    first_read = progress.target_version is None  # the target is chosen, and judged, once
    progress = progress.update(
        started_at=progress.started_at or iso(now),
        versions_before=fleet.census() if progress.versions_before is None else progress.versions_before,
        target_version=target,
    )
    if target is None:
        return _wait(fleet, progress, policy, now, "no InService instance's version could be read yet")
    if first_read:  # a rollback is a downgrade by design: it is never refused
        served = [i.version for i in fleet.in_service if i.serving and i.version is not None]
        guardrails.refuse_downgrade(fleet.asg_name, target, served, policy.allow_downgrade or policy.rolling_back)

    view = assess(fleet, target, policy)
    stage = policy.checkpoints_of(progress, view)
    if stage.reached:
        message = stage.describe(fleet.asg_name, policy.bake_seconds, policy.approve_checkpoints)
        if not policy.canary_analysis:
            return progress.update(decision=Decision("checkpoint", message), waiting_since=None)
        cohort = canary_checkpoint.cohorts(fleet, progress)
        if not cohort["baseline_ids"]:  # "100%": nothing left to compare the canary with
            message += "; the canary is not judged: no instance still serves the version being replaced"
            return progress.update(decision=Decision("checkpoint", message), waiting_since=None)
        message += f"; then judging the canary ({canary_checkpoint.describe_cohorts(cohort)})"
        return progress.update(decision=Decision("checkpoint", message, canary=cohort), waiting_since=None)
    if view.converged:
        message = f"{fleet.asg_name} => converged: {view.serving} instances serve {target}"
        if view.ignored:
            message += "; left as they are: " + listed([f"{i.id} {_set_aside(i, policy)}" for i in view.ignored], ", ")
        return progress.trimmed().update(
            decision=Decision("converged", message),
            versions_after=fleet.census(),
            finished_at=iso(now),
            waiting_since=None,
        )

    cap = min(MAX_BATCH, len(view.standby) + len(view.candidates) if policy.max_batch is None else policy.max_batch)
    room_to_checkpoint = stage.room()
    if room_to_checkpoint is not None:
        cap = min(cap, room_to_checkpoint)  # a batch never crosses a checkpoint
    standby = spread_over_zones(view.standby)[:cap]  # not serving: replacing them costs no headroom
    room = min(view.headroom, cap - len(standby))
    batch = standby + spread_over_zones(view.candidates, policy.rolling_back)[: max(room, 0)]
    if batch:
        after = len(view.standby) + len(view.candidates) + len(view.held) - len(batch)
        ids = tuple(i.id for i in batch)
        decision = Decision("terminate", decision_line(fleet, len(batch)), ids, fleet_key, outdated_after=after)
        return progress.update(decision=decision, waiting_since=None)

    if view.candidates and view.serving >= fleet.desired and view.headroom <= 0:
        raise FloorBlocksReleaseError(
            f"{fleet.asg_name}: healthy floor {view.floor} leaves no headroom at desired capacity "
            f"{fleet.desired} ({view.serving} serving), so none of the {len(view.candidates)} outdated "
            f"instances can be terminated; lower min_healthy/min_healthy_percent (or the ASG's floor tags) "
            f"or raise desired capacity"
        )
    return _wait(fleet, progress, policy, now, _blockers(fleet, view, policy))


def _set_aside(instance: Instance, policy: Policy) -> str:
    """Why a policy sets this instance aside, in the words of the input field that says so."""
    version = instance.version or "an unread version"
    if instance.standby:
        return f"in Standby on {version} (standby_instances: {policy.standby_instances})"
    return f"protected from scale-in on {version} (protected_instances: {policy.protected_instances})"


def _blockers(fleet: Fleet, view: Assessment, policy: Policy) -> str:
    waiting = [
        i
        for i in fleet.in_service
        if not i.serves(view.target) and i not in view.candidates and i not in view.held + view.ignored
    ]
    named = [f"{i.id} {_set_aside(i, policy)}" for i in view.held] + [f"{i.id} {i.why_not_serving()}" for i in waiting]
    parts = [listed(named, "; ")] if named else []
    if view.serving < fleet.desired:
        parts.append(f"serving {view.serving} of desired {fleet.desired}")
    if view.candidates and view.headroom <= 0:
        parts.append(f"floor {view.floor} leaves no headroom")
    return "; ".join(parts) or "waiting for the fleet to settle"


def _wait(fleet: Fleet, progress: Progress, policy: Policy, now: datetime, why: str) -> Progress:
    since = progress.waiting_since or iso(now)
    waited = _elapsed(since, now)
    if waited > policy.replacement_timeout_seconds:
        raise ReleaseStalledError(
            f"{fleet.asg_name}: not converged on {progress.target_version} and nothing could be "
            f"terminated for {waited:.0f} s (timeout {policy.replacement_timeout_seconds} s): {why}"
        )
    message = f"{fleet.asg_name} => waiting: {why}"
    return progress.update(decision=Decision("wait", message), waiting_since=since)


def begin_replacement(progress: Progress, terminated: list[str], now: datetime, decremented: int = 0) -> Progress:
    """Record a terminated batch; its replacements are checked by ``check_replacement``.
    ``decremented``: those of the batch the surge paid for, for which Auto Scaling launches nothing."""
    decision = progress.decision
    if decision is None or decision.action != "terminate":
        raise InvalidStepInputError("Terminate: progress.decision is not a terminate decision")
    paid = f", {decremented} paid for by the surge" if decremented else ""
    pending = Pending(
        instance_ids=decision.batch,
        fleet_key=decision.fleet_key,
        since=iso(now),
        status=f"terminated {len(terminated)} of {len(decision.batch)}{paid}; waiting for replacements",
        decremented=decremented,
    )
    return progress.update(
        pending=pending,
        decision=None,
        events_spent=progress.events_spent + history_budget.TERMINATE,
        surge_paid=progress.surge_paid + decremented,
    ).with_batch(tuple(terminated))


def check_replacement(
    fleet: Fleet, progress: Progress, policy: Policy, now: datetime, known: Collection[str]
) -> Progress:
    """Done when the batch has left, InService+Healthy >= desired and every newcomer serves the target,
    and with ``healthy_for_seconds`` has been seen serving it at every check for at least that long.
    ``known``: the instances of the read the batch was chosen from (``pending.fleet_key``); the others
    are newcomers."""
    progress = progress.spend(history_budget.POLL)
    pending = progress.pending
    target = progress.target_version
    if pending is None or target is None:
        return progress
    known = set(known)
    lingering = [i for i in fleet.instances if i.id in pending.instance_ids]
    # The warm pool refilling itself is no replacement: only instances that joined the group are.
    newcomers = [i for i in fleet.instances if i.id not in known and not i.warm]
    since = _serving_since(pending, [i for i in newcomers if i.serves(target)], policy, now)
    steady = {i for i, t in since.items() if _elapsed(t, now) >= policy.healthy_for_seconds}
    not_ready = [i for i in newcomers if i.id not in steady]
    healthy = sum(1 for i in fleet.instances if i.healthy)
    if not lingering and not not_ready and healthy >= fleet.desired:
        return progress.update(pending=None).with_launched(tuple(i.id for i in newcomers))

    def why(instance: Instance) -> str:
        if instance.id in since:
            held = _elapsed(since[instance.id], now)
            return f"serving {target} for {held:.0f} s of healthy_for_seconds {policy.healthy_for_seconds}"
        return instance.why_not_serving()

    expected = max(pending.expected, len(newcomers))
    named = [f"{i.id} {why(i)}" for i in not_ready] + [f"{i.id} still {i.lifecycle}" for i in lingering]
    problems = [listed(named, ", ")] if named else []
    missing = pending.expected - len(newcomers)
    if missing > 0:
        problems.append(f"{missing} not launched yet (InService+Healthy {healthy} of desired {fleet.desired})")
    waited = _elapsed(pending.since, now)
    status = (
        f"{fleet.asg_name}: {len(not_ready) + max(missing, 0)} of {expected} replacements "
        f"not serving {target} after {waited:.0f} s: " + ", ".join(problems)
    )
    if waited > policy.replacement_timeout_seconds:
        raise ReplacementTimeoutError(status)
    kept = tuple(sorted(since.items())) if policy.healthy_for_seconds else ()
    return progress.update(pending=replace(pending, status=status, serving_since=kept))


def _serving_since(pending: Pending, serving: list[Instance], policy: Policy, now: datetime) -> dict[str, str]:
    """Since when each replacement serving now has been seen serving at every check; one that missed a
    check starts again. Without a stability window, serving now is enough."""
    if not policy.healthy_for_seconds:
        return {i.id: iso(now) for i in serving}
    seen = dict(pending.serving_since)
    return {i.id: seen.get(i.id, iso(now)) for i in serving}
