"""ReadVersions at fleet scale: VersionProber against 1,000 loopback endpoints.

Every endpoint answers ``GET /{id}/version`` after 50 ms; 2% never answer (they hold the connection
until the client gives up). The endpoints live in a child process, so the server's threads do not
share the prober's interpreter lock and tracemalloc sees the prober alone. Each row runs twice:
once for wall time (untraced, since tracemalloc slows threaded Python), once for peak memory.

    .venv/bin/python benchmarks/probe.py [--endpoints 1000] [--timeout 2]
"""

from __future__ import annotations

import argparse
import heapq
import multiprocessing
import pathlib
import select
import subprocess
import sys
import threading
import time
import tracemalloc
import types
from dataclasses import dataclass
from typing import Any

from _common import NEW, Stopwatch, loopback_only, note, table

from asg_terminator.loopback import LoopbackServer, QuietHandler
from tasks.adapters.version_probe import DEFAULT_CONCURRENCY, Reading, VersionProber

# The probe before issue 14 item 5 (a thread per probe in flight, waiting on its answer), read from the
# repository's history rather than kept as a copy.
BEFORE_REVISION = "519b7c0f50ecd1a4066fedd655b96020e50660cf"
PROBE_PATH = "tasks/adapters/version_probe.py"


def _probe_before() -> types.ModuleType:
    """tasks/adapters/version_probe.py at BEFORE_REVISION, imported as ``version_probe_before``."""
    root = pathlib.Path(__file__).resolve().parent.parent
    shown = subprocess.run(
        ["git", "show", f"{BEFORE_REVISION}:{PROBE_PATH}"], cwd=root, capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        raise SystemExit(f"probe.py needs the repository's history for its 'before' rows: {shown.stderr.strip()}")
    module = types.ModuleType("version_probe_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(shown.stdout, f"{BEFORE_REVISION[:7]}:{PROBE_PATH}", "exec"), module.__dict__)
    return module


_BEFORE = _probe_before()
BEFORE_CONCURRENCY: int = _BEFORE.DEFAULT_CONCURRENCY
BeforeProber: Any = _BEFORE.VersionProber

LATENCY_SECONDS = 0.05
HANG_EVERY = 50  # one endpoint in 50 (2%) never answers
HANG_LIMIT_SECONDS = 30.0  # a hanging endpoint lets go when the client closes, or after this at most
SERVER_LIFETIME_SECONDS = 300.0  # the endpoint process exits on its own even if this script dies


def hangs(index: int) -> bool:
    return index % HANG_EVERY == HANG_EVERY // 2


def instance_id(index: int) -> str:
    return f"i-{index:017x}"


def _serve(port_out: Any, stop: Any) -> None:
    """The endpoint process: one thread per connection, bound to 127.0.0.1 only."""
    hanging = {instance_id(i) for i in range(100_000) if hangs(i)}

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[1] != "version":
                self.send_error(404)
                return
            if parts[0] in hanging:
                # Never answer: wait until the client closes its end (readable EOF), bounded.
                self.close_connection = True
                select.select([self.connection], [], [], HANG_LIMIT_SECONDS)
                return
            time.sleep(LATENCY_SECONDS)
            body = NEW.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                return

    with LoopbackServer(Handler, name="probe-endpoints") as server:
        port_out.put(server.port)
        stop.wait(SERVER_LIFETIME_SECONDS)


@dataclass
class Row:
    """One prober configuration: median wall over the repetitions, the worst correct count."""

    label: str
    endpoints: int
    hanging: int
    concurrency: int
    walls: list[float]  # sorted, one per repetition
    peak_bytes: int
    correct: int
    threads: int = 0  # the most probe threads alive at once, sampled during the timed runs

    @property
    def wall(self) -> float:
        return self.walls[len(self.walls) // 2]

    def ideal(self, timeout: float) -> float:
        """The wall time of the prober's schedule with zero overhead: ``concurrency`` probes in
        flight, taken in submission order, each lasting 50 ms, or the whole timeout for a hanging
        endpoint."""
        workers = [0.0] * self.concurrency
        end = 0.0
        for index in range(self.endpoints):
            start = heapq.heappop(workers)
            finish = start + (timeout if hangs(index) else LATENCY_SECONDS)
            heapq.heappush(workers, finish)
            end = max(end, finish)
        return end

    @property
    def spread(self) -> str:
        return f"{self.walls[0]:.2f}-{self.walls[-1]:.2f}" if len(self.walls) > 1 else "-"


def urls_for(port: int, count: int) -> dict[str, str]:
    return {instance_id(i): f"http://127.0.0.1:{port}/{instance_id(i)}/version" for i in range(count)}


def correct(readings: dict[str, Reading]) -> int:
    """A reading is correct when an answering endpoint reads NEW and a hanging one times out."""
    good = 0
    for index in range(len(readings)):
        reading = readings[instance_id(index)]
        if hangs(index):
            good += reading.version is None and (reading.reason or "").startswith("timeout")
        else:
            good += reading.version == NEW
    return good


LOOPBACK = ("127.0.0.1",)  # AllowedVersionHosts: the endpoints listen there


def measure(
    label: str,
    port: int,
    count: int,
    concurrency: int,
    timeout: float,
    repeat: int,
    prober: type[VersionProber | BeforeProber] = VersionProber,
) -> Row:
    urls = urls_for(port, count)
    for left in [t for t in threading.enumerate() if t.name.startswith("probe_")]:
        left.join(timeout=timeout + 1.0)  # the last case's idle pool threads exit before this one counts
    walls, right = [], count
    threads = [0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.01):
            alive = sum(t.name.startswith("probe_") for t in threading.enumerate())
            threads[0] = max(threads[0], alive)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for _ in range(max(1, repeat)):
        with Stopwatch() as clock:
            readings = prober(timeout, concurrency=concurrency, allowed_hosts=LOOPBACK).read_all(urls)
        walls.append(clock.seconds)
        right = min(right, correct(readings))
        time.sleep(0.1)  # the abandoned threads of the hard stop, if any, let go
    sampling.set()
    sampler.join()
    tracemalloc.start()
    tracemalloc.reset_peak()
    prober(timeout, concurrency=concurrency, allowed_hosts=LOOPBACK).read_all(urls)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hanging = sum(hangs(i) for i in range(count))
    return Row(label, count, hanging, concurrency, sorted(walls), peak, right, threads[0])


def _merge(runs: list[Row]) -> Row:
    """One row from single-run rows of one case: every wall, the worst count, the largest peaks."""
    first = runs[0]
    return Row(
        first.label,
        first.endpoints,
        first.hanging,
        first.concurrency,
        sorted(w for r in runs for w in r.walls),
        max(r.peak_bytes for r in runs),
        min(r.correct for r in runs),
        max(r.threads for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--baseline-endpoints", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per concurrent row (median shown)")
    args = parser.parse_args()
    refused = loopback_only()

    context = multiprocessing.get_context("spawn")
    port_out, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(port_out, stop), name="probe-endpoints", daemon=True)
    server.start()
    try:
        port = int(port_out.get(timeout=30))
        # warm imports and the server
        VersionProber(args.timeout, concurrency=4, allowed_hosts=LOOPBACK).read_all(urls_for(port, 4))
        repeat = min(args.repeat, 10)
        # Interleaved, so the probe before and today's meet the same load on a shared machine.
        cases: list[tuple[str, int, type[VersionProber | BeforeProber]]] = [
            ("before: a thread waits", BEFORE_CONCURRENCY, BeforeProber),
            ("before: a thread waits", args.endpoints, BeforeProber),
            ("now: one selector waits", 128, VersionProber),
            ("now: one selector waits", DEFAULT_CONCURRENCY, VersionProber),
            ("now: one selector waits", 512, VersionProber),
            ("now: one selector waits", args.endpoints, VersionProber),
        ]
        runs: dict[int, list[Row]] = {n: [] for n in range(len(cases))}
        for _ in range(repeat):
            for n, (label, concurrency, prober) in enumerate(cases):
                runs[n].append(measure(label, port, args.endpoints, concurrency, args.timeout, 1, prober))
        rows = [_merge(runs[n]) for n in range(len(cases))]
        baseline = measure("sequential", port, args.baseline_endpoints, 1, args.timeout, 1)
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
            server.join(timeout=5)

    budget = args.timeout + 1.0
    scale = args.endpoints / args.baseline_endpoints
    extrapolated = baseline.wall * scale

    limit = args.timeout + LATENCY_SECONDS  # every request sent at t=0: the hanging ones end at the timeout

    def verdict(wall: float) -> str:
        return f"{wall / budget:.2f}x " + ("ok" if wall <= budget else "OVER")

    def default_for(label: str) -> int:
        return BEFORE_CONCURRENCY if label.startswith("before") else DEFAULT_CONCURRENCY

    shown = [
        [
            row.label,
            f"{row.concurrency}" + (" (default)" if row.concurrency == default_for(row.label) else ""),
            row.endpoints,
            row.hanging,
            f"{row.wall:.2f}",
            row.spread,
            f"{row.ideal(args.timeout):.2f}",
            f"{row.wall / limit:.2f}x",
            verdict(row.wall),
            f"{row.peak_bytes / 2**20:.1f}",
            row.threads,
            f"{row.correct}/{row.endpoints}",
            f"{extrapolated / row.wall:.1f}x",
        ]
        for row in rows
    ]
    shown.append(
        [
            "now",
            "1 (sequential)",
            baseline.endpoints,
            baseline.hanging,
            f"{baseline.wall:.2f}",
            "-",
            f"{baseline.ideal(args.timeout):.2f}",
            "-",
            verdict(baseline.wall),
            f"{baseline.peak_bytes / 2**20:.1f}",
            baseline.threads,
            f"{baseline.correct}/{baseline.endpoints}",
            "-",
        ]
    )
    shown.append(
        [
            "now",
            f"1, extrapolated x{scale:g}",
            args.endpoints,
            sum(hangs(i) for i in range(args.endpoints)),
            f"{extrapolated:.1f}",
            "-",
            f"{baseline.ideal(args.timeout) * scale:.1f}",
            "-",
            verdict(extrapolated),
            "-",
            "-",
            "-",
            "1.0x",
        ]
    )
    table(
        f"probe.py - VersionProber.read_all: {LATENCY_SECONDS * 1000:.0f} ms per endpoint, 1 in {HANG_EVERY} "
        f"never answers, probe timeout {args.timeout:g} s, limit = timeout + 50 ms = {limit:g} s, "
        f"budget = timeout + 1 s = {budget:g} s",
        [
            "probe",
            "concurrency",
            "endpoints",
            "hanging",
            "wall s",
            "min-max s",
            "ideal s",
            "wall/limit",
            "wall/budget",
            "peak MiB",
            "threads",
            "correct",
            "speed-up",
        ],
        shown,
        caption=(
            f"wall s: median of {args.repeat} timed runs, the cases interleaved (sequential: one run). "
            "before: the probe before issue 14 item 5 (version_probe.py at 519b7c0, from git), "
            "a thread per probe in flight "
            "waiting on its answer; now: the probe today, threads connect, send and read, one selector waits. "
            "threads: the most probe threads alive at once. "
            "concurrency: the most probes in flight (before: the pool's threads; "
            "now: connections open, and the most threads). "
            "ideal s: the schedule of `concurrency` probes in flight taken in submission order "
            "with zero overhead, simulated. speed-up: sequential wall extrapolated to "
            f"{args.endpoints} endpoints / this row's wall. peak MiB: tracemalloc peak of a separate traced run "
            "(the prober alone; the endpoints run in a child process). correct: answering endpoints read "
            f"{NEW}, hanging ones report a timeout."
        ),
    )
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
