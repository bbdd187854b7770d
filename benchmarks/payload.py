"""Every state's payload for one ASG of 10,000 instances, against a 64 KiB target and Step Functions' 256 KiB.

The fleet travels by key: Discover and ReadVersions store each read in the stack's fleet bucket (a
claim check, tasks/adapters/s3.py) and pass a ``fleet_ref``, so the first table shows the states and
the second what the bucket holds. ValidateInput, ReadVersions (probing every instance on loopback)
and SelectBatch run as the real handlers against moto; Discover's read is stored by the same
``FleetRecords.put`` its handler calls (moto's DescribeInstances takes about 75 s for 10,000 ids:
benchmarks/large_asg.py runs the whole release with it); Terminate's and CheckReplacement's outputs
are the domain functions their handlers return. tests/functional/test_payload_bounds.py asserts the
same bound on the same states. Nothing is changed: this measures and reports.

    .venv/bin/python benchmarks/payload.py [--instances 10000]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from typing import Any

from _common import NEW, OLD, REGION, fake_aws_environment, loopback_only, note, table

from asg_terminator.loopback import LoopbackServer, QuietHandler
from asg_terminator.paths import RELEASE_ASL

TARGET_BYTES = 64 * 1024
LIMIT_BYTES = 256 * 1024  # Step Functions: a state's input or output, UTF-8, at most 256 KiB
MAX_ASGS = 50  # asg_names allows 1 to 50
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:payload"


def size(document: Any) -> int:
    """UTF-8 bytes of compact JSON: the smallest form the payload can take."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class _Old(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        body = OLD.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def ids(count: int, start: int = 0) -> list[str]:
    return [f"i-{0x0A000000000000000 + n:017x}" for n in range(start, start + count)]


def states(instances: int, port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(label -> state as the ASL builds it, label -> record the bucket holds)."""
    from tasks import runtime
    from tasks.domain.decide import MAX_BATCH
    from tasks.domain.fleet import Fleet, Instance, Progress
    from tasks.domain.policy import Policy
    from tasks.domain.replacement import begin_replacement, check_replacement
    from tasks.handlers import read_versions, select_batch, validate_input

    measured: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    given = {"asg_names": ["web"], "target_version": NEW, "version_url": "http://127.0.0.1:8080/{InstanceId}/version"}
    release = validate_input.handler(given, None)
    item = {**release["asgs"][0], "settings": release["settings"], "release_id": RELEASE_ID}
    measured["ValidateInput output"] = release
    seen = Fleet(
        "web",
        instances,
        0,
        2 * instances,
        tuple(
            Instance(id=i, az=ZONES[n % 3], url=f"http://127.0.0.1:{port}/{i}/version")
            for n, i in enumerate(ids(instances))
        ),
    )
    records = runtime.fleet_records()
    fleet = records.put(RELEASE_ID, "Discover", seen)
    stored["Discover's record (with URLs)"] = records.read(fleet).fleet.to_record()
    measured["state after Discover"] = {**item, "fleet": fleet}
    read = read_versions.handler({"fleet": fleet, "probe_timeout_seconds": 10}, None)
    stored["ReadVersions' record (versions, no URLs)"] = records.read(read).fleet.to_record()
    measured["state after ReadVersions"] = {**item, "fleet": read}
    select = {k: item[k] for k in ("asg_name", "release_id", "settings", "progress")}
    measured["SelectBatch input"] = {**select, "fleet": read}
    chosen = select_batch.handler({**select, "fleet": read}, None)
    measured["SelectBatch output (a batch of the cap)"] = chosen
    batch = chosen["progress"]["decision"]["batch"]
    measured["Drain output"] = {"instance_ids": batch, "target_groups": 0, "seconds": 0}

    now = runtime.now()
    terminated = begin_replacement(Progress.from_record(chosen["progress"]), batch, now)
    measured["state after Terminate"] = {**chosen, "progress": terminated.to_record()}
    known = [i.id for i in seen.instances]
    kept = [replace(i, url=None, version=OLD) for i in seen.instances if i.id not in set(batch)]
    fresh = [Instance(id=i, az=ZONES[n % 3], version=NEW) for n, i in enumerate(ids(len(batch), start=instances))]
    policy = Policy.from_settings({**item["settings"], "healthy_for_seconds": 60})
    booting = replace(seen, instances=tuple(kept + [replace(i, version=None, reason="HTTP 503") for i in fresh]))
    waiting = check_replacement(booting, terminated, policy, now, known)
    steady = check_replacement(replace(seen, instances=tuple(kept + fresh)), waiting, policy, now, known)
    measured["state after CheckReplacement (booting)"] = {**chosen, "progress": waiting.to_record()}
    measured["... (serving, healthy_for_seconds: a timestamp each)"] = {**chosen, "progress": steady.to_record()}

    ledger = Progress.from_record(steady.to_record()).update(pending=None, batches=())
    for start in range(0, instances, MAX_BATCH):
        ledger = ledger.with_batch(tuple(known[start : start + MAX_BATCH]))
    done = replace(seen, instances=tuple(Instance(id=i.id, az=i.az, version=NEW) for i in seen.instances))
    final = select_batch.handler(
        {**select, "progress": ledger.to_record(), "fleet": records.put(RELEASE_ID, "ReadVersions", done)}, None
    )
    machine = json.loads(RELEASE_ASL.read_text())
    selection = machine["States"]["ReleaseEachAsg"]["ItemProcessor"]["States"]["AsgConverged"]["Parameters"]
    carried = {
        k.removesuffix(".$"): final["progress"][v.removeprefix("$.progress.")] for k, v in selection["progress"].items()
    }
    outcome = {"asg_name": "web", "status": "CONVERGED", "progress": carried, "release_id": RELEASE_ID}
    measured["Map outcome of the ASG at convergence"] = outcome
    measured[f"Summarize input: {MAX_ASGS} such ASGs"] = {
        "outcomes": [{**outcome, "asg_name": f"web{n:02d}"} for n in range(MAX_ASGS)],
        "settings": item["settings"],
        "continuation": None,
        "execution_id": RELEASE_ID,
        "execution_name": "payload",
    }
    planned = select_batch.handler({**select, "settings": {**item["settings"], "dry_run": True}, "fleet": read}, None)
    measured["SelectBatch output (dry run: 100 plan entries)"] = planned
    return measured, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    args = parser.parse_args()

    refused = loopback_only()
    fake_aws_environment()
    import logging

    import boto3
    from moto import mock_aws

    from asg_terminator import stack
    from tasks import runtime

    logging.getLogger("asg_terminator").setLevel(logging.WARNING)
    with LoopbackServer(_Old) as server, mock_aws():
        os.environ["LEASE_TABLE"] = stack.create_lease_table(boto3.client("dynamodb", region_name=REGION))
        os.environ["FLEET_BUCKET"] = stack.create_fleet_bucket(boto3.client("s3", region_name=REGION))
        os.environ["ALLOWED_VERSION_HOSTS"] = "127.0.0.1"
        runtime.cold_start()
        measured, stored = states(args.instances, server.port)

    rows = []
    for label, document in measured.items():
        n = size(document)
        rows.append(
            [label, f"{n / 1024:.1f}", "ok" if n <= TARGET_BYTES else "OVER", "ok" if n <= LIMIT_BYTES else "OVER"]
        )
    table(
        f"payload.py - JSON size of each state, one ASG of {args.instances} instances (KiB, compact UTF-8)",
        ["state", "KiB", "64 KiB target", "256 KiB limit"],
        rows,
        caption=(
            "Built as the ASL builds each state (Parameters, ResultPath); the defaults (max_batch null, so the "
            "batch is the cap of 500), healthy_for_seconds 60 for the polling state. Compact JSON: any "
            "whitespace only adds."
        ),
    )
    table(
        "what the fleet bucket holds instead (one object per read, expired by the bucket's lifecycle rule)",
        ["record", "KiB", "bytes/instance"],
        [[label, f"{size(r) / 1024:.1f}", f"{size(r) / args.instances:.0f}"] for label, r in stored.items()],
    )
    biggest = max(measured, key=lambda label: size(measured[label]))
    note(f"largest state: {biggest} ({size(measured[biggest]) / 1024:.1f} KiB)")
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
