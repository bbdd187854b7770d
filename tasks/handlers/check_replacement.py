"""CheckReplacement: has the ASG replaced the terminated batch with instances serving the target?"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.fleet_reader import read_versions
from tasks.domain import alarms, notifications
from tasks.domain.fleet import Progress
from tasks.domain.policy import Policy
from tasks.domain.replacement import check_replacement


def known_ids(asg_name: str, ledger: Progress) -> frozenset[str]:
    """The instances of the read the batch was chosen from (stored by ReadVersions): the others are
    its replacements."""
    key = ledger.pending.fleet_key if ledger.pending else None
    if key is None:
        return frozenset()
    return frozenset(i.id for i in runtime.fleet_records().get(asg_name, key).fleet.instances)


@contracts.step("check_replacement")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, ledger = contracts.settings(event["settings"]), Progress.from_record(event["progress"])
    watched = alarms.watched(settings["alarm_names"], ledger)
    runtime.check_alarms(event["asg_name"], watched, "no further batch will be terminated")
    fleet = runtime.fleet_reader().discover(event["asg_name"], settings["version_url"])
    fleet = read_versions(fleet, runtime.prober(settings["probe_timeout_seconds"]))
    progress = check_replacement(
        fleet, ledger, Policy.from_settings(settings), runtime.now(), known_ids(event["asg_name"], ledger)
    )
    status = progress.pending.status if progress.pending else f"{fleet.asg_name} => batch replaced"
    runtime.logger.info(status, extra={"step": "CheckReplacement", "asg_name": fleet.asg_name})
    if progress.pending is None:
        batch = ledger.pending.instance_ids if ledger.pending else ()
        replaced = notifications.batch_replaced(progress.release_id or "", fleet.asg_name, progress, batch)
        runtime.notify(settings["event_bus_name"], replaced)
    return progress.to_record()
