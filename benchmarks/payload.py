"""Step payload sizes for a 2,000-instance ASG, against the 200 KiB target and Step Functions' 256 KiB.

The records are the production ones: Discover, SelectBatch and Terminate run as the real handlers
against moto; ReadVersions is the production ``read_versions`` with a prober that answers the old
version for every URL without any network; CheckReplacement's result is the domain's
``check_replacement`` on the fleet read just after the Terminate (replacements booting, HTTP 503).
Nothing is changed: this measures and reports.

    .venv/bin/python benchmarks/payload.py [--instances 2000] [--max-batch 100]
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from _common import NEW, OLD, REGION, fake_aws_environment, loopback_only, note, table

from asg_terminator.paths import RELEASE_ASL

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tasks.adapters.version_probe import Reading, VersionProber

TARGET_BYTES = 200 * 1024
LIMIT_BYTES = 256 * 1024  # Step Functions: a state's input or output, UTF-8, at most 256 KiB
MAX_ASGS = 50  # asg_names allows 1 to 50


def size(document: Any) -> int:
    """UTF-8 bytes of compact JSON: the smallest form the payload can take."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class EveryoneOld:
    """Stands in for the version prober: every URL answers the old version, and no request is made."""

    def read_all(self, urls: Mapping[str, str]) -> dict[str, Reading]:
        from tasks.adapters.version_probe import Reading

        return {instance_id: Reading(OLD, None) for instance_id in urls}


def records(name: str, settings: dict[str, Any], real_terminate: bool) -> list[tuple[str, Any, bool]]:
    """(label, record, carries the fleet) for every payload of one loop, in the order the ASL sees them.

    With ``real_terminate`` the Terminate handler runs in moto and CheckReplacement's fleet is read
    from moto. Without it (a batch of ~2,000 costs moto minutes), the Terminate output is the
    production ``begin_replacement`` the handler returns when every id is still in the group, and the
    replacements are the terminated instances' records under fresh ids.
    """
    from tasks import contracts, runtime
    from tasks.adapters.fleet_reader import read_versions
    from tasks.domain.fleet import Fleet, Progress
    from tasks.domain.release import Policy, begin_replacement, check_replacement, decide
    from tasks.handlers import discover, lock_asg, select_batch, terminate

    empty_progress = Progress().to_record()
    discovered = discover.handler({"asg_name": name, "version_url": settings["version_url"]}, None)

    fleet = Fleet.from_record(discovered)
    read = read_versions(fleet, cast("VersionProber", EveryoneOld())).to_record()
    contracts.check("read_versions.output", read, AssertionError, "ReadVersions output")

    release_id = f"arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:{name}"
    carried = {"asg_name": name, "release_id": release_id, "settings": settings}
    select_input = {**carried, "fleet": read, "progress": empty_progress}
    # SelectBatch's output is the ASG's state from then on: the fleet read is not carried.
    state = select_batch.handler(select_input, None)
    selected = state["progress"]

    terminate_input = {"asg_name": name, "release_id": release_id, "progress": selected}
    batch = set(selected["decision"]["batch"])
    if real_terminate:
        lock_asg.handler({"asg_name": name, "release_id": release_id, "takes_over": None, "settings": settings}, None)
        terminated = terminate.handler(terminate_input, None)
        after = runtime.fleet_reader().discover(name, settings["version_url"])
    else:
        now = runtime.now()
        terminated = begin_replacement(Progress.from_record(selected), sorted(batch), now).to_record()
        contracts.check("terminate.output", terminated, AssertionError, "Terminate output")
        kept = [i for i in fleet.instances if i.id not in batch]
        fresh = [
            replace(i, id=f"i-{0xF0000000000000000 + n:017x}")
            for n, i in enumerate(i for i in fleet.instances if i.id in batch)
        ]
        after = replace(fleet, instances=tuple(kept + fresh))
    check_input = {"asg_name": name, "progress": terminated, "settings": settings}

    # The read CheckReplacement makes next: the batch is gone, its replacements are still booting.
    known = set(terminated["pending"]["known_ids"])
    after = replace(
        after,
        instances=tuple(
            replace(i, reason="HTTP 503") if i.id not in known else replace(i, version=OLD) for i in after.instances
        ),
    )
    checked = check_replacement(
        after, Progress.from_record(terminated), Policy.from_settings(settings), runtime.now()
    ).to_record()
    contracts.check("check_replacement.output", checked, AssertionError, "CheckReplacement output")
    polling_state = {**state, "progress": checked}

    # At convergence every original instance has been terminated in some batch of this size, each
    # recorded as Terminate records it (the ledger keeps the recent ids and counts the rest).
    step = max(1, len(batch))
    originals = [i.id for i in fleet.instances]
    ledger = Progress.from_record(checked).update(pending=None, batches=())
    for k in range(0, len(originals), step):
        ledger = ledger.with_batch(tuple(originals[k : k + step]))
    converged_fleet = replace(after, instances=tuple(replace(i, version=NEW, reason=None) for i in after.instances))
    final = decide(converged_fleet, ledger, Policy.from_settings(settings), runtime.now()).to_record()
    # The Map's output: what the AsgConverged state carries of the ledger (read from the definition).
    machine = json.loads(RELEASE_ASL.read_text())
    selection = machine["States"]["ReleaseEachAsg"]["ItemProcessor"]["States"]["AsgConverged"]["Parameters"]
    carried_ledger = {
        k.removesuffix(".$"): final[v.removeprefix("$.progress.")] for k, v in selection["progress"].items()
    }
    outcome = {"asg_name": name, "status": "CONVERGED", "progress": carried_ledger, "release_id": release_id}
    outcomes = [{**outcome, "asg_name": f"{name}_{n:02d}"} for n in range(MAX_ASGS)]
    summarize_input = {
        "outcomes": outcomes,
        "settings": settings,
        "continuation": None,
        "execution_id": release_id,
        "execution_name": name,
    }

    return [
        ("Discover output (fleet)", discovered, True),
        ("ReadVersions input", {"fleet": discovered, "probe_timeout_seconds": settings["probe_timeout_seconds"]}, True),
        ("ReadVersions output (fleet, versions read)", read, True),
        ("SelectBatch input", select_input, True),
        ("SelectBatch output = per-ASG state after it (no fleet)", state, False),
        ("Terminate input", terminate_input, False),
        ("Terminate output (progress + pending)", terminated, False),
        ("CheckReplacement input", check_input, False),
        ("CheckReplacement output (replacements booting)", checked, False),
        ("per-ASG state while polling", polling_state, True),
        ("Map outcome of 1 ASG at convergence (recent ids, counts)", outcome, False),
        (f"Summarize input: {MAX_ASGS} such ASGs (the Map's output)", summarize_input, False),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--max-batch", type=int, default=100, help="the second column's max_batch")
    args = parser.parse_args()

    refused = loopback_only()
    fake_aws_environment()
    import logging

    import boto3
    from moto import mock_aws

    from asg_terminator.fleet import create_asg
    from tasks import contracts, runtime

    logging.getLogger("asg_terminator").setLevel(logging.WARNING)
    defaults = contracts.defaults("validate_input.input")
    variants = {
        "defaults (max_batch null)": {**defaults, "target_version": NEW},
        f"max_batch {args.max_batch}": {**defaults, "target_version": NEW, "max_batch": args.max_batch},
    }
    measured: dict[str, list[tuple[str, Any, bool]]] = {}
    with mock_aws():
        import boto3

        from asg_terminator import stack

        os.environ["LEASE_TABLE"] = stack.create_lease_table(boto3.client("dynamodb", region_name=REGION))
        os.environ["ALLOWED_VERSION_HOSTS"] = "127.0.0.1"  # the simulator's version URLs, as local up sets it
        runtime.settings.cache_clear()
        runtime.leases.cache_clear()
        runtime.autoscaling.cache_clear()
        runtime.fleet_reader.cache_clear()
        autoscaling, ec2 = boto3.client("autoscaling", region_name=REGION), boto3.client("ec2", region_name=REGION)
        name = "live_asg_bench"
        create_asg(autoscaling, ec2, name, args.instances, max_size=args.instances * 2)
        # The defaults first: that variant changes nothing in moto; the max_batch one really terminates.
        for label, settings in variants.items():
            measured[label] = records(name, settings, real_terminate=settings["max_batch"] is not None)

    labels = list(variants)
    rows = []
    for position, (record_label, _, carries_fleet) in enumerate(measured[labels[0]]):
        sizes = [size(measured[label][position][1]) for label in labels]
        worst = max(sizes)
        fits = math.floor(args.instances * LIMIT_BYTES / worst) if carries_fleet else None
        rows.append(
            [
                record_label,
                *(f"{s / 1024:.1f}" for s in sizes),
                "ok" if worst <= TARGET_BYTES else "OVER",
                "ok" if worst <= LIMIT_BYTES else "OVER",
                f"{worst / args.instances:.0f}",
                f"~{fits}" if fits is not None else "-",
            ]
        )
    batch_sizes = [
        len(
            next(r for lbl, r, _ in measured[label] if lbl.startswith("SelectBatch output"))["progress"]["decision"][
                "batch"
            ]
        )
        for label in labels
    ]
    table(
        f"payload.py - JSON size of each step's record, one ASG of {args.instances} instances (KiB, compact UTF-8)",
        [
            "record",
            *(f"{label}\nbatch {n}" for label, n in zip(labels, batch_sizes, strict=True)),
            "200 KiB target",
            "256 KiB limit",
            "bytes/instance",
            "instances that fit 256 KiB",
        ],
        rows,
        caption=(
            "Discover, SelectBatch and (max_batch column) Terminate: the real handlers against moto. Defaults column: "
            "Terminate output from the production begin_replacement (what the handler returns when every id is still "
            "in the group), replacements = the terminated records under fresh ids. "
            "Sizes are compact JSON (no spaces): the smallest form; any whitespace only adds. Target and limit are "
            "judged on the larger column. instances that fit: linear estimate for records carrying the fleet. "
            "version_url is the default template (http://{PrivateIpAddress}:80/version), rendered with moto's "
            "10.x addresses and never requested."
        ),
    )
    biggest = max((r for r in measured[labels[0]]), key=lambda r: size(r[1]))
    fleet_record = measured[labels[0]][0][1]
    per_field = {
        key: sum(size(i[key]) + len(key) + 4 for i in fleet_record["instances"]) for key in fleet_record["instances"][0]
    }
    table(
        "where a fleet record's bytes go (Discover output, per instance field, summed over the fleet)",
        ["field", "example", "KiB", "share"],
        [
            [
                key,
                json.dumps(fleet_record["instances"][0][key])[:60],
                f"{b / 1024:.1f}",
                f"{b / size(fleet_record):.0%}",
            ]
            for key, b in sorted(per_field.items(), key=lambda kv: -kv[1])
        ],
        left=2,
    )
    note(f"largest record: {biggest[0]} ({size(biggest[1]) / 1024:.1f} KiB with defaults)")
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
