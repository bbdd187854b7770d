"""ReadVersions: GET every InService instance's version URL, concurrently and bounded."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.fleet_reader import read_versions
from tasks.domain.fleet import Fleet


@contracts.step("read_versions")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fleet = read_versions(Fleet.from_record(event["fleet"]), runtime.prober(event["probe_timeout_seconds"]))
    runtime.logger.info(
        "versions read", extra={"step": "ReadVersions", "asg_name": fleet.asg_name, "versions": fleet.census()}
    )
    return fleet.to_record()
