"""Step payload sizes for a 2,000-instance ASG, against the 200 KiB target and Step Functions' 256 KiB.

The records are the production ones: Discover, SelectBatch and Terminate run as the real handlers
against moto; ReadVersions' readings are faked without any network (every instance read at the
old version, set on the domain's Instance records); CheckReplacement's result is the domain's
``check_replacement`` on the fleet read just after the Terminate (replacements booting, HTTP 503).
Nothing is changed: this measures and reports.

    .venv/bin/python benchmarks/payload.py [--instances 2000] [--max-batch 100]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from typing import Any

from _common import NEW, OLD, REGION, fake_aws_environment, loopback_only, note, table

TARGET_BYTES = 200 * 1024
LIMIT_BYTES = 256 * 1024  # Step Functions: a state's input or output, UTF-8, at most 256 KiB


def size(document: Any) -> int:
    """UTF-8 bytes of compact JSON: the smallest form the payload can take."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def records(name: str, settings: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(label, record, carries the fleet) for every payload of one loop, in the order the ASL sees them."""
    from tasks import contracts, runtime
    from tasks.domain.fleet import Fleet, Progress
    from tasks.domain.release import Policy, check_replacement, decide
    from tasks.handlers import discover, select_batch, terminate

    empty_progress = Progress().to_record()
    discovered = discover.handler({"asg_name": name, "version_url": settings["version_url"]}, None)

    fleet = Fleet.from_record(discovered)
    read = replace(fleet, instances=tuple(replace(i, version=OLD) for i in fleet.instances)).to_record()
    contracts.check("read_versions.output", read, AssertionError, "faked ReadVersions output")

    select_input = {"fleet": read, "progress": empty_progress, "settings": settings}
    selected = select_batch.handler(select_input, None)
    state = {"asg_name": name, "settings": settings, "progress": selected, "fleet": read}

    terminate_input = {"asg_name": name, "progress": selected}
    terminated = terminate.handler(terminate_input, None)
    check_input = {"asg_name": name, "progress": terminated, "settings": settings}

    # The read CheckReplacement makes next: the batch is gone, its replacements are still booting.
    after = runtime.fleet_reader().discover(name, settings["version_url"])
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
    polling_state = {**state, "progress": checked}

    converged_fleet = replace(after, instances=tuple(replace(i, version=NEW, reason=None) for i in after.instances))
    final = decide(
        converged_fleet, Progress.from_record(checked).update(pending=None), Policy.from_settings(settings), runtime.now()
    ).to_record()
    outcome = {"asg_name": name, "status": "CONVERGED", "progress": final}

    return [
        ("Discover output (fleet)", discovered, True),
        ("ReadVersions input", {"fleet": discovered, "probe_timeout_seconds": settings["probe_timeout_seconds"]}, True),
        ("ReadVersions output (fleet, versions read)", read, True),
        ("SelectBatch input", select_input, True),
        ("SelectBatch output (progress + decision)", selected, False),
        ("per-ASG state after SelectBatch", state, True),
        ("Terminate input", terminate_input, False),
        ("Terminate output (progress + pending)", terminated, False),
        ("CheckReplacement input", check_input, False),
        ("CheckReplacement output (replacements booting)", checked, False),
        ("per-ASG state while polling", polling_state, True),
        ("Map outcome / Summarize input, 1 ASG", {"outcomes": [outcome]}, False),
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
        runtime.autoscaling.cache_clear()
        runtime.fleet_reader.cache_clear()
        autoscaling, ec2 = boto3.client("autoscaling", region_name=REGION), boto3.client("ec2", region_name=REGION)
        for index, (label, settings) in enumerate(variants.items()):
            name = f"live_asg_bench_{index}"
            create_asg(autoscaling, ec2, name, args.instances, max_size=args.instances * 2)
            measured[label] = records(name, settings)

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
        len(next(r for lbl, r, _ in measured[label] if lbl.startswith("SelectBatch output"))["decision"]["batch"])
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
            "Sizes are compact JSON (no spaces): the smallest form; any whitespace only adds. Target and limit are judged "
            "on the larger column. instances that fit: linear estimate for records carrying the fleet. version_url is the "
            "default template (http://{PrivateIpAddress}:80/version), rendered with moto's 10.x addresses and never "
            "requested."
        ),
    )
    biggest = max((r for r in measured[labels[0]]), key=lambda r: size(r[1]))
    fleet_record = measured[labels[0]][0][1]
    per_field = {
        key: sum(size(i[key]) + len(key) + 4 for i in fleet_record["instances"]) for key in fleet_record["instances"][0]
    }
    table(
        "where a fleet record's bytes go (Discover output, per instance field, summed over the fleet)",
        ["field", "KiB", "share", "example"],
        [
            [key, f"{b / 1024:.1f}", f"{b / size(fleet_record):.0%}", str(fleet_record["instances"][0][key])[:60]]
            for key, b in sorted(per_field.items(), key=lambda kv: -kv[1])
        ],
    )
    note(f"largest record: {biggest[0]} ({size(biggest[1]) / 1024:.1f} KiB with defaults)")
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
