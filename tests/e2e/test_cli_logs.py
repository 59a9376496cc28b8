"""`jobtui logs` against the real stack: tails per instance, --since, -f, usage errors."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

JOBTUI = str(Path(sys.executable).with_name("jobtui"))


def jobtui(stack: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JOBTUI, "-i", str(stack.inventory), *args], capture_output=True, text=True, timeout=60
    )


def prefixes(output: str) -> Counter[str]:
    return Counter(line.split(" | ", 1)[0].split()[-1] for line in output.splitlines())


def test_tail_prints_that_many_lines_of_each_instance_with_prefixes(stack: Any) -> None:
    result = jobtui(stack, "logs", "worker", "--tail", "5")
    assert result.returncode == 0, result.stderr
    counts = prefixes(result.stdout)
    assert sorted(prefix.split("/")[0] for prefix in counts) == ["host-a", "host-b"]
    assert all(prefix.split("/")[1].startswith("worker") for prefix in counts)
    assert list(counts.values()) == [5, 5]
    for line in result.stdout.splitlines():
        text = line.split(" | ", 1)[1]
        assert text.startswith("worker ") and "tick" in text


def test_since_keeps_only_recent_lines_in_time_order(stack: Any) -> None:
    asked = time.time()
    result = jobtui(stack, "logs", "worker", "--since", "10s", "--timestamps")
    assert result.returncode == 0, result.stderr
    stamps = [
        datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp()
        for line in result.stdout.splitlines()
    ]
    assert stamps == sorted(stamps), "merged lines must be in time order"
    assert all(stamp >= asked - 11 for stamp in stamps)
    # The worker says one line a second on each host.
    assert all(7 <= count <= 12 for count in prefixes(result.stdout).values())
    assert len(prefixes(result.stdout)) == 2


def test_follow_prints_new_lines_of_one_host_until_interrupted(stack: Any) -> None:
    command = [JOBTUI, "-i", str(stack.inventory), "logs", "worker", "-f", "--tail", "0"]
    process = subprocess.Popen(
        [*command, "--host", "host-b"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    arrived: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            arrived.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 15
        lines: list[str] = []
        while len(lines) < 2 and time.monotonic() < deadline:
            try:
                lines.append(arrived.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        assert len(lines) >= 2, "no live lines within 15 s"
        assert all(line.startswith("host-b/worker") for line in lines)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_usage_errors_exit_2(stack: Any) -> None:
    unknown = jobtui(stack, "logs", "nope")
    assert unknown.returncode == 2 and "no service 'nope'" in unknown.stderr
    elsewhere = jobtui(stack, "logs", "web", "--host", "host-b")
    assert elsewhere.returncode == 2 and "does not run on host-b" in elsewhere.stderr
    bad_since = jobtui(stack, "logs", "worker", "--since", "yesterday-ish")
    assert bad_since.returncode == 2 and "--since" in bad_since.stderr
    bad_tail = jobtui(stack, "logs", "worker", "--tail", "-3")
    assert bad_tail.returncode == 2 and "--tail" in bad_tail.stderr
