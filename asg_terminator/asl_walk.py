"""Walking a state machine's definition (ASL): its machines and its states, those that Map and
Parallel states run included. The history graph lays out each Map's machine inside the Map; the
tests read every state of the release's definition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator


def processor(state: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A Map state's own machine (``ItemProcessor``, or the older ``Iterator``)."""
    inner = state.get("ItemProcessor") or state.get("Iterator")
    return inner if isinstance(inner, Mapping) else None


def machines(machine: Mapping[str, Any], inside: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``machine`` and every machine nested in it, each with the state that runs it ("" for the top
    level), each before those it holds: a Map's, and each branch of a Parallel."""
    yield inside, machine
    for name, state in machine.get("States", {}).items():
        inner = processor(state)
        for sub in [*([inner] if inner is not None else []), *state.get("Branches", [])]:
            yield from machines(sub, name)


def states(machine: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every state of ``machine`` and of the machines nested in it, with its name."""
    for _, each in machines(machine):
        yield from each.get("States", {}).items()
