"""A dry run's plan: every instance, its version and state, and why it would or would not be
terminated now. Nothing here changes the fleet; the decision only carries the plan."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tasks.domain.assess import assess
from tasks.domain.text import set_aside

if TYPE_CHECKING:
    from tasks.domain.fleet import Fleet, Instance, Progress
    from tasks.domain.policy import Policy

PLAN_ENTRIES = 100  # a dry run's plan names the batch, then the others in the fleet's order, up to this many


def with_plan(fleet: Fleet, progress: Progress, policy: Policy) -> Progress:
    """The decision with its plan: the batch first, then the others, at most PLAN_ENTRIES of them."""
    decision = progress.decision
    if decision is None:
        return progress
    plan = explain(fleet, progress, policy)
    batch = set(decision.batch)
    listed_first = [e for e in plan if e["id"] in batch] + [e for e in plan if e["id"] not in batch]
    kept = tuple(listed_first[:PLAN_ENTRIES])
    return progress.update(decision=replace(decision, plan=kept, plan_omitted=len(plan) - len(kept)))


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
            verdict = f"keep: {set_aside(instance, policy)}; the release waits for it"
        elif instance in view.ignored:
            verdict = f"keep: {set_aside(instance, policy)}"
        elif instance in view.standby:
            verdict = f"later: {set_aside(instance, policy)}, beyond this batch"
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
