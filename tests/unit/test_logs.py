"""Log decoding, the bounded ring, batching and --since parsing, without Docker.

The follower is driven through its ``opener`` seam with in-memory streams;
the real daemons are exercised in tests/e2e/test_logs_e2e.py.
"""

from __future__ import annotations

import itertools
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

import pytest

from jobtui.backend.docker.hosts import HostConnection
from jobtui.backend.logs.decode import LogDecoder
from jobtui.backend.logs.follower import LogFollower
from jobtui.backend.logs.lines import LineRing, LogLine
from jobtui.backend.logs.stream import LogTarget, service_targets
from jobtui.backend.model import LABEL_SERVICE, ContainerInfo
from jobtui.backend.times import parse_since
from jobtui.config.models import Host

BASE = 1714564800.0  # 2024-05-01T12:00:00Z


def stamp(offset: float) -> str:
    """Docker's RFC 3339 nano prefix for BASE + offset seconds."""
    whole = int(offset)
    nanos = round((offset - whole) * 1e9)
    return f"2024-05-01T12:{whole // 60:02d}:{whole % 60:02d}.{nanos:09d}Z"


def frame(stream: int, payload: str | bytes) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return struct.pack(">BxxxL", stream, len(data)) + data


def texts(lines: Iterable[LogLine]) -> list[str]:
    return [line.text for line in lines]


def feed_in_pieces(decoder: LogDecoder, data: bytes, size: int) -> list[LogLine]:
    out: list[LogLine] = []
    for start in range(0, len(data), size):
        out += decoder.feed(data[start : start + size])
    return out + decoder.finish()


# --- LogDecoder: frames are not lines -------------------------------------------------


@pytest.mark.parametrize("piece", [1, 3, 7, 1000])
def test_frames_read_in_any_pieces_give_the_same_lines(piece: int) -> None:
    data = b"".join(
        [
            frame(1, f"{stamp(0.5)} first\n"),
            frame(2, f"{stamp(1)} oops\n"),
            frame(1, f"{stamp(2.25)} second\n"),
        ]
    )
    lines = feed_in_pieces(LogDecoder("host-a", "web_1"), data, piece)
    assert [(ln.text, ln.stream) for ln in lines] == [
        ("first", "stdout"),
        ("oops", "stderr"),
        ("second", "stdout"),
    ]
    assert [ln.timestamp for ln in lines] == pytest.approx([BASE + 0.5, BASE + 1, BASE + 2.25])
    assert {ln.prefix for ln in lines} == {"host-a/web_1"}


def test_a_line_split_over_messages_keeps_the_first_timestamp_and_drops_the_others() -> None:
    # Docker cuts lines longer than 16 KiB into messages, each with its own stamp;
    # stderr may come in between.
    decoder = LogDecoder("h", "c")
    lines = decoder.feed(frame(1, f"{stamp(1)} part-a"))
    assert lines == []
    lines += decoder.feed(frame(2, f"{stamp(2)} err\n"))
    lines += decoder.feed(frame(1, f"{stamp(3)} part-b"))
    lines += decoder.feed(frame(1, f"{stamp(4)} part-c\n"))
    assert [(ln.text, ln.stream) for ln in lines] == [
        ("err", "stderr"),
        ("part-apart-bpart-c", "stdout"),
    ]
    assert [ln.timestamp for ln in lines] == pytest.approx([BASE + 2, BASE + 1])
    assert decoder.finish() == []


def test_a_last_line_without_newline_comes_out_at_the_end() -> None:
    decoder = LogDecoder("h", "c")
    assert texts(decoder.feed(frame(1, f"{stamp(1)} done\n") + frame(1, f"{stamp(2)} bye"))) == [
        "done"
    ]
    assert texts(decoder.finish()) == ["bye"]
    assert decoder.finish() == []


def test_a_tty_stream_is_split_on_newlines_and_loses_its_carriage_returns() -> None:
    decoder = LogDecoder("h", "c", tty=True)
    data = f"{stamp(1)} hello\r\n{stamp(2)} world\r\n{stamp(3)} tail".encode()
    lines = feed_in_pieces(decoder, data, 5)
    assert [(ln.text, ln.stream) for ln in lines] == [
        ("hello", "tty"),
        ("world", "tty"),
        ("tail", "tty"),
    ]
    assert lines[1].timestamp == pytest.approx(BASE + 2)


def test_the_daemons_own_errors_have_no_stamp_and_get_the_arrival_time() -> None:
    decoder = LogDecoder("h", "c", clock=lambda: 42.0)
    (line,) = decoder.feed(frame(3, "Error grabbing logs: log file gone\n"))
    assert (line.text, line.stream, line.timestamp) == (
        "Error grabbing logs: log file gone",
        "daemon",
        42.0,
    )


def test_over_long_lines_are_cut_so_memory_stays_bounded() -> None:
    decoder = LogDecoder("h", "c", max_line=10)
    complete = decoder.feed(frame(1, f"{stamp(1)} {'x' * 25}\n"))
    assert texts(complete) == ["x" * 10, "x" * 10, "x" * 5]
    # An endless line without newline is emitted once it outgrows the limit.
    endless = decoder.feed(frame(1, f"{stamp(2)} {'y' * 12}"))
    assert texts(endless) == ["y" * 10, "y" * 2]
    tty = LogDecoder("h", "c", tty=True, max_line=10)
    assert texts(tty.feed(f"{stamp(1)} {'z' * 15}".encode())) == ["z" * 10, "z" * 5]


def test_a_character_split_between_reads_is_kept_whole() -> None:
    data = frame(1, f"{stamp(1)} grüße €\n".encode())
    cut = data.index("€".encode()) + 1
    decoder = LogDecoder("h", "c")
    assert decoder.feed(data[:cut]) == []
    assert texts(decoder.feed(data[cut:])) == ["grüße €"]


def test_timestamps_keep_sub_microsecond_fractions_and_honour_offsets() -> None:
    decoder = LogDecoder("h", "c")
    (utc,) = decoder.feed(frame(1, "2024-05-01T12:00:00.123456789Z a\n"))
    assert utc.timestamp == pytest.approx(BASE + 0.123456789, abs=1e-6)
    (offset,) = decoder.feed(frame(1, "2024-05-01T12:00:00.5+02:00 b\n"))
    assert offset.timestamp == pytest.approx(BASE - 7200 + 0.5)
    (plain,) = LogDecoder("h", "c", clock=lambda: 7.0).feed(frame(1, "no stamp here\n"))
    assert (plain.text, plain.timestamp) == ("no stamp here", 7.0)


# --- LineRing ---------------------------------------------------------------------------


def test_the_ring_keeps_the_newest_lines_and_counts_what_it_dropped() -> None:
    ring: LineRing[int] = LineRing(3)
    ring.extend([1, 2])
    ring.append(3)
    assert (ring.snapshot(), ring.dropped) == ([1, 2, 3], 0)
    ring.extend([4, 5, 6, 7])
    assert ring.snapshot() == [5, 6, 7]
    assert (len(ring), ring.dropped, ring.total) == (3, 4, 7)
    assert ring.drain() == ([5, 6, 7], 4)
    ring.append(8)
    assert ring.drain() == ([8], 0)  # drops are reported once
    with pytest.raises(ValueError):
        LineRing(0)


def test_the_ring_is_safe_to_fill_from_many_threads() -> None:
    ring: LineRing[int] = LineRing(1000)

    def fill(base: int) -> None:
        for i in range(5000):
            ring.append(base + i)

    threads = [threading.Thread(target=fill, args=(n * 10_000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(ring), ring.total, ring.dropped) == (1000, 20_000, 19_000)


# --- parse_since --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ago"),
    [("30s", 30), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("1.5h", 5400), ("2d", 172800),
     ("500ms", 0.5), (" 5m ", 300)],
)  # fmt: skip
def test_since_durations_count_back_from_now(text: str, ago: float) -> None:
    assert parse_since(text, now=1_000_000.0) == pytest.approx(1_000_000.0 - ago)


def test_since_accepts_points_in_time() -> None:
    assert parse_since("1700000000.5") == 1700000000.5
    assert parse_since("2024-05-01T12:00:00Z") == BASE
    assert parse_since("2024-05-01T14:00:00+02:00") == BASE
    # No zone means UTC (the one time-zone policy, README "Times").
    assert parse_since("2024-05-01 12:00") == datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("text", ["", "yesterday", "10x", "-5m", "m", "1h 30m"])
def test_since_rejects_nonsense_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_since(text)


# --- LogFollower with in-memory streams ------------------------------------------------------


class FakeStream:
    """A logs response: hands out ``chunks``, then ends or (following) waits to be closed."""

    def __init__(self, chunks: Iterable[bytes], *, tty: bool = False, hold: bool = True) -> None:
        self.tty = tty
        self.closed = threading.Event()
        self._chunks: Iterator[bytes] = iter(chunks)
        self._hold = hold

    def read(self) -> bytes:
        if not self.closed.is_set():
            for chunk in self._chunks:
                return chunk
            if self._hold:
                self.closed.wait()
        return b""

    def close(self) -> None:
        self.closed.set()


Opener = Callable[[LogTarget, int | None, float | None, bool], FakeStream]


def serve(streams: dict[str, FakeStream]) -> Opener:
    def opener(
        target: LogTarget, tail: int | None, since: float | None, follow: bool
    ) -> FakeStream:
        return streams[target.container_id]

    return opener


def target(host: str, name: str) -> LogTarget:
    return LogTarget(None, f"id-{name}", host, name)


def numbered(count: int | None, *, start: float = 0.0, step: float = 0.001) -> Iterator[bytes]:
    for i in itertools.count() if count is None else range(count):
        yield frame(1, f"{stamp(start + i * step)} line {i}\n")


def wait_for(check: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[tuple[float, list[LogLine], int]] = []
        self.delay = delay

    def __call__(self, batch: list[LogLine], dropped: int) -> None:
        self.batches.append((time.monotonic(), batch, dropped))
        time.sleep(self.delay)

    @property
    def lines(self) -> list[LogLine]:
        return [line for _, batch, _ in self.batches for line in batch]


def test_lines_of_several_containers_arrive_merged_in_few_timestamp_ordered_batches() -> None:
    before = set(threading.enumerate())
    streams = {
        "id-w1": FakeStream(numbered(500, start=0.0), hold=False),
        "id-w2": FakeStream(numbered(500, start=0.0005), hold=False),
    }
    recorder = Recorder()
    follower = LogFollower(
        [target("host-a", "w1"), target("host-b", "w2")],
        recorder, follow=False, interval=0.05, opener=serve(streams),
    )  # fmt: skip
    follower.start()
    assert follower.wait(5)
    assert follower.stop()
    assert set(threading.enumerate()) <= before
    lines = recorder.lines
    assert len(lines) == 1000 and len(recorder.batches) < 10
    assert {line.prefix for line in lines} == {"host-a/w1", "host-b/w2"}
    for _, batch, dropped in recorder.batches:
        assert dropped == 0
        assert [ln.timestamp for ln in batch] == sorted(ln.timestamp for ln in batch)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(recorder.batches)]
    assert all(gap >= 0.04 for gap in gaps), gaps
    assert follower.ring.snapshot() == lines
    assert all(stream.closed.is_set() for stream in streams.values())


def test_a_slow_consumer_gets_bounded_batches_and_a_drop_count() -> None:
    streams = {"id-yes": FakeStream(numbered(None))}
    recorder = Recorder(delay=0.2)
    follower = LogFollower(
        [target("host-a", "yes")], recorder,
        capacity=800, queue_size=500, interval=0.02, opener=serve(streams),
    )  # fmt: skip
    follower.start()
    peak = 0
    deadline = time.monotonic() + 5
    while len(recorder.batches) < 4 and time.monotonic() < deadline:
        peak = max(peak, follower.stats().pending)
        time.sleep(0.005)
    assert follower.stop(timeout=2)
    stats = follower.stats()
    assert stats.received == stats.delivered + stats.dropped + stats.pending
    assert stats.dropped > 0 and peak <= 500
    assert len(follower.ring) <= 800 and follower.ring.total == stats.delivered
    assert all(len(batch) <= 500 for _, batch, _ in recorder.batches)
    assert sum(dropped for _, _, dropped in recorder.batches) > 0
    # The newest lines win: each batch ends with the last line read before it.
    numbers = [int(line.text.split()[1]) for line in recorder.lines]
    assert numbers == sorted(numbers)


def test_paused_lines_wait_in_the_bounded_queue_and_arrive_on_resume() -> None:
    streams = {"id-c": FakeStream(numbered(100))}
    recorder = Recorder()
    follower = LogFollower(
        [target("h", "c")], recorder, queue_size=30, interval=0.02, opener=serve(streams)
    )
    follower.pause()
    with follower:
        wait_for(lambda: follower.stats().received == 100)
        time.sleep(0.1)  # several flush intervals pass while paused
        assert recorder.batches == [] and len(follower.ring) == 0
        follower.resume()
        wait_for(lambda: recorder.batches)
    (_, batch, dropped) = recorder.batches[0]
    assert (len(batch), dropped) == (30, 70)
    assert (batch[0].text, batch[-1].text) == ("line 70", "line 99")


def test_stop_closes_the_streams_and_ends_every_thread_promptly() -> None:
    before = set(threading.enumerate())
    streams = {"id-a": FakeStream(numbered(None)), "id-b": FakeStream(numbered(3))}
    recorder = Recorder()
    follower = LogFollower(
        [target("host-a", "a"), target("host-b", "b")], recorder,
        interval=0.02, opener=serve(streams),
    )  # fmt: skip
    follower.start()
    wait_for(lambda: recorder.batches)
    started = time.monotonic()
    assert follower.stop(timeout=2)
    assert time.monotonic() - started < 0.5
    calls = len(recorder.batches)
    assert all(stream.closed.is_set() for stream in streams.values())
    assert set(threading.enumerate()) <= before
    time.sleep(0.05)
    assert len(recorder.batches) == calls


def test_a_failing_or_ending_stream_is_reported_as_a_note_in_the_output() -> None:
    def opener(
        target: LogTarget, tail: int | None, since: float | None, follow: bool
    ) -> FakeStream:
        if target.container == "gone":
            raise ConnectionRefusedError("refused")
        return FakeStream([frame(1, f"{stamp(1)} last words\n")], hold=False)

    recorder = Recorder()
    follower = LogFollower(
        [target("host-a", "gone"), target("host-b", "quits")], recorder,
        interval=0.02, opener=opener,
    )  # fmt: skip
    with follower:
        assert follower.wait(5)
    notes = {line.prefix: line.text for line in recorder.lines if line.stream == "jobtui"}
    assert "connection refused" in notes["host-a/gone"]
    assert notes["host-b/quits"].startswith("log stream ended")
    assert "connection refused" in follower.errors["host-a/gone"]
    assert "last words" in texts(recorder.lines)


def test_the_opener_gets_tail_since_and_follow() -> None:
    seen: list[tuple[int | None, float | None, bool]] = []

    def opener(
        target: LogTarget, tail: int | None, since: float | None, follow: bool
    ) -> FakeStream:
        seen.append((tail, since, follow))
        return FakeStream([], hold=False)

    with LogFollower([target("h", "c")], Recorder(), tail=5, since=12.5, follow=False,
                     interval=0.01, opener=opener) as follower:  # fmt: skip
        assert follower.wait(5)
    assert seen == [(5, 12.5, False)]


def test_service_targets_are_the_running_instances_on_known_hosts() -> None:
    pool = {name: HostConnection(Host(name, f"unix:///nowhere/{name}.sock")) for name in "ab"}

    def info(
        name: str, host: str, state: str = "running", service: str = "worker"
    ) -> ContainerInfo:
        return ContainerInfo(
            f"id-{name}", name, host, "img", state, labels={LABEL_SERVICE: service}
        )

    containers = [
        info("worker_2", "b"), info("worker_1", "a"), info("worker_0", "a", state="exited"),
        info("web_1", "a", service="web"), info("worker_9", "z"),
    ]  # fmt: skip
    targets = service_targets(containers, "worker", pool)
    assert [(t.label, t.container_id) for t in targets] == [
        ("a/worker_1", "id-worker_1"),
        ("b/worker_2", "id-worker_2"),
    ]
    assert targets[0].connection is pool["a"] and targets[0].url() == "unix:///nowhere/a.sock"
