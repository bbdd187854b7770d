"""A Task that outlives its TimeoutSeconds ends the ASG's release in a clear state with the cause.

Every Task's timeout is 30 s or more, too long for a test, so this runs the real ASL with one
number changed: Discover's TimeoutSeconds, lowered to 1 s; its handler is made to take 3 s.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from asg_terminator.lambda_server import function_name, substitutions
from asg_terminator.paths import RELEASE_ASL
from asg_terminator.stack import ROLE_ARN, definition
from tasks.handlers import handler_for
from tests.workflow.conftest import REGION
from tests.workflow.harness import run_execution

if TYPE_CHECKING:
    from tests.workflow.conftest import World


def test_a_task_timeout_fails_that_asg_with_states_timeout(world: World) -> None:
    world.fleet(build="1.0.274")
    world.asg("live_asg_web", 2, "1.0.266")
    machine = json.loads(definition(substitutions(REGION)))
    discover = machine["States"]["ReleaseEachAsg"]["ItemProcessor"]["States"]["Discover"]
    assert (
        discover["TimeoutSeconds"]
        == json.loads(RELEASE_ASL.read_text())["States"]["ReleaseEachAsg"]["ItemProcessor"]["States"]["Discover"][
            "TimeoutSeconds"
        ]
    )
    discover["TimeoutSeconds"] = 1
    arn = world.sfn.create_state_machine(name="timeouts", definition=json.dumps(machine), roleArn=ROLE_ARN)[
        "stateMachineArn"
    ]
    real = handler_for("Discover")

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(3)
        return real(event, context)

    world.lambdas.handlers[function_name("Discover")] = slow
    try:
        execution = run_execution(
            world.sfn,
            arn,
            {"asg_names": ["live_asg_web"], "target_version": "1.0.274", "version_url": world.simulator.url_template},  # type: ignore[union-attr]
            timeout=60,
        )
    finally:
        world.lambdas.handlers[function_name("Discover")] = real

    assert execution.status == "FAILED" and execution.error == "ReleaseFailedError"
    assert "live_asg_web FAILED States.Timeout after 0 terminated in 0 batches" in execution.cause_message()
    assert execution.terminated() == []
    assert world.versions("live_asg_web") == ["1.0.266", "1.0.266"]
