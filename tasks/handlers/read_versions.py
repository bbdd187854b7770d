"""ReadVersions: GET the version URL of every InService or Standby instance (Standby is read so a dry
run shows it; it never counts as serving), concurrently and bounded.

It reads the fleet Discover stored, and stores the fleet with its versions beside it (its output is
that record's key, as Discover's is).
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.fleet_reader import read_versions


@contracts.step("read_versions")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = runtime.fleet_records()
    discovered = records.read(event["fleet"])
    started = runtime.epoch()
    fleet = read_versions(discovered.fleet, runtime.prober(event["probe_timeout_seconds"]))
    # The whole read: Discover's description of the fleet, and these probes.
    took = (discovered.read_seconds or 0.0) + runtime.epoch() - started
    stored = records.put(discovered.release_id, "ReadVersions", fleet, took)
    runtime.logger.info(
        "versions read",
        extra={
            "step": "ReadVersions",
            "asg_name": fleet.asg_name,
            "versions": fleet.census(),
            "fleet_key": stored["key"],
        },
    )
    return stored
