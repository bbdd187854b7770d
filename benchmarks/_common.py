"""What every benchmark shares: loopback-only networking, fake AWS credentials, and rich tables.

Benchmarks print numbers; they never assert on them. Each one runs as its own script (a fresh
process, so caches and cold starts are real) and bounds every loop in count and in time.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

REGION = "us-east-1"
OLD = "1.0.266"
NEW = "1.0.274"

console = Console(width=int(os.environ.get("BENCH_WIDTH", "140")))


def loopback_only() -> list[Any]:
    """Refuse, in this process, every socket connection that is not to loopback (moto's 10.x
    instance addresses, AWS itself). Returns the list the refused addresses are appended to."""
    from asg_terminator import loopback

    refused, _ = loopback.guard("benchmarks")
    return refused


def fake_aws_environment() -> None:
    """moto only: fake credentials, one region, no instance metadata, no endpoint or profile overrides."""
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    for key in list(os.environ):
        if key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "PROBE_CONCURRENCY") or key.startswith("AWS_ENDPOINT_URL"):
            del os.environ[key]


def table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    caption: str | None = None,
    left: int = 1,
    text_columns: Sequence[int] = (),
) -> None:
    """A rich table: the first ``left`` columns and ``text_columns`` are left-aligned, the rest (numbers) right."""
    shown = Table(title=title, caption=caption, caption_justify="left", title_justify="left")
    for index, column in enumerate(columns):
        shown.add_column(column, justify="left" if index < left or index in text_columns else "right")
    for row in rows:
        shown.add_row(*(str(cell) for cell in row))
    console.print(shown)


def note(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def kib(size_bytes: int) -> float:
    return size_bytes / 1024
