"""The fleet simulator answers a whole fleet probed at once (200 connections: the prober's default allows 256)."""

from __future__ import annotations

from asg_terminator.simulator import FleetSimulator
from tasks.adapters.version_probe import DEFAULT_CONCURRENCY, VersionProber


def test_two_hundred_instances_probed_at_once_all_answer_within_the_probe_timeout() -> None:
    ids = [f"i-{n:017x}" for n in range(200)]
    simulator = FleetSimulator(lambda: ids, build="1.0.274", boot_seconds=0)
    simulator.adopt(ids, "1.0.266")
    with simulator:
        urls = {i: simulator.url_template.replace("{InstanceId}", i) for i in ids}
        readings = VersionProber(
            timeout_seconds=0.9, concurrency=DEFAULT_CONCURRENCY, allowed_hosts=("127.0.0.1",)
        ).read_all(urls)

    # With the default listen backlog of 5, dropped SYNs were retransmitted after 1 s: timeouts.
    assert {r.reason for r in readings.values()} == {None}
    assert {r.version for r in readings.values()} == {"1.0.266"}
