"""Watching instances boot: a Task that would otherwise leave a boot to the next poll (CheckReplacement
with a batch's replacements, WatchBooting with a wait's booting instances) probes them for up to a
poll instead, and sees the boot end.

A watch fits in its Task's timeout, with room for its last probe and for the read that follows it.
"""

from __future__ import annotations

import math

TASK_TIMEOUT_SECONDS = 60
"""The Task timeout of the states that watch (state_machines/build.py), as long as their functions'
(infra/template.yaml)."""
MARGIN_SECONDS = 10  # of the Task's timeout, kept for reading the fleet around a watch
EVERY_SECONDS = 0.2  # the most often a watch probes


def seconds(poll_seconds: int, probe_timeout_seconds: float, spent: float, then_read: float = 0.0) -> float:
    """How long a Task may watch: a poll at most, and only as long as its timeout leaves room for
    the watch's last probe and the read that follows it (``spent``: what the Task has taken so
    far; ``then_read``: how long the read it makes once the watch sees the boot end will take, as
    long as its read before took: a CheckReplacement's). 0: no watch."""
    room = TASK_TIMEOUT_SECONDS - MARGIN_SECONDS - 2 * probe_timeout_seconds - spent - then_read
    return max(0.0, min(float(poll_seconds), room))


def rest(poll_seconds: int, watched: float) -> int:
    """What is left of the poll after a watch of ``watched`` seconds, for the Wait that follows it
    (0 when the watch took all of it)."""
    return max(0, math.floor(poll_seconds - watched))


def every(poll_seconds: int) -> float:
    """Between two probes of a watch: a twentieth of a poll, at least EVERY_SECONDS."""
    return max(EVERY_SECONDS, poll_seconds / 20)
