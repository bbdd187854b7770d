"""Discover: capacity and every instance of one ASG, with the URL its version is read from.

The read is stored in the stack's fleet bucket and its key passed on (a claim check): a fleet record
grows with the ASG, a state's payload must not.
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime


@contracts.step("discover")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = runtime.epoch()
    fleet = runtime.fleet_reader().discover(event["asg_name"], event["version_url"])
    stored = runtime.fleet_records().put(event["release_id"], "Discover", fleet, runtime.epoch() - started)
    runtime.logger.info(
        "discovered",
        extra={
            "step": "Discover",
            "asg_name": fleet.asg_name,
            "desired": fleet.desired,
            "instances": len(fleet.instances),
            "fleet_key": stored["key"],
        },
    )
    return stored
