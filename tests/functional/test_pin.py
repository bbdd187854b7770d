"""The pinned build (pin_parameter) against moto: the SSM adapter, and Terminate pinning its target
before its batch goes, so replacements boot the target whatever is uploaded meanwhile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from tasks import runtime
from tasks.domain.fleet import Decision, Progress
from tasks.handlers.terminate import handler as terminate
from tests.functional.support import NEW, OLD, REGION, leased

if TYPE_CHECKING:
    from collections.abc import Callable

NAME = "/asg-terminator/web/build"


def parameter(name: str = NAME) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("ssm", region_name=REGION).get_parameter(Name=name)["Parameter"]
    return found


def test_a_pin_is_created_changed_and_left_alone_when_it_already_says_so(aws: None) -> None:
    pins = runtime.parameters()
    assert pins.pinned(NAME) is None
    assert pins.pin(NAME, OLD) is None  # what it said before: nothing
    assert pins.pin(NAME, NEW) == OLD
    assert (parameter()["Value"], parameter()["Version"]) == (NEW, 2)
    assert pins.pin(NAME, NEW) == NEW
    assert parameter()["Version"] == 2  # not written again


def test_terminate_pins_the_target_before_its_batch_goes(aws: None, make_asg: Callable[..., list[str]]) -> None:
    ids = make_asg("web", 2, zones=("us-east-1a",))
    chosen = Progress(target_version=NEW).update(decision=Decision("terminate", "x", (ids[0],)))
    event = {
        "asg_name": "web",
        "release_id": leased("web"),
        "progress": chosen.to_record(),
        "pin_parameter": "/asg-terminator/{asg_name}/build",
    }

    terminate(event, None)

    assert parameter()["Value"] == NEW
