"""One release per ASG at a time, recorded on the ASG itself as the tag ``asg-terminator:release``.

Operators see the holder in the console. A holder whose execution has ended (stopped by hand, say)
no longer counts, and the next execution of a chain (see chain.py) takes over its predecessor's lock.
Two releases racing for the same ASG both write the tag, wait, and read it back:
the last writer keeps it and the other fails with ``AsgLockedError`` before touching anything.
"""

from __future__ import annotations

from tasks.errors import AsgLockedError

LOCK_TAG = "asg-terminator:release"


def may_take(asg_name: str, me: str, holder: str | None, holder_running: bool, takes_over: str | None = None) -> bool:
    """Whether ``me`` may write the lock; raises AsgLockedError naming a live holder."""
    if holder is None or holder in (me, takes_over):
        return True
    if holder_running:
        raise AsgLockedError(f"{asg_name}: being released by {holder}; nothing was terminated by {me}")
    return True


def confirm(asg_name: str, me: str, holder: str | None) -> None:
    """After writing and waiting: the tag must still name ``me``."""
    if holder != me:
        raise AsgLockedError(
            f"{asg_name}: {holder or 'another release'} took the lock at the same time; nothing was terminated by {me}"
        )
