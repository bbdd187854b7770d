"""Suite-wide settings: loopback only, for every test.

No test may connect anywhere but this machine: moto gives instances 10.x addresses, and a probe of
one would reach whatever network the machine sits on. Two guards, both always on:
- every function the tests run (in this process, or in a ``local up`` they start, which inherits
  the environment) probes loopback addresses only (``PROBE_LOOPBACK_ONLY``, as the local stack
  sets it), and refuses any other without connecting;
- every socket this process opens may connect to loopback only; a test that tries anything else
  fails, naming the address.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import pytest

from asg_terminator import loopback

if TYPE_CHECKING:
    from collections.abc import Iterator

os.environ["PROBE_LOOPBACK_ONLY"] = "true"

# moto's interpreter logs every failed state (which our failure scenarios cause on purpose) with
# its whole parse tree; what a test needs is in the execution history it asserts on.
logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[list[object]]:
    """Fail any test that tries to connect anywhere but loopback (moto's 10.x instances, AWS itself);
    yields the addresses refused, for a test that wants to show none was tried."""
    refused, lift = loopback.guard("tests")
    try:
        yield refused
    finally:
        lift()
    assert refused == [], f"a test tried to connect beyond loopback: {refused}"
