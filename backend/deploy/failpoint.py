"""A hold point for crash tests: stop a rollout at a named step until told to go on.

The end-to-end tests send signals to jobtui and its runner "at each step";
steps take milliseconds, so a test sets ``JOBTUI_TEST_HOLD=<step>:<file>`` and
every step of that name waits, after its ``running`` event, while ``<file>``
exists (at most :data:`LONGEST` seconds). Unset — always, outside tests —
it costs one environment look-up per step.
"""

from __future__ import annotations

import os
import time

HOLD_ENV = "JOBTUI_TEST_HOLD"
LONGEST = 30.0


def hold(step: str, host: str) -> None:
    """Wait here while the test's hold file exists, if ``step`` is the one it names."""
    spec = os.environ.get(HOLD_ENV)
    if not spec:
        return
    name, _, path = spec.partition(":")
    name, _, where = name.partition("@")
    if name != step or (where and where != host) or not path:
        return
    deadline = time.monotonic() + LONGEST
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.02)  # polling a file the test deletes
