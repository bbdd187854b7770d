"""docs/input.md says each execution-input field's default twice (the whole input at its defaults,
and the field table) and the bounds of the numbers: each is compared here with the input schema,
where they are written once (tasks/schemas/validate_input.input.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tasks import contracts
from tasks.domain.execution_input import NOT_SETTINGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "input.md"
SCHEMA = contracts.schema("validate_input.input")
DEFAULTS = contracts.defaults("validate_input.input")
# The fields an operator gives: the release sets continuation, Step Functions the started-by id.
DOCUMENTED = {"asg_names"} | set(SCHEMA["properties"]) - set(NOT_SETTINGS)


def _table() -> dict[str, tuple[str, str]]:
    """The field table: each field's default cell and rule cell."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index("| field | default | rule |") + 2
    rows: dict[str, tuple[str, str]] = {}
    for line in lines[start:]:
        if not line.startswith("| `"):
            break
        field, default, rule = line[2:].split(" | ", 2)
        rows[field.strip("`")] = (default, rule)
    return rows


def _written(cell: str) -> Any:
    """A default cell's value: JSON (in backticks or not), less a remark in parentheses; else its words."""
    text = re.sub(r"\s*\([^`]*\)$", "", cell).strip("`")
    try:
        return json.loads(text)
    except ValueError:
        return text


def test_the_table_lists_every_field_an_operator_gives() -> None:
    assert set(_table()) == DOCUMENTED


def test_each_default_in_the_table_is_the_schema_default() -> None:
    for field, (cell, _rule) in _table().items():
        if field not in DEFAULTS:
            assert (cell == "required") == (field in SCHEMA["required"]), field
            continue
        written, default = _written(cell), DEFAULTS[field]
        if default is None and isinstance(written, str):
            continue  # words that say what no value means: "highest version read", "null (none sent)"
        assert written == default and type(written) is type(default), f"{field}: docs {cell!r}, schema {default!r}"


def test_the_bounds_in_the_table_are_the_schema_bounds() -> None:
    checked = 0
    for field, (_cell, rule) in _table().items():
        found = re.match(r"(\d+) to (\d+)\b", rule)
        if found is None:
            continue
        spec = SCHEMA["properties"][field]
        (bounded,) = [s for s in [spec, *spec.get("oneOf", [])] if s.get("type") in ("integer", "array")]
        low, high = ("minimum", "maximum") if bounded["type"] == "integer" else ("minItems", "maxItems")
        assert (bounded[low], bounded[high]) == tuple(map(int, found.groups())), field
        checked += 1
    assert checked >= 9, "the table's 'N to M' rules moved; point this test at them again"


def test_the_whole_input_at_its_defaults_is_the_schema_defaults() -> None:
    text = DOC.read_text(encoding="utf-8")
    shown = json.loads(re.search(r"```json\n(.*?)\n```", text, re.DOTALL).group(1))  # type: ignore[union-attr]
    example = {"asg_names", "target_version"}  # a real value, not the default, so the input makes sense
    assert set(shown) == {"asg_names"} | set(DEFAULTS)
    assert {k: v for k, v in shown.items() if k not in example} == {
        k: v for k, v in DEFAULTS.items() if k not in example
    }


def test_a_default_the_prose_mentions_is_the_schema_default() -> None:
    """Sentences such as "`bake_seconds` (300 by default)" anywhere in docs/."""
    said = [
        (page.name, field, number)
        for page in sorted(DOC.parent.glob("*.md"))
        for field, number in re.findall(r"`(\w+)` \(([\d,]+) by default", " ".join(page.read_text("utf-8").split()))
    ]
    assert len(said) >= 2, "the sentences moved; point this test at them again"
    for page, field, number in said:
        assert int(number.replace(",", "")) == DEFAULTS[field], f"{page}: {field}"
