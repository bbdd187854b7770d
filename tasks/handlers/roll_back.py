"""RollBack (rollback_on_failure): the ASG's release failed after terminating instances. Pin the
version most of its instances ran before, so replacements boot it, and hand the loop a ledger that
converges back onto it."""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime
from tasks.domain import rollback
from tasks.domain.fleet import Progress


@contracts.step("roll_back")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, failure = event["asg_name"], event["failure"]
    rolling = rollback.begin(Progress.from_record(event["progress"]), asg, failure["Error"], failure.get("Cause"))
    pin = rollback.pin_name(event["pin_parameter"], asg)
    before = ownership.pin(asg, event["release_id"], pin, rolling.target_version or "")
    # A batch drained and then not terminated (an alarm during the drain wait) takes traffic again.
    ownership.undrain(asg, event["release_id"])
    runtime.logger.warning(
        f"{asg} => rolling back to {rolling.target_version} after {failure['Error']} ({pin} said {before})",
        extra={"step": "RollBack", "asg_name": asg},
    )
    return rolling.to_record()
