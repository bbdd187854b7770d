"""The CloudWatch adapter against moto: the states of the alarms a release watches."""

from __future__ import annotations

from typing import Any

import pytest

from tasks import runtime
from tasks.errors import AlarmNotFoundError, AlarmTriggeredError
from tests.functional.support import put_alarm


def test_each_named_alarm_that_exists_has_its_state_and_reason(aws: None) -> None:
    put_alarm("web-5xx", "ALARM")
    put_alarm("web-latency")
    states: dict[str, Any] = runtime.cloudwatch().alarm_states(["web-5xx", "web-latency", "gone"])
    assert states["web-5xx"] == ("ALARM", "set to ALARM by the test")
    assert states["web-latency"][0] in ("INSUFFICIENT_DATA", "OK")
    assert "gone" not in states


def test_more_than_a_hundred_names_are_asked_in_pages(aws: None) -> None:
    names = [f"alarm-{n:03d}" for n in range(150)]
    for name in names[::30]:
        put_alarm(name)
    assert sorted(runtime.cloudwatch().alarm_states(names)) == names[::30]


def test_check_alarms_raises_the_named_errors(aws: None) -> None:
    put_alarm("web-5xx")
    runtime.check_alarms("web", ["web-5xx"], "stopped")  # INSUFFICIENT_DATA: goes on
    runtime.check_alarms("web", [], "stopped")
    put_alarm("web-5xx", "ALARM")
    with pytest.raises(AlarmTriggeredError, match=r"web-5xx \(set to ALARM by the test\); stopped"):
        runtime.check_alarms("web", ["web-5xx"], "stopped")
    with pytest.raises(AlarmNotFoundError):
        runtime.check_alarms("web", ["web-5xx", "nope"], "stopped")
