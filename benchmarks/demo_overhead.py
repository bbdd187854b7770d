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


def run(instances: int, max_batch: int, boot: float) -> dict[str, float | int | str]:
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
    slowest = max(r["duration_seconds"] for r in reports)
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=30)
    parser.add_argument("--max-batch", type=int, default=10)
    parser.add_argument("--boot", type=float, default=3.0)
    args = parser.parse_args()
    row = run(args.instances, args.max_batch, args.boot)
    table(
        "demo_overhead.py - local end to end release (moto interpreter, real handlers, simulated fleet)",
        list(row),
        [list(row.values())],
        caption="overhead ratio = the slowest ASG's release time / (batches x boot time); poll_seconds 1",
    )


if __name__ == "__main__":
    main()
