"""Issue #6 item 8 on the real ASL: a replacement held by a launch lifecycle hook (Pending:Wait)
counts only once InService, even when its version already answers.

moto (pinned) runs no lifecycle hooks, so this test holds each newcomer in Pending:Wait itself by
writing moto's record of the group; ``_instance_states`` fails loudly if moto's internals move.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from moto.autoscaling.models import autoscaling_backends
from moto.core import DEFAULT_ACCOUNT_ID

if TYPE_CHECKING:
    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


def _instance_states(name: str) -> list[Any]:
    try:
        states: list[Any] = (
            autoscaling_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].autoscaling_groups[name].instance_states
        )
        for state in states:
            _ = state.lifecycle_state, state.instance.id
    except (KeyError, AttributeError) as e:
        raise AssertionError(f"moto's Auto Scaling internals moved ({e!r}): update the launch hook below") from e
    return states


class LaunchHook:
    """Holds every instance launched after it starts in Pending:Wait for ``hold`` seconds."""

    def __init__(self, asg_name: str, hold: float) -> None:
        self.asg_name, self.hold = asg_name, hold
        self.known = {s.instance.id for s in _instance_states(asg_name)}
        self.held: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for state in _instance_states(self.asg_name):
                instance_id = state.instance.id
                if instance_id in self.known:
                    continue
                since = self.held.setdefault(instance_id, time.monotonic())
                state.lifecycle_state = "Pending:Wait" if time.monotonic() - since < self.hold else "InService"
                if state.lifecycle_state == "InService":
                    self.known.add(instance_id)

    def __enter__(self) -> LaunchHook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def test_the_next_batch_waits_for_the_hook_to_release_the_replacement(world: World, interpreter: str | None) -> None:
    if interpreter is not None:
        pytest.skip("holds instances through moto's in-process internals")
    world.fleet(build=NEW, boot_seconds=0.2)  # the version answers long before the hook lets go
    original = world.asg("live_asg_web", 3, OLD)

    with LaunchHook("live_asg_web", hold=3.0) as hook:
        execution, watch = world.release(
            {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 2, "max_batch": 1}
        )

    assert execution.status == "SUCCEEDED", execution.cause
    assert sorted(execution.terminated()) == sorted(original)
    assert len(hook.held) == 3 and world.versions("live_asg_web") == [NEW] * 3
    checks = [o["progress"]["pending"] for o in execution.task_outputs("CheckReplacement")]
    statuses = [pending["status"] for pending in checks if pending]
    assert any("Pending:Wait" in s for s in statuses), statuses
    assert watch.floor_breaches("live_asg_web", 2) == []  # a held replacement was never counted as serving
