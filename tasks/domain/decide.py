"""The next step for one ASG: a batch to terminate, a checkpoint, convergence, a wait, or a hand-over
to the next execution of the chain; or the named error when no progress is possible."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.domain import canary_checkpoint, guardrails, history_budget, versions
from tasks.domain.assess import Assessment, assess, spread_over_zones
from tasks.domain.dry_run import with_plan
from tasks.domain.fleet import Action, Decision, iso
from tasks.domain.replacement import elapsed
from tasks.domain.text import decision_line, listed, set_aside
from tasks.errors import FloorBlocksReleaseError, ReleaseStalledError

if TYPE_CHECKING:
    from datetime import datetime

    from tasks.domain.fleet import Fleet, Progress
    from tasks.domain.policy import Policy

# A batch is at most this many instances, whatever max_batch says: its ids travel in the ledger (the
# decision, the pending batch, the recent batches), and that keeps every state's payload under 64 KiB
# however large the ASG (benchmarks/payload.py).
MAX_BATCH = 500
# A wait watches at most this many booting instances (their ids travel in the decision, and the next
# read sees the others).
WATCHED = 100

# What one read and its decision write to the history: the read itself, plus WaitBeforeReread after a
# wait (WatchBooting after a wait for booting instances), plus Bake, PassCheckpoint and the approval
# after a checkpoint.
_AFTER = {Action.WAIT: history_budget.REREAD, Action.CHECKPOINT: history_budget.CHECKPOINT}


def cost(decision: Decision | None, *, read_in_task: bool = False) -> int:
    """The history events one read spends, given what it decided. ``read_in_task``: the read is one
    a checking Task made (CheckReplacement when it saw a batch replaced, WatchBooting when each
    instance it watched answered), so no Discover and ReadVersions ran."""
    read = history_budget.DECIDE if read_in_task else history_budget.READ
    if decision is not None and decision.watch:
        return read + history_budget.WATCH
    return read + (0 if decision is None else _AFTER.get(decision.action, 0))


def booting(fleet: Fleet) -> tuple[str, ...]:
    """What a wait watches (WatchBooting, for up to a poll, instead of WaitBeforeReread): the
    instances InService and Healthy, with a version URL, that answered no version yet, the oldest
    WATCHED of them. Their answers may be what the wait waits for (a surge booting, or any instance
    that would lift the floor)."""
    return tuple(i.id for i in fleet.instances if i.booting and i.url is not None)[:WATCHED]


def decide(
    fleet: Fleet,
    progress: Progress,
    policy: Policy,
    now: datetime,
    fleet_key: str | None = None,
    *,
    read_in_task: bool = False,
) -> Progress:
    """Choose the next batch, declare convergence, or wait; fail when no progress is possible.

    In a dry run the decision also carries the plan: every instance and what would happen to it.
    A branch that has spent its share of the execution's history hands over instead of going on
    (decision ``continue``): the next execution of the chain re-reads the fleet and decides again.
    ``fleet_key``: where this read is stored; a terminate decision names it, so the replacements can
    be told from the instances it knew. ``read_in_task``: the read is a checking Task's (see ``cost``).
    """
    policy = policy.during(progress)
    decided = _decide(fleet, progress, policy, now, fleet_key)
    decided = decided.spend(cost(decided.decision, read_in_task=read_in_task))
    if policy.dry_run:
        return with_plan(fleet, decided, policy)
    next_batch = history_budget.batch_cost(policy.poll_seconds, policy.replacement_timeout_seconds)
    ended = decided.decision is not None and decided.decision.action in (Action.CONVERGED, Action.CHECKPOINT)
    if ended or not history_budget.must_continue(decided.events_spent, decided.events_budget, next_batch):
        return decided
    message = (
        f"{fleet.asg_name} => continuing as a new execution: {decided.events_spent} of "
        f"{decided.events_budget} history events spent, the next batch may need {next_batch}"
    )
    return decided.update(decision=Decision(Action.CONTINUE, message))


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
        return _wait(fleet, progress, policy, now, "no InService instance's version could be read yet", fleet_key)
    if first_read:  # a rollback is a downgrade by design: it is never refused
        served = [i.version for i in fleet.in_service if i.serving and i.version is not None]
        guardrails.refuse_downgrade(fleet.asg_name, target, served, policy.allow_downgrade or policy.rolling_back)

    view = assess(fleet, target, policy)
    stage = policy.checkpoints_of(progress, view)
    if stage.reached:
        message = stage.describe(fleet.asg_name, policy.bake_seconds, policy.approve_checkpoints)
        if not policy.canary_analysis:
            return progress.update(decision=Decision(Action.CHECKPOINT, message), waiting_since=None)
        cohort = canary_checkpoint.cohorts(fleet, progress)
        if not cohort["baseline_ids"]:  # "100%": nothing left to compare the canary with
            message += "; the canary is not judged: no instance still serves the version being replaced"
            return progress.update(decision=Decision(Action.CHECKPOINT, message), waiting_since=None)
        message += f"; then judging the canary ({canary_checkpoint.describe_cohorts(cohort)})"
        return progress.update(decision=Decision(Action.CHECKPOINT, message, canary=cohort), waiting_since=None)
    if view.converged:
        message = f"{fleet.asg_name} => converged: {view.serving} instances serve {target}"
        if view.ignored:
            message += "; left as they are: " + listed([f"{i.id} {set_aside(i, policy)}" for i in view.ignored], ", ")
        return progress.trimmed().update(
            decision=Decision(Action.CONVERGED, message),
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
        decision = Decision(Action.TERMINATE, decision_line(fleet, len(batch)), ids, fleet_key, outdated_after=after)
        return progress.update(decision=decision, waiting_since=None)

    if view.candidates and view.serving >= fleet.desired and view.headroom <= 0:
        raise FloorBlocksReleaseError(
            f"{fleet.asg_name}: healthy floor {view.floor} leaves no headroom at desired capacity "
            f"{fleet.desired} ({view.serving} serving), so none of the {len(view.candidates)} outdated "
            f"instances can be terminated; lower min_healthy/min_healthy_percent (or the ASG's floor tags) "
            f"or raise desired capacity"
        )
    return _wait(fleet, progress, policy, now, _blockers(fleet, view, policy), fleet_key)


def _blockers(fleet: Fleet, view: Assessment, policy: Policy) -> str:
    waiting = [
        i
        for i in fleet.in_service
        if not i.serves(view.target) and i not in view.candidates and i not in view.held + view.ignored
    ]
    named = [f"{i.id} {set_aside(i, policy)}" for i in view.held] + [f"{i.id} {i.why_not_serving()}" for i in waiting]
    parts = [listed(named, "; ")] if named else []
    if view.serving < fleet.desired:
        parts.append(f"serving {view.serving} of desired {fleet.desired}")
    if view.candidates and view.headroom <= 0:
        parts.append(f"floor {view.floor} leaves no headroom")
    return "; ".join(parts) or "waiting for the fleet to settle"


def _wait(fleet: Fleet, progress: Progress, policy: Policy, now: datetime, why: str, fleet_key: str | None) -> Progress:
    since = progress.waiting_since or iso(now)
    waited = elapsed(since, now)
    if waited > policy.replacement_timeout_seconds:
        raise ReleaseStalledError(
            f"{fleet.asg_name}: not converged on {progress.target_version} and nothing could be "
            f"terminated for {waited:.0f} s (timeout {policy.replacement_timeout_seconds} s): {why}"
        )
    message = f"{fleet.asg_name} => waiting: {why}"
    watch = () if policy.dry_run else booting(fleet)  # a dry run reads once: nothing to watch
    # A wait that watches names the read it saw: WatchBooting finds the URLs there.
    seen = fleet_key if watch else None
    return progress.update(decision=Decision(Action.WAIT, message, fleet_key=seen, watch=watch), waiting_since=since)
