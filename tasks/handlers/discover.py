"""Discover: capacity and every instance of one ASG, with the URL its version is read from."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime


@contracts.step("discover")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fleet = runtime.fleet_reader().discover(event["asg_name"], event["version_url"])
    runtime.logger.info(
        "discovered",
        extra={
            "step": "Discover",
            "asg_name": fleet.asg_name,
            "desired": fleet.desired,
            "instances": len(fleet.instances),
        },
    )
    return fleet.to_record()
