"""The version URL can only reach the instance, and nothing an instance answers grows the records:
the real handlers against moto, version endpoints on loopback.

The 2,000-instance test runs the handlers' chain here, not the real ASL: on moto's interpreter that
fleet takes over two minutes. Each state's payload is built as the ASL builds it (Parameters and
ResultPath of tasks ValidateInput to SelectBatch, and the failure a Catch adds), from the real outputs.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from tasks import runtime
from tasks.domain.fleet import Fleet, Instance, Progress
from tasks.errors import InvalidExecutionInputError, ReleaseStalledError
from tasks.handlers.discover import handler as discover
from tasks.handlers.lock_asg import handler as lock_asg
from tasks.handlers.read_versions import handler as read_versions
from tasks.handlers.select_batch import handler as select_batch
from tasks.handlers.validate_input import handler as validate_input
from tests.functional.support import NEW, Loopback, answer, fetched, stored

if TYPE_CHECKING:
    from collections.abc import Callable

PAYLOAD_BUDGET = 64 * 1024
RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:t"
# What a fleet whose web server is up but whose app is not answers: a 1 KiB HTML page.
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>" + b"x" * 1024)[:1024]


def size(document: Any) -> int:
    """UTF-8 bytes of the JSON Step Functions carries (compact, as the Lambda integration returns it)."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def fleet_of(urls: dict[str, str]) -> dict[str, Any]:
    """Discover's record of a fleet whose instances' addresses rendered these URLs."""
    instances = tuple(Instance(id=i, az="us-east-1a", url=url) for i, url in urls.items())
    return Fleet("web", desired=len(urls), min_size=0, max_size=len(urls), instances=instances).to_record()


def readings(record: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {i.id: (i.version, i.reason) for i in Fleet.from_record(record).instances}


@pytest.mark.usefixtures("aws")
def test_a_rendered_address_not_allowed_is_refused_per_instance_before_any_connection(
    loopback_only: list[object],
) -> None:
    with Loopback(default=answer(200, NEW.encode())) as server:
        fleet = fleet_of(
            {
                "i-0a01": server.url("/version"),  # 127.0.0.1: listed (AllowedVersionHosts, as local up sets it)
                "i-0a02": f"http://127.0.0.2:{server.port}/version",  # loopback, not listed
                "i-0a03": "http://169.254.169.254/latest/meta-data",  # {PrivateIpAddress} = the metadata service
                "i-0a04": "http://169.254.170.2/v2/credentials",
                "i-0a05": "http://[fd00:ec2::254]/latest/meta-data",
                "i-0a06": "http://[fe80::1]/version",
                "i-0a07": f"http://localhost:{server.port}/version",
            }
        )
        read = readings(
            fetched(read_versions({"fleet": stored(fleet, written_by="Discover"), "probe_timeout_seconds": 2}, None))
        )

        assert read["i-0a01"] == (NEW, None)
        assert {i: r for i, r in read.items() if i != "i-0a01"} == {
            i: (None, "address not allowed") for i in read if i != "i-0a01"
        }
        assert server.requests == ["/version"]  # the listed one only
    assert loopback_only == []  # and no connection was even tried elsewhere


@pytest.mark.usefixtures("aws")
def test_loopback_is_probed_only_when_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_VERSION_HOSTS", "")  # the stack's default
    runtime.settings.cache_clear()
    with Loopback(default=answer(200, NEW.encode())) as server:
        read = readings(
            fetched(
                read_versions(
                    {
                        "fleet": stored(fleet_of({"i-0a01": server.url("/v")}), written_by="Discover"),
                        "probe_timeout_seconds": 2,
                    },
                    None,
                )
            )
        )
        assert read == {"i-0a01": (None, "address not allowed")}
        assert server.requests == []


@pytest.mark.usefixtures("aws")
def test_validate_input_takes_a_literal_host_only_when_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    given = {"asg_names": ["web"], "version_url": "http://127.0.0.1:8080/{InstanceId}/version"}
    assert validate_input(given, None)["settings"]["version_url"] == given["version_url"]  # 127.0.0.1 listed

    for listed in ("", "10.0.0.1, version.internal"):
        monkeypatch.setenv("ALLOWED_VERSION_HOSTS", listed)
        runtime.settings.cache_clear()
        with pytest.raises(InvalidExecutionInputError) as refused:
            validate_input(given, None)
        assert "version_url: host '127.0.0.1' is not an instance address" in str(refused.value)

    monkeypatch.setenv("ALLOWED_VERSION_HOSTS", "169.254.169.254")  # listed, and still refused
    runtime.settings.cache_clear()
    with pytest.raises(InvalidExecutionInputError) as refused:
        validate_input({**given, "version_url": "http://169.254.169.254/latest/meta-data"}, None)
    assert "version_url: host '169.254.169.254' is a link-local or metadata address" in str(refused.value)


@pytest.mark.timeout(900)  # moto describing thousands of instances: minutes, past the suite's 300 s per test
def test_two_thousand_instances_answering_an_html_page_keep_every_state_under_64_kib(
    make_asg: Callable[..., list[str]],
) -> None:
    """Each answer is 'not a version' (its bytes never copied into a reason), so no state nears
    256 KiB, where States.DataLimitExceeded would abort every ASG with no Catch to handle it."""
    ids = make_asg("web", 2000, max_size=2000)
    states: dict[str, Any] = {}
    with Loopback(default=answer(200, HTML_PAGE, {"Content-Type": "text/html"})) as page:
        release = validate_input(
            {
                "asg_names": ["web"],
                "target_version": NEW,
                # As long as the default's rendering (http://10.0.12.34:80/version): Discover carries it.
                "version_url": page.url("/version"),
                "replacement_timeout_seconds": 1,
                "probe_timeout_seconds": 10,
            },
            None,
        )
        states["ValidateInput"] = release
        (branch,) = release["asgs"]
        # The Map's ItemSelector: one ASG's state from here on.
        item = {**branch, "settings": release["settings"], "release_id": RELEASE_ID}
        lock_asg({k: item[k] for k in ("asg_name", "release_id", "takes_over", "settings")}, None)
        states["LockAsg"] = item  # its ResultPath is null
        fleet = discover(
            {"asg_name": "web", "release_id": RELEASE_ID, "version_url": item["settings"]["version_url"]}, None
        )
        states["Discover"] = {**item, "fleet": fleet}
        probe = {"fleet": fleet, "probe_timeout_seconds": item["settings"]["probe_timeout_seconds"]}
        states["ReadVersions (input)"] = probe
        read = read_versions(probe, None)
        states["ReadVersions"] = {**item, "fleet": read}
        assert len(page.requests) == 2000  # every instance answered the page
    assert {r for _, r in readings(fetched(read)).values()} == {"not a version"}
    assert {v for v, _ in readings(fetched(read)).values()} == {None}

    select = {k: item[k] for k in ("asg_name", "release_id", "settings", "progress")}
    first = select_batch({**select, "fleet": read}, None)
    states["SelectBatch"] = first
    assert first["progress"]["decision"]["action"] == "wait"  # nothing is serving: nothing terminated
    time.sleep(1.1)  # past replacement_timeout_seconds: the release stalls, naming its instances
    with pytest.raises(ReleaseStalledError) as stalled:
        select_batch({**select, "progress": first["progress"], "fleet": read}, None)
    failure = {"Error": "ReleaseStalledError", "Cause": json.dumps({"errorMessage": str(stalled.value)})}
    states["RollBackOnFailure (a Catch's failure)"] = {**item, "progress": first["progress"], "failure": failure}

    sizes = {name: size(document) for name, document in states.items()}
    assert all(s < PAYLOAD_BUDGET for s in sizes.values()), sizes
    # The fleet travels by key: the record it names holds every reason (the measure measures the fleet).
    assert size(fetched(read)) > 2000 * len('"reason":"not a version"') > max(sizes.values())
    assert Progress.from_record(first["progress"]).batches == ()
    assert len(ids) == 2000
