"""`release` and `plan` take the execution input's fields from its schema: each option's default, as
its help says it, and its choices are the schema's, and only the fields given are sent."""

from __future__ import annotations

import json
import re
from typing import Any

import click
import pytest
from click.testing import CliRunner

from asg_terminator import cli
from tasks import contracts

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:x"
PROPERTIES = contracts.schema("validate_input.input")["properties"]


def _field_options(command: str) -> list[click.Option]:
    found = cli.main.commands[command].params
    return [p for p in found if isinstance(p, click.Option) and p.name in PROPERTIES]


@pytest.mark.parametrize("command", ["release", "plan"])
def test_each_option_says_the_schema_default_and_offers_its_choices(command: str) -> None:
    options = _field_options(command)
    assert [o.name for o in options] == list(cli.INPUT_FIELDS)
    for option in options:
        spec = PROPERTIES[option.name]
        said = re.search(r"Default: (.*)\.$", option.help or "")
        if spec.get("default") is None or isinstance(spec["default"], bool | list):
            assert said is None or spec.get("default") is None, option.name  # a flag, a list: nothing to say
        else:
            assert said is not None and said.group(1) == str(spec["default"]), option.name
        assert option.multiple or option.default is None, f"{option.name}: ValidateInput applies the default"
        if "enum" in spec:
            assert isinstance(option.type, click.Choice) and list(option.type.choices) == spec["enum"]


class _Recorder:
    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] = []

    def start_execution(self, stateMachineArn: str, input: str, name: str) -> dict[str, str]:  # noqa: N803
        self.inputs.append(json.loads(input))
        return {"executionArn": f"{stateMachineArn}:{name}"}


def test_only_the_fields_given_are_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    sfn = _Recorder()
    monkeypatch.setattr(cli, "_sfn", lambda *_: sfn)
    given = ["--asg", "web", "--min-healthy", "2", "--max-surge", "25%", "--checkpoint", "1", "--checkpoint", "50%"]
    result = CliRunner().invoke(
        cli.main, ["release", *given, "--alarm-name", "web-5xx", "--state-machine-arn", MACHINE]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        cli.main, ["release", "--asg", "api", "--max-surge", "2", "--state-machine-arn", MACHINE]
    )
    assert result.exit_code == 0, result.output
    assert sfn.inputs == [
        {
            "asg_names": ["web"],
            "min_healthy": 2,
            "max_surge": "25%",
            "checkpoints": [1, "50%"],
            "alarm_names": ["web-5xx"],
        },
        {"asg_names": ["api"], "max_surge": 2},
    ]
