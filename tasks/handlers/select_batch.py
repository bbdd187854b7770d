"""SelectBatch: decide the next batch to terminate, convergence, or waiting (or, with this
execution's history share spent, park the ASG's lease for the chain's next execution).

Its input names the fleet ReadVersions stored (a claim check), or the read CheckReplacement stored
when it saw a batch replaced (WatchBooting when each instance it watched answered); its output is
the ASG's whole state for the states after it, the fleet's key in a terminate decision only
(CheckReplacement tells the replacements from the instances that read knew).
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime
from tasks.domain.decide import decide
from tasks.domain.events import asg_target
from tasks.domain.fleet import Action, Progress
from tasks.domain.policy import Policy

CARRIED = ("asg_name", "release_id", "settings")
# The Tasks whose read SelectBatch may decide on besides ReadVersions' (no Discover ran before it).
READ_IN_TASK = ("CheckReplacement", "WatchBooting")


@contracts.step("select_batch")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    stored = runtime.fleet_records().read(event["fleet"])
    fleet, read_in_task = stored.fleet, stored.written_by in READ_IN_TASK
    ledger = Progress.from_record(event["progress"])
    ledger = ledger.update(release_id=ledger.release_id or event["release_id"])
    settings = contracts.settings(event["settings"])
    settings["target_version"] = asg_target(settings, fleet.asg_name)
    policy = Policy.from_settings(settings)
    progress = decide(fleet, ledger, policy, runtime.now(), event["fleet"]["key"], read_in_task=read_in_task)
    decision = progress.decision
    if decision is not None and decision.action == Action.CONTINUE:  # AsgContinues: the lease waits for the handover
        ownership.park(fleet.asg_name, event["release_id"])
    runtime.logger.info(
        decision.message if decision else "no decision",
        extra={"step": "SelectBatch", "asg_name": fleet.asg_name, "target_version": progress.target_version},
    )
    return {**{key: event[key] for key in CARRIED}, "progress": progress.to_record()}
