"""Suite-wide settings."""

from __future__ import annotations

import logging

# moto's interpreter logs every failed state (which our failure scenarios cause on purpose) with
# its whole parse tree; what a test needs is in the execution history it asserts on.
logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
