"""events_of: every page of an execution's history, or at most ``max_pages`` of them."""

from __future__ import annotations

from typing import Any

from asg_terminator.history import TERMINAL, events_of


class PagedSfn:
    """A history of ``pages`` pages of one event each, linked by nextToken."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        index = int(kwargs.get("nextToken", "0"))
        page: dict[str, Any] = {"events": [{"id": index + 1}]}
        if index + 1 < self.pages:
            page["nextToken"] = str(index + 1)
        return page


def test_events_of_reads_every_page_by_default() -> None:
    sfn = PagedSfn(5)
    assert [e["id"] for e in events_of(sfn, "arn")] == [1, 2, 3, 4, 5]
    assert [c.get("nextToken") for c in sfn.calls] == [None, "1", "2", "3", "4"]


def test_events_of_stops_at_max_pages() -> None:
    sfn = PagedSfn(5)
    assert [e["id"] for e in events_of(sfn, "arn", max_pages=2)] == [1, 2]
    assert len(sfn.calls) == 2


def test_events_of_bound_larger_than_the_history_reads_it_all() -> None:
    assert [e["id"] for e in events_of(PagedSfn(3), "arn", max_pages=20)] == [1, 2, 3]


def test_terminal_statuses_are_describe_executions_final_ones() -> None:
    assert set(TERMINAL) == {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
    assert "RUNNING" not in TERMINAL
