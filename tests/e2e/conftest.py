"""The real stack for end-to-end tests: a stack of the suite's own.

The session fixture `stack` runs `scripts/stack up` on the suite's directory
(`$JOBTUI_TEST_STACK_DIR`, default /tmp/jobtui-test-stack; never the demo's
/tmp/jobtui-stack nor `$JOBTUI_STACK_DIR`, which point at the demo), whose
ports scripts/stack chooses free at its first `up` and records in its
ports.env, then `scripts/stack reset`: every container of its hosts and
every etcd key go and the demo services are deployed afresh. So every
session starts from the same state, whatever an earlier run or a person
left, and the demo a person runs beside it is never touched.

At the end the session stops the stack again if it brought it up; a stack
that was already up (a warm one kept for quick reruns, or
`JOBTUI_TEST_STACK_KEEP=1`) is left running. Sessions on the same
directory take turns (a lock next to it). Nothing here skips: a missing
package or a part that will not start fails the session loudly.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack_support import (
    KEEP_ENV,
    UP_TIMEOUT,
    Stack,
    parse_env_file,
    prepare_stack,
    run_stack_script,
    session_lock,
    suite_stack_dir,
)

__all__ = ["Stack", "parse_env_file"]  # tests import these from conftest

E2E_DIR = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    """Let jobtui see the signals these tests send, as from an operator's terminal.

    A suite started with SIGINT or SIGHUP ignored (under ``nohup``, or as
    ``cmd &`` from a shell without job control) hands the ignore down to every
    process it starts, and an ignored signal stays ignored across ``exec``:
    jobtui would never see the Ctrl-C or hang-up a test sends. Start from the
    dispositions an interactive shell gives a foreground command.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as `e2e` (select or deselect with -m)."""
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The suite's own stack, up and reset; stopped at the end if this session started it."""
    stack_dir = suite_stack_dir()
    with session_lock(stack_dir):
        described, was_up = prepare_stack(stack_dir)
        try:
            yield described
        finally:
            if not was_up and os.environ.get(KEEP_ENV) != "1":
                run_stack_script("down", stack_dir=stack_dir, timeout=UP_TIMEOUT)
