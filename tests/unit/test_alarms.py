"""Issue #6 item 4: the alarms a release watches stop it, naming them."""

from __future__ import annotations

import pytest

from tasks.domain.alarms import check
from tasks.errors import AlarmNotFoundError, AlarmTriggeredError

OK = ("OK", "Threshold Crossed: 1 datapoint [0.0] was not greater than the threshold (5.0).")
FIRING = ("ALARM", "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).")


def test_alarms_that_are_ok_or_without_data_let_the_release_go_on() -> None:
    check("web", ["web-5xx", "web-latency"], {"web-5xx": OK, "web-latency": ("INSUFFICIENT_DATA", "")}, "stopped")
    check("web", [], {}, "stopped")


def test_an_alarm_in_alarm_stops_the_release_naming_it_and_why() -> None:
    with pytest.raises(AlarmTriggeredError) as stopped:
        check("web", ["web-5xx", "web-latency"], {"web-5xx": FIRING, "web-latency": OK}, "no further batch")
    assert str(stopped.value) == (
        "web: alarm in ALARM: web-5xx (Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).)"
        "; no further batch"
    )


def test_a_name_that_is_no_alarm_is_a_named_error_even_next_to_a_firing_one() -> None:
    with pytest.raises(AlarmNotFoundError, match=r"^web: no CloudWatch alarm named web-5xxx in this account"):
        check("web", ["web-5xxx", "web-latency"], {"web-latency": FIRING}, "nothing was terminated")
