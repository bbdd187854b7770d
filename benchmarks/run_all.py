"""Run every benchmark, one fresh process each, and print how long each took.

    .venv/bin/python benchmarks/run_all.py [--only probe,payload] [--timeout 240]

Each script prints its own tables as it finishes. A script that outruns its timeout is stopped (its
whole process group: the probe endpoints and transitions' per-row processes with it) and reported.
Nothing here asserts on a number; the exit code is non-zero only when a script failed to run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from _common import console, table

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "probe",
    "transitions",
    "api_calls",
    "lease",
    "terminate",
    "payload",
    "cold_start",
    "demo_overhead",
    "boot_limit",
)


def run(name: str, timeout: float) -> tuple[str, float]:
    console.rule(f"benchmarks/{name}.py")
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(HERE / f"{name}.py")], cwd=HERE.parent, start_new_session=True)
    try:
        code = process.wait(timeout=timeout)
        outcome = "ok" if code == 0 else f"exit {code}"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group this call started, and only it
        process.wait(timeout=10)
        outcome = f"stopped after {timeout:.0f} s"
    return outcome, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset, in this order")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per script before it is stopped")
    args = parser.parse_args()
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    results = [(name, *run(name, args.timeout)) for name in chosen]
    console.rule("summary")
    table(
        "run_all.py",
        ["benchmark", "outcome", "seconds"],
        [[f"benchmarks/{name}.py", outcome, f"{seconds:.0f}"] for name, outcome, seconds in results]
        + [["total", "", f"{sum(s for _, _, s in results):.0f}"]],
        text_columns=(1,),
    )
    sys.exit(0 if all(outcome == "ok" for _, outcome, _ in results) else 1)


if __name__ == "__main__":
    main()
