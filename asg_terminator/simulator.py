"""A simulated fleet: serves ``GET /{InstanceId}/version`` on loopback for every instance of the ASGs.

Instances that existed before a build was published keep serving the build they booted with;
instances that appear later (the ASG's replacements) serve the newest published build once their
boot time has passed, and HTTP 503 until then. Faults can be injected per share of replacements
or per instance. The simulator never connects anywhere: it only answers on 127.0.0.1 (and, with a
``MetricsPlan``, publishes each serving instance's metrics through the CloudWatch client it is given,
which points at moto or the local stack).
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from asg_terminator.loopback import LoopbackServer, QuietHandler

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from http.server import BaseHTTPRequestHandler

HEALTHY = "healthy"
NEVER_BOOTS = "never-boots"  # HTTP 503 forever
HANGS = "hangs"  # accepts, never answers within any probe timeout
DEAD = "dead"  # closes the connection without a response
SLOW = "slow"  # answers correctly after `slow_seconds`
WRONG_VERSION = "wrong-version"  # boots with `wrong_version`
GARBAGE = "garbage"  # answers 200 with a body that is no version
HUGE = "huge"  # answers 200 with a body far over the cap
BOOTS_LATE = "boots-late"  # boots `late_seconds` after the usual boot time
FAULTS = (HEALTHY, NEVER_BOOTS, HANGS, DEAD, SLOW, WRONG_VERSION, GARBAGE, HUGE, BOOTS_LATE)


@dataclass(frozen=True)
class SimInstance:
    version: str
    ready_at: float
    fault: str = HEALTHY


@dataclass
class FaultPlan:
    """Shares (0..1) of new instances that get each fault, drawn from a seeded generator."""

    shares: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 1.0
    late_seconds: float = 2.0
    wrong_version: str = "0.0.0"
    seed: int = 0
    broken_builds: tuple[str, ...] = ()  # instances booting one of these never answer (never-boots)

    def draw(self, rng: random.Random) -> str:
        roll = rng.random()
        for fault, share in self.shares.items():
            if roll < share:
                return fault
            roll -= share
        return HEALTHY


LATENCY, ERRORS = "Latency", "Errors"
HEALTHY_BUILD, DEGRADED_BUILD = "healthy", "degraded"  # the `simulate`/`demo` choices (--new-build)
DEGRADED_LATENCY = 3.0  # a degraded build answers 3x slower
PUT_PAGE = 1000  # PutMetricData takes at most 1,000 datapoints


@dataclass
class MetricsPlan:
    """Per-instance metrics published every ``interval`` seconds for every instance that serves, with
    the dimension InstanceId, as EMF or the CloudWatch agent would: ``Latency`` (milliseconds, log-normal
    around ``latency_ms``) and ``Errors`` (a count: 1 with the build's error rate, else 0). A build
    named in ``latency_factors`` is that many times slower; in ``error_rates``, errs that often. With
    ``baseline_build``, every other build is ``new_build_factor`` times slower (a build uploaded later,
    whatever its version)."""

    namespace: str = "App"
    latency_ms: float = 100.0
    jitter: float = 0.05  # the log-normal's sigma: ~5 % spread, so a 10 % tolerance is 3 medians' spreads away
    latency_factors: dict[str, float] = field(default_factory=dict)
    error_rates: dict[str, float] = field(default_factory=dict)
    interval: float = 1.0
    seed: int = 0
    baseline_build: str | None = None
    new_build_factor: float = 1.0

    @classmethod
    def for_new_build(cls, baseline_build: str, health: str, **changes: Any) -> MetricsPlan:
        """Builds other than ``baseline_build``: ``healthy``, as fast as it; ``degraded``, 3x latency."""
        if health not in (HEALTHY_BUILD, DEGRADED_BUILD):
            raise ValueError(f"unknown build health {health!r}: {HEALTHY_BUILD} or {DEGRADED_BUILD}")
        factor = DEGRADED_LATENCY if health == DEGRADED_BUILD else 1.0
        return cls(baseline_build=baseline_build, new_build_factor=factor, **changes)

    def latency_factor(self, version: str) -> float:
        if version in self.latency_factors:
            return self.latency_factors[version]
        new = self.baseline_build is not None and version != self.baseline_build
        return self.new_build_factor if new else 1.0

    def datapoints(self, instance_id: str, version: str, rng: random.Random) -> list[tuple[str, float, str]]:
        """(metric name, value, unit) of one instance for one interval."""
        latency = self.latency_ms * self.latency_factor(version) * math.exp(rng.normalvariate(0, self.jitter))
        errors = 1.0 if rng.random() < self.error_rates.get(version, 0.0) else 0.0
        return [(LATENCY, latency, "Milliseconds"), (ERRORS, errors, "Count")]


class FleetSimulator(LoopbackServer):
    def __init__(
        self,
        list_instances: Callable[[], Iterable[str]],
        build: str,
        boot_seconds: float = 3.0,
        faults: FaultPlan | None = None,
        watch_interval: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        build_source: Callable[[], str | None] | None = None,
        port: int = 0,
        metrics: MetricsPlan | None = None,
        cloudwatch: Any = None,
        instance_build: Callable[[str], str | None] | None = None,
    ) -> None:
        """``instance_build``: the build one new instance boots, when it has its own (its ASG's pin),
        else the newest published."""
        self._instance_build = instance_build
        if metrics is not None and cloudwatch is None:
            raise ValueError("a MetricsPlan needs a CloudWatch client to publish with")
        self.metrics = metrics
        self._cloudwatch = cloudwatch
        self._metrics_rng = random.Random(metrics.seed if metrics else 0)
        self._listed: list[str] = []
        self._list_instances = list_instances
        self._build_source = build_source
        self.build = build
        self.boot_seconds = boot_seconds
        self.faults = faults or FaultPlan()
        self._rng = random.Random(self.faults.seed)
        self._clock = clock
        self._interval = watch_interval
        self._instances: dict[str, SimInstance] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        super().__init__(self._request_handler(), port, name="fleet-sim")
        self._threads: list[threading.Thread] = []

    # -- the operator's view ---------------------------------------------------------------
    @property
    def url_template(self) -> str:
        return f"{self.base_url}/{{InstanceId}}/version"

    def adopt(self, instance_ids: Iterable[str], version: str) -> None:
        """Instances already running ``version`` (booted long ago)."""
        with self._lock:
            for instance_id in instance_ids:
                self._instances[instance_id] = SimInstance(version, ready_at=0.0)

    def publish(self, version: str) -> None:
        """A new build is uploaded: instances launched from now on boot with it."""
        with self._lock:
            self.build = version

    def set_fault(self, instance_id: str, fault: str) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; faults: {', '.join(FAULTS)}")
        with self._lock:
            known = self._instances.get(instance_id) or self._new_instance()
            self._instances[instance_id] = replace(known, fault=fault)

    def sync(self) -> None:
        """Pick up a newly uploaded build, then register instances the ASGs launched since the
        last look: they start booting now, with the newest build."""
        if self._build_source is not None:
            uploaded = self._build_source()
            if uploaded and uploaded != self.build:
                self.publish(uploaded)
        ids = list(self._list_instances())
        with self._lock:
            self._listed = ids
            new = [i for i in ids if i not in self._instances]
        builds = {i: self._instance_build(i) if self._instance_build else None for i in new}
        with self._lock:
            for instance_id in new:
                if instance_id not in self._instances:
                    self._instances[instance_id] = self._new_instance(builds[instance_id])

    def instance(self, instance_id: str) -> SimInstance | None:
        with self._lock:
            return self._instances.get(instance_id)

    def reads(self, instance_id: str) -> str | None:
        """The version a probe of this instance would read right now, without any network."""
        sim = self.instance(instance_id)
        if sim is None or self._clock() < sim.ready_at:
            return None
        if sim.fault in (NEVER_BOOTS, HANGS, DEAD, GARBAGE, HUGE):
            return None
        return sim.version

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        super().start()
        self._threads = [threading.Thread(target=self._watch, name="fleet-sim-watch", daemon=True)]
        if self.metrics is not None:
            self._threads.append(threading.Thread(target=self._publish_metrics, name="fleet-sim-metrics", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        super().stop()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- internals -------------------------------------------------------------------------
    def _new_instance(self, build: str | None = None) -> SimInstance:
        build = build or self.build
        fault = NEVER_BOOTS if build in self.faults.broken_builds else self.faults.draw(self._rng)
        version = self.faults.wrong_version if fault == WRONG_VERSION else build
        late = self.faults.late_seconds if fault == BOOTS_LATE else 0.0
        return SimInstance(version, ready_at=self._clock() + self.boot_seconds + late, fault=fault)

    def _watch(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.sync()
            except Exception:  # the AWS endpoint may be going away; keep serving what we know
                continue

    def publish_metrics(self) -> int:
        """One interval's datapoints for every listed instance that serves now; how many were put."""
        plan = self.metrics
        if plan is None:
            return 0
        with self._lock:
            listed = list(self._listed)
        now = datetime.now(UTC)
        data = []
        for instance_id in listed:
            version = self.reads(instance_id)
            if version is None:
                continue  # booting, broken or gone: it serves nothing, so it measures nothing
            for name, value, unit in plan.datapoints(instance_id, version, self._metrics_rng):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                        "Timestamp": now,
                        "Value": value,
                        "Unit": unit,
                        "StorageResolution": 1,
                    }
                )
        for start in range(0, len(data), PUT_PAGE):
            self._cloudwatch.put_metric_data(Namespace=plan.namespace, MetricData=data[start : start + PUT_PAGE])
        return len(data)

    def _publish_metrics(self) -> None:
        interval = self.metrics.interval if self.metrics else 1.0
        while not self._stopping.wait(interval):
            try:
                self.publish_metrics()
            except Exception:  # the AWS endpoint may be going away; the next interval tries again
                continue

    def _answer(self, instance_id: str) -> tuple[int, bytes] | None:
        """(status, body) for a probe, or None to drop the connection; may sleep for faults."""
        sim = self.instance(instance_id)
        if sim is None:
            self.sync()
            sim = self.instance(instance_id)
        if sim is None:
            return 404, b"no such instance"
        if sim.fault == DEAD:
            return None
        if sim.fault == HANGS:
            self._stopping.wait(3600)
            return None
        if self._clock() < sim.ready_at or sim.fault == NEVER_BOOTS:
            return 503, b"booting"
        if sim.fault == SLOW:
            self._stopping.wait(self.faults.slow_seconds)
        if sim.fault == GARBAGE:
            return 200, b"<html>It works!</html>"
        if sim.fault == HUGE:
            return 200, b"1" * (1 << 20)
        return 200, sim.version.encode()

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        simulator = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[1] != "version":
                    self.send_error(404)
                    return
                answer = simulator._answer(parts[0])
                if answer is None:
                    self.close_connection = True
                    return
                status, body = answer
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler


def asg_instance_lister(autoscaling: Any, asg_names: Iterable[str] | None = None) -> Callable[[], list[str]]:
    """List every instance id of the named ASGs (all ASGs when None) through a boto3 client."""
    names = list(asg_names) if asg_names is not None else None

    def list_ids() -> list[str]:
        paginator = autoscaling.get_paginator("describe_auto_scaling_groups")
        kwargs: dict[str, Any] = {"AutoScalingGroupNames": names} if names else {}
        return [
            i["InstanceId"]
            for page in paginator.paginate(**kwargs)
            for group in page["AutoScalingGroups"]
            for i in group.get("Instances", [])
        ]

    return list_ids
