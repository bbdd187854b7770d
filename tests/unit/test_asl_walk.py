"""asl_walk: every machine and state of a definition, those Map and Parallel states run included."""

from __future__ import annotations

from typing import Any

from asg_terminator import asl_walk


def _machine(*names: str, **nested: dict[str, Any]) -> dict[str, Any]:
    """Pass states named ``names``, then one state per keyword holding what it runs."""
    states: dict[str, Any] = {name: {"Type": "Pass", "End": True} for name in names}
    states.update(nested)
    return {"StartAt": next(iter(states)), "States": states}


DEFINITION = _machine(
    "First",
    EachItem={"Type": "Map", "ItemProcessor": _machine("InMap", Older={"Type": "Map", "Iterator": _machine("Deep")})},
    Both={"Type": "Parallel", "Branches": [_machine("Left"), _machine("Right")]},
)


def test_machines_are_each_named_after_the_state_that_runs_them_outermost_first() -> None:
    found = [(inside, list(machine["States"])) for inside, machine in asl_walk.machines(DEFINITION)]
    assert found == [
        ("", ["First", "EachItem", "Both"]),
        ("EachItem", ["InMap", "Older"]),
        ("Older", ["Deep"]),
        ("Both", ["Left"]),
        ("Both", ["Right"]),
    ]


def test_states_are_every_state_at_every_depth_once() -> None:
    names = [name for name, _ in asl_walk.states(DEFINITION)]
    assert names == ["First", "EachItem", "Both", "InMap", "Older", "Deep", "Left", "Right"]
    assert dict(asl_walk.states(DEFINITION))["Deep"] == {"Type": "Pass", "End": True}


def test_a_maps_processor_is_its_item_processor_or_its_iterator() -> None:
    states = DEFINITION["States"]
    assert asl_walk.processor(states["EachItem"]) is states["EachItem"]["ItemProcessor"]
    older = states["EachItem"]["ItemProcessor"]["States"]["Older"]
    assert asl_walk.processor(older) is older["Iterator"]
    assert asl_walk.processor(states["Both"]) is None
    assert asl_walk.processor(states["First"]) is None
