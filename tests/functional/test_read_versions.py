"""ReadVersions against moto and a simulated fleet on loopback: what each InService instance serves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asg_terminator.simulator import DEAD, GARBAGE, HANGS, HUGE, SLOW, FleetSimulator
from tasks.domain.fleet import Fleet
from tests.functional.support import NEW, OLD
from tests.functional.support import discover_fleet as discover
from tests.functional.support import read_fleet as read_versions

if TYPE_CHECKING:
    from collections.abc import Callable


def readings(fleet: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {i.id: (i.version, i.reason) for i in Fleet.from_record(fleet).instances}


def without_readings(fleet: dict[str, Any]) -> dict[str, Any]:
    """The fleet as Discover saw it, less what reading versions changes: versions, reasons and URLs."""
    unread = [{k: v for k, v in i.items() if k not in ("version", "reason", "url")} for i in fleet["instances"]]
    return {**fleet, "instances": unread}


def test_old_and_new_versions_are_read_and_a_booting_instance_is_http_503(
    make_asg: Callable[..., list[str]], simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 3, zones=("us-east-1a",))
    simulator.adopt([ids[0]], OLD)
    simulator.adopt([ids[1]], NEW)  # ids[2] is new to the simulator: booting for a minute
    fleet = discover({"asg_name": "web", "version_url": simulator.url_template}, None)

    read = read_versions({"fleet": fleet, "probe_timeout_seconds": 1}, None)

    assert readings(read) == {ids[0]: (OLD, None), ids[1]: (NEW, None), ids[2]: (None, "HTTP 503")}
    # Only versions and reasons change: capacity, lifecycle, health, zones and the order are as discovered;
    # the URLs of those that answered are left out, the booting one's kept (WatchBooting probes it).
    assert without_readings(read) == without_readings(fleet)
    assert all("url" in i for i in fleet["instances"])
    assert [i["id"] for i in read["instances"] if "url" in i] == [ids[2]]


def test_each_faulty_endpoint_gives_its_reason(make_asg: Callable[..., list[str]], simulator: FleetSimulator) -> None:
    ids = make_asg("web", 6, zones=("us-east-1a",))
    simulator.adopt(ids, NEW)
    simulator.faults.slow_seconds = 2.0
    faults = {ids[1]: GARBAGE, ids[2]: HUGE, ids[3]: HANGS, ids[4]: SLOW, ids[5]: DEAD}
    for instance_id, fault in faults.items():
        simulator.set_fault(instance_id, fault)
    fleet = discover({"asg_name": "web", "version_url": simulator.url_template}, None)

    read = readings(read_versions({"fleet": fleet, "probe_timeout_seconds": 0.5}, None))

    assert read[ids[0]] == (NEW, None)
    assert read[ids[1]] == (None, "not a version")  # the body itself is never shown
    assert read[ids[2]] == (None, "body over 1024 bytes")
    assert read[ids[3]] == (None, "timeout after 0.5 s")
    assert read[ids[4]] == (None, "timeout after 0.5 s")
    assert read[ids[5]] == (None, "connection reset")  # closed without a response


def test_only_in_service_and_standby_instances_with_a_url_are_read(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 4, zones=("us-east-1a",), tags={"Name": "web"})
    simulator.adopt(ids, NEW)
    autoscaling.set_instance_health(InstanceId=ids[0], HealthStatus="Unhealthy")
    autoscaling.enter_standby(AutoScalingGroupName="web", InstanceIds=[ids[1]], ShouldDecrementDesiredCapacity=True)
    fleet = discover({"asg_name": "web", "version_url": simulator.url_template}, None)
    # moto launches instances InService at once: this one is made to look like a booting instance.
    booting = next(i for i in fleet["instances"] if i["id"] == ids[3])
    booting["lifecycle"] = "Pending"

    read = readings(read_versions({"fleet": fleet, "probe_timeout_seconds": 1}, None))

    assert read[ids[0]] == (NEW, None)  # InService though Unhealthy: its version is still worth knowing
    assert read[ids[1]] == (NEW, None)  # Standby: read, as a policy may replace it
    assert read[ids[2]] == (NEW, None)
    assert read[ids[3]] == (None, None)  # Pending: not read, though its endpoint would answer


def test_an_instance_without_a_url_keeps_its_reason(
    make_asg: Callable[..., list[str]], simulator: FleetSimulator
) -> None:
    make_asg("web", 2, zones=("us-east-1a",))
    template = simulator.url_template.replace("{InstanceId}", "{tag:Owner}")
    fleet = discover({"asg_name": "web", "version_url": template}, None)

    read = read_versions({"fleet": fleet, "probe_timeout_seconds": 1}, None)

    assert set(readings(read).values()) == {(None, "no tag:Owner for the version URL")}


def test_a_booting_instance_is_read_once_it_has_booted(
    make_asg: Callable[..., list[str]], simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 1, zones=("us-east-1a",))
    fleet = discover({"asg_name": "web", "version_url": simulator.url_template}, None)
    simulator.sync()

    first = readings(read_versions({"fleet": fleet, "probe_timeout_seconds": 1}, None))
    simulator.adopt(ids, NEW)  # its boot ends (the fixture's boots take 60 s: none ends by itself)
    second = readings(read_versions({"fleet": fleet, "probe_timeout_seconds": 1}, None))

    assert first == {ids[0]: (None, "HTTP 503")}
    assert second == {ids[0]: (NEW, None)}
