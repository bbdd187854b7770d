"""CheckReplacement: has the ASG replaced the terminated batch with instances serving the target?

Its output is the ASG's state for the states after it. Once the batch is replaced, the read that saw
it is stored in the fleet bucket and its key passed on (``fleet``, as ReadVersions passes one):
SelectBatch decides on that read, so no Discover and ReadVersions run between a batch and the next.
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.fleet_reader import watch
from tasks.domain import alarms, notifications, replacement
from tasks.domain import watch as watching
from tasks.domain.fleet import Fleet, Progress
from tasks.domain.policy import Policy

CARRIED = ("asg_name", "release_id", "settings")


def known_ids(asg_name: str, ledger: Progress) -> frozenset[str]:
    """The instances of the read the batch was chosen from (stored by ReadVersions): the others are
    its replacements."""
    key = ledger.pending.fleet_key if ledger.pending else None
    if key is None:
        return frozenset()
    return frozenset(i.id for i in runtime.fleet_records().get(asg_name, key).fleet.instances)


def _check(
    asg_name: str, settings: dict[str, Any], ledger: Progress, policy: Policy, known: frozenset[str]
) -> tuple[Fleet, float, Progress]:
    """One check of the batch's replacements: the fleet read with its versions (an instance that
    answered none keeps its URL), how long that read took, and the ledger after it."""
    fleet, took = runtime.read_fleet(asg_name, settings["version_url"], settings["probe_timeout_seconds"])
    return fleet, took, replacement.check_replacement(fleet, ledger, policy, runtime.now(), known)


def _watched(
    asg_name: str, settings: dict[str, Any], ledger: Progress, policy: Policy, known: frozenset[str]
) -> tuple[Fleet, float, Progress]:
    """A check that, when the batch waits only for its replacements to boot, watches them for up to
    a poll and sees the boot end (read again then), rather than leaving it to the next check after
    WaitForReplacement (tasks/domain/replacement.py to_watch)."""
    started = runtime.epoch()
    fleet, took, progress = _check(asg_name, settings, ledger, policy, known)
    booting = replacement.to_watch(fleet, progress, policy, known)
    spent = runtime.epoch() - started  # the read: the one after the watch takes about as long
    seconds = watching.seconds(policy.poll_seconds, settings["probe_timeout_seconds"], spent, then_read=spent)
    if not booting or seconds <= 0:
        return fleet, took, progress
    since = runtime.epoch()
    prober, every = runtime.prober(settings["probe_timeout_seconds"]), watching.every(policy.poll_seconds)
    if watch(fleet, booting, prober, seconds=seconds, every=every, sleep=runtime.sleep, clock=runtime.epoch):
        fleet, took, progress = _check(asg_name, settings, ledger, policy, known)
    return fleet, took, replacement.after_watch(progress, runtime.epoch() - since, policy.poll_seconds)


@contracts.step("check_replacement")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, ledger = contracts.settings(event["settings"]), Progress.from_record(event["progress"])
    watched = alarms.watched(settings["alarm_names"], ledger)
    runtime.check_alarms(event["asg_name"], watched, "no further batch will be terminated")
    policy, known = Policy.from_settings(settings), known_ids(event["asg_name"], ledger)
    fleet, took, progress = _watched(event["asg_name"], settings, ledger, policy, known)
    status = progress.pending.status if progress.pending else f"{fleet.asg_name} => batch replaced"
    runtime.logger.info(status, extra={"step": "CheckReplacement", "asg_name": fleet.asg_name})
    if progress.pending is None:
        batch = ledger.pending.instance_ids if ledger.pending else ()
        replaced = notifications.batch_replaced(progress.release_id or "", fleet.asg_name, progress, batch)
        runtime.notify(settings["event_bus_name"], replaced)
        stored = runtime.fleet_records().put(event["release_id"], "CheckReplacement", fleet, took)
        return {**{key: event[key] for key in CARRIED}, "progress": progress.to_record(), "fleet": stored}
    return {**{key: event[key] for key in CARRIED}, "progress": progress.to_record()}
