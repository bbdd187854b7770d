"""``python -m asg_terminator.simulation``: run seeded cases, write their counts, show a failing one.

    python -m asg_terminator.simulation --cases 10000 --stats artifacts/simulation-stats.json
    python -m asg_terminator.simulation --seed 4711          # one case, its trace step by step

The case count defaults to ``ASG_TERMINATOR_SIMULATION_CASES`` (else 10,000). Exit status 1 when
an invariant broke: the first failing seed is shrunk and its trace printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from asg_terminator.simulation import engine, shrink

DEFAULT_CASES = 10_000
CONTRACTS_EVERY = 20  # every step's input and output schema-checked in one case in this many


def cases_wanted(environ: dict[str, str] | os._Environ[str]) -> int:
    return int(environ.get("ASG_TERMINATOR_SIMULATION_CASES") or DEFAULT_CASES)


def run_range(first: int, count: int, findings: frozenset[str], every: int) -> tuple[Counter[str], list[int]]:
    """Run seeds first..first+count-1; their summed counts and the seeds that broke an invariant."""
    logging.getLogger("asg_terminator").setLevel(logging.CRITICAL)
    total: Counter[str] = Counter()
    failing = []
    for seed in range(first, first + count):
        checked = every > 0 and seed % every == 0
        result = engine.run(seed, findings=findings, contracts=checked)
        total.update(result.stats)
        total["cases with contracts checked"] += int(checked)
        if result.failed:
            failing.append(seed)
    return total, failing


def run_all(
    count: int, first: int = 0, processes: int = 2, findings: frozenset[str] = frozenset(), every: int = 20
) -> tuple[Counter[str], list[int]]:
    processes = max(1, min(processes, count))
    share = -(-count // processes)
    ranges = [(first + n * share, min(share, count - n * share)) for n in range(processes) if count > n * share]
    total: Counter[str] = Counter()
    failing: list[int] = []
    if processes == 1:
        parts = [run_range(start, size, findings, every) for start, size in ranges]
    else:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            futures = [pool.submit(run_range, start, size, findings, every) for start, size in ranges]
            parts = [f.result() for f in futures]
    for counted, failed in parts:
        total.update(counted)
        failing.extend(failed)
    return total, sorted(failing)


def stats_record(total: Counter[str], failing: list[int], first: int, seconds: float) -> dict[str, object]:
    """artifacts/simulation-stats.json: the issue's fields first (cases, steps, faults by kind, releases
    converged, failed safely, stopped and cleaned up), then what else was counted."""
    faults = {k.removeprefix("fault "): v for k, v in sorted(total.items()) if k.startswith("fault ")}
    return {
        "cases": total["cases"],
        "steps": total["steps"],
        "faults": faults,
        "releases": total["releases"],
        "releases converged": total["releases converged"],
        "releases failed safely": total["releases failed safely"],
        "releases stopped and cleaned up": total["releases stopped and cleaned up"],
        "asg outcomes": {k.removeprefix("asg "): v for k, v in sorted(total.items()) if k.startswith("asg ")},
        "errors": {k.removeprefix("error "): v for k, v in sorted(total.items()) if k.startswith("error ")},
        "cases with contracts checked": total["cases with contracts checked"],
        "cases cut short": total["cases cut short"],
        "cases with violations": total["cases with violations"],
        "failing seeds": failing[:20],
        "seeds": [first, first + total["cases"] - 1],
        "seconds": round(seconds, 1),
    }


def show(result: engine.Result) -> None:
    print(f"seed {result.seed}: {len(result.draws)} draws, {result.steps} steps")
    for line in result.trace:
        print(line)
    for violation in result.violations:
        print(f"VIOLATION {violation}")
    print(f"replay: python -m asg_terminator.simulation --seed {result.seed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asg_terminator.simulation", description=__doc__)
    parser.add_argument("--cases", type=int, default=cases_wanted(os.environ))
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--stats", type=Path, help="where to write the counts (JSON)")
    parser.add_argument("--seed", type=int, help="run this one case and print its trace")
    parser.add_argument("--contracts-every", type=int, default=CONTRACTS_EVERY)
    parser.add_argument("--finding", action="append", default=[], choices=sorted(engine.FINDINGS))
    parser.add_argument("--no-shrink", action="store_true")
    args = parser.parse_args(argv)
    findings = frozenset(args.finding)
    logging.getLogger("asg_terminator").setLevel(logging.CRITICAL)
    if args.seed is not None:
        result = engine.run(args.seed, trace=True, findings=findings)
        show(result)
        return 1 if result.failed else 0
    started = time.monotonic()
    total, failing = run_all(args.cases, args.first_seed, args.processes, findings, args.contracts_every)
    record = stats_record(total, failing, args.first_seed, time.monotonic() - started)
    if args.stats:
        args.stats.parent.mkdir(parents=True, exist_ok=True)
        args.stats.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: record[k] for k in list(record)[:8]}, indent=None))
    if not failing:
        return 0
    first = engine.run(failing[0], trace=True, findings=findings)
    if not args.no_shrink:
        first = shrink.shrink(first, findings)
        print(f"shrunk seed {failing[0]} to {len(first.draws)} draws")
    show(first)
    return 1


if __name__ == "__main__":
    sys.exit(main())
