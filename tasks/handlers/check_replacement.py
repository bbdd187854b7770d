"""CheckReplacement: has the ASG replaced the terminated batch with instances serving the target?"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.fleet_reader import read_versions
from tasks.domain import alarms, notifications
from tasks.domain.fleet import Progress
from tasks.domain.release import Policy, check_replacement


@contracts.step("check_replacement")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, ledger = event["settings"], Progress.from_record(event["progress"])
    watched = alarms.watched(settings["alarm_names"], ledger)
    runtime.check_alarms(event["asg_name"], watched, "no further batch will be terminated")
    fleet = runtime.fleet_reader().discover(event["asg_name"], settings["version_url"])
    fleet = read_versions(fleet, runtime.prober(settings["probe_timeout_seconds"]))
    progress = check_replacement(fleet, ledger, Policy.from_settings(settings), runtime.now())
    status = progress.pending.status if progress.pending else f"{fleet.asg_name} => batch replaced"
    runtime.logger.info(status, extra={"step": "CheckReplacement", "asg_name": fleet.asg_name})
    if progress.pending is None:
        replaced = notifications.batch_replaced(progress.release_id or "", fleet.asg_name, progress)
        runtime.notify(settings["event_bus_name"], replaced)
    return progress.to_record()
