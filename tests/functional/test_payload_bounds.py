"""No state's payload grows with the ASG: every state of a release of one 10,000-instance ASG (and the
Map's output for 50 of them) stays under 64 KiB, the fleet itself travelling by key (a claim check).

The real handlers against moto (S3, DynamoDB) and version endpoints on loopback, each state built as
the ASL builds it (Parameters and ResultPath). Two records are not read from moto's EC2, whose
DescribeInstances takes about 75 s for 10,000 instances: Discover's read is stored by the same
``FleetRecords.put`` the handler calls (its output is that key), and CheckReplacement's and
Terminate's outputs are the domain functions their handlers return. These are sizes, not times.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from asg_terminator.paths import RELEASE_ASL
from tasks import runtime
from tasks.domain.decide import MAX_BATCH
from tasks.domain.dry_run import PLAN_ENTRIES
from tasks.domain.fleet import Fleet, Instance, Progress
from tasks.domain.policy import Policy
from tasks.domain.replacement import begin_replacement, check_replacement
from tasks.handlers.read_versions import handler as read_versions
from tasks.handlers.select_batch import handler as select_batch
from tasks.handlers.validate_input import handler as validate_input
from tests.functional.support import NEW, OLD, RELEASE_ID, Loopback, answer, fetched

INSTANCES = 10_000
BOUND = 64 * 1024
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def size(document: Any) -> int:
    """UTF-8 bytes of the JSON Step Functions carries (compact, as the Lambda integration returns it)."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def ids(count: int, start: int = 0) -> list[str]:
    return [f"i-{0x0A000000000000000 + n:017x}" for n in range(start, start + count)]  # EC2's 17 hex digits


def discovered(port: int) -> Fleet:
    """What Discover reads of the ASG: every instance InService, Healthy, with its version URL."""
    instances = tuple(
        Instance(id=i, az=ZONES[n % 3], url=f"http://127.0.0.1:{port}/{i}/version")
        for n, i in enumerate(ids(INSTANCES))
    )
    return Fleet("web", desired=INSTANCES, min_size=0, max_size=2 * INSTANCES, instances=instances)


def map_outcome(state: dict[str, Any], progress: dict[str, Any], status: str) -> dict[str, Any]:
    """What AsgConverged / AsgPlanned carry of the ledger (read from the definition)."""
    machine = json.loads(RELEASE_ASL.read_text())
    chosen = machine["States"]["ReleaseEachAsg"]["ItemProcessor"]["States"][f"Asg{status.title()}"]["Parameters"]
    carried = {k.removesuffix(".$"): progress[v.removeprefix("$.progress.")] for k, v in chosen["progress"].items()}
    return {"asg_name": state["asg_name"], "status": status, "progress": carried, "release_id": RELEASE_ID}


@pytest.mark.timeout(900)  # moto describing thousands of instances: minutes, past the suite's 300 s per test
@pytest.mark.usefixtures("aws")
def test_every_state_of_a_ten_thousand_instance_release_is_under_64_kib() -> None:
    states: dict[str, Any] = {}
    with Loopback(default=answer(200, OLD.encode())) as fleet_endpoints:
        release = validate_input(
            {"asg_names": ["web"], "target_version": NEW, "version_url": "http://127.0.0.1:8080/{InstanceId}/version"},
            None,
        )
        (branch,) = release["asgs"]
        item = {**branch, "settings": release["settings"], "release_id": RELEASE_ID}  # the Map's ItemSelector
        states["ValidateInput output"] = release
        states["Discover input"] = {"asg_name": "web", "release_id": RELEASE_ID, "version_url": "..."}
        fleet = runtime.fleet_records().put(RELEASE_ID, "Discover", discovered(fleet_endpoints.port))
        states["state after Discover"] = {**item, "fleet": fleet}
        probe = {"fleet": fleet, "probe_timeout_seconds": 10}
        states["ReadVersions input"] = probe
        read = read_versions(probe, None)
        states["state after ReadVersions"] = {**item, "fleet": read}
        assert len(fleet_endpoints.requests) == INSTANCES
    stored = fetched(read)
    assert {i.get("version") for i in stored["instances"]} == {OLD}  # every version was read, and is in the bucket
    assert size(stored) > 40 * INSTANCES  # the fleet is that large: only its key travels

    select = {k: item[k] for k in ("asg_name", "release_id", "settings", "progress")}
    states["SelectBatch input"] = {**select, "fleet": read}
    chosen = select_batch({**select, "fleet": read}, None)
    states["SelectBatch output (a batch chosen)"] = chosen
    batch = chosen["progress"]["decision"]["batch"]
    assert len(batch) == MAX_BATCH  # max_batch null and the floor at 1 would allow 9,999
    states["Drain output"] = {"instance_ids": batch, "target_groups": 0, "seconds": 0}
    states["Terminate input"] = {k: chosen[k] for k in ("asg_name", "release_id", "progress")}

    now = runtime.now()
    terminated = begin_replacement(Progress.from_record(chosen["progress"]), batch, now, poll_seconds=5)
    states["state after Terminate"] = {**chosen, "progress": terminated.to_record()}
    # Replacements launched, and with a stability window each is tracked while it boots and serves.
    gone = set(batch)
    kept = [i for i in Fleet.from_record(stored).instances if i.id not in gone]
    fresh = [Instance(id=i, az=ZONES[n % 3], version=NEW) for n, i in enumerate(ids(len(batch), start=INSTANCES))]
    booting = Fleet(
        "web", INSTANCES, 0, 2 * INSTANCES, tuple(kept + [replace(i, version=None, reason="HTTP 503") for i in fresh])
    )
    known = [i["id"] for i in stored["instances"]]
    policy = Policy.from_settings({**item["settings"], "healthy_for_seconds": 60})
    waiting = check_replacement(booting, terminated, policy, now, known)
    serving = replace(booting, instances=tuple(kept + fresh))
    steady = check_replacement(serving, waiting, policy, now, known)
    assert steady.pending is not None and len(steady.pending.serving_since) == len(batch)
    states["state after CheckReplacement (booting)"] = {**chosen, "progress": waiting.to_record()}
    states["state after CheckReplacement (serving, healthy_for_seconds)"] = {**chosen, "progress": steady.to_record()}

    # At convergence: every instance replaced in batches of the cap, the ledger folding old ids to counts.
    ledger = Progress.from_record(steady.to_record()).update(pending=None, batches=())
    for start in range(0, INSTANCES, MAX_BATCH):
        ledger = ledger.with_batch(tuple(known[start : start + MAX_BATCH]))
    replaced = replace(serving, instances=tuple(replace(i, version=NEW, reason=None) for i in serving.instances))
    final_ref = runtime.fleet_records().put(RELEASE_ID, "ReadVersions", replaced)
    final = select_batch({**select, "progress": ledger.to_record(), "fleet": final_ref}, None)
    assert final["progress"]["decision"]["action"] == "converged"
    outcome = map_outcome(final, final["progress"], "CONVERGED")
    states["Map outcome of the ASG"] = outcome
    states["Summarize input, 50 such ASGs"] = {
        "outcomes": [{**outcome, "asg_name": f"web{n:02d}"} for n in range(50)],
        "settings": item["settings"],
        "continuation": None,
        "execution_id": RELEASE_ID,
        "execution_name": "t",
    }

    # A dry run: the plan names the batch and then others, up to its cap, and counts the rest.
    planned = select_batch({**select, "settings": {**item["settings"], "dry_run": True}, "fleet": read}, None)
    decision = planned["progress"]["decision"]
    assert len(decision["plan"]) == PLAN_ENTRIES and decision["plan_omitted"] == INSTANCES - PLAN_ENTRIES
    states["SelectBatch output (dry run)"] = planned
    states["Map outcome of the ASG (dry run)"] = map_outcome(planned, planned["progress"], "PLANNED")

    sizes = {name: size(document) for name, document in states.items()}
    assert {name: s for name, s in sizes.items() if s > BOUND} == {}, sizes
