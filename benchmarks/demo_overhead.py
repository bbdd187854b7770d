"""The local end to end release: 2 ASGs x 30 instances, batches of 10, against the ideal.

The ideal is batches x boot time: a release can go no faster than one boot per batch, since each
batch waits for its replacements to serve the new build. The ratio says what the state machine,
its polling and the handlers add on top (poll_seconds is 1 here, as in the demo).

Runs `asg-terminator demo --json` in a fresh process (the local stack, the fleet simulator and
the release all on 127.0.0.1) and reads the execution's own timings from its summary.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import table

ROOT = Path(__file__).resolve().parent.parent


def run(instances: int, max_batch: int, boot: float) -> tuple[dict[str, float | int | str], list[list[object]]]:
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "asg_terminator.cli",
                "demo",
                "--asgs",
                "web,api",
                "--instances",
                str(instances),
                "--boot-seconds",
                str(boot),
                "--min-healthy",
                "0",
                "--max-batch",
                str(max_batch),
                "--json",
                "--html",
                str(Path(scratch) / "history.html"),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
            check=True,
        )
    summary = json.loads(done.stdout)
    reports = summary["output"]["asgs"]
    batches = max(r["batch_count"] for r in reports)
    ideal = batches * boot
    slowest_report = max(reports, key=lambda r: r["duration_seconds"])
    slowest = slowest_report["duration_seconds"]
    name = slowest_report["asg_name"]
    return {
        "instances": f"2 x {instances}",
        "max_batch": max_batch,
        "boot s": boot,
        "batches": batches,
        "ideal s": ideal,
        "ASG release s (slowest)": round(slowest, 1),
        "execution s": summary["duration_seconds"],
        "overhead ratio": round(slowest / ideal, 2) if ideal else math.nan,
        "transitions": summary["state_transitions"],
    }, breakdown(summary["seconds_in_states"][name], summary["asg_seconds"][name], ideal)


def breakdown(spent: dict[str, float], release: float, ideal: float) -> list[list[object]]:
    """Where the slowest ASG's release went (``release``: from its first state entered to its last
    left, so LockAsg and the first read too), state by state, longest first; what no state holds is
    the time between states (the interpreter's transitions)."""
    rows: list[list[object]] = [
        [state, f"{seconds:.2f}", f"{seconds / release:.0%}", f"{seconds / ideal:.2f}" if ideal else "-"]
        for state, seconds in sorted(spent.items(), key=lambda item: -item[1])
    ]
    between = release - sum(spent.values())
    rows.append(["(between states)", f"{between:.2f}", f"{between / release:.0%}", f"{between / ideal:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=30)
    parser.add_argument("--max-batch", type=int, default=10)
    parser.add_argument("--boot", type=float, default=3.0)
    args = parser.parse_args()
    row, states = run(args.instances, args.max_batch, args.boot)
    table(
        "demo_overhead.py - local end to end release (moto interpreter, real handlers, simulated fleet)",
        list(row),
        [list(row.values())],
        caption="overhead ratio = the slowest ASG's release time / (batches x boot time); poll_seconds 1",
    )
    table(
        "where the slowest ASG's release went",
        ["state", "seconds", "share", "x ideal"],
        states,
        caption="seconds: summed over the state's runs (a Wait's is its sleep), share: of the ASG's first state "
        "entered to its last left; x ideal: seconds / (batches x boot)",
    )


if __name__ == "__main__":
    main()
