"""The log view's buffer: bounded, numbered lines, search matches and grep -C filtering."""

from __future__ import annotations

import pytest

from jobtui.backend.logs.lines import LogLine
from jobtui.widgets.log_buffer import LogBuffer, clean_text


def _lines(texts: list[str], host: str = "h") -> list[LogLine]:
    return [LogLine(host, "c", float(i), text) for i, text in enumerate(texts)]


def _shown(buffer: LogBuffer) -> list[str]:
    return [buffer.entry(seq).line.text for seq in buffer.shown()]


def test_keeps_the_newest_lines_and_numbers_them_for_good() -> None:
    buffer = LogBuffer(3)
    buffer.append(_lines(["a", "b"]))
    buffer.append(_lines(["c", "d", "e"]))
    assert len(buffer) == 3 and buffer.total == 5 and buffer.first_seq == 2
    assert [line.text for line in buffer.lines()] == ["c", "d", "e"]
    assert buffer.entry(4).line.text == "e"
    with pytest.raises(ValueError):
        LogBuffer(0)


def test_search_is_case_insensitive_over_text_and_prefix_and_follows_new_lines() -> None:
    buffer = LogBuffer(10)
    buffer.append(_lines(["Error one", "fine", "an ERROR", "fine"]))
    buffer.set_search("error")
    assert buffer.matches == [0, 2]
    buffer.append(_lines(["error again"]))
    assert buffer.matches == [0, 2, 4]
    buffer.set_search("h/c")  # the host/container prefix matches every line
    assert buffer.matches == [0, 1, 2, 3, 4]
    buffer.set_search("a+b")  # literal, not a regular expression
    assert buffer.matches == []


def test_filter_shows_matches_with_context_and_marks_gaps() -> None:
    texts = [f"l{i}" for i in range(20)]
    texts[5] = texts[7] = texts[15] = "hit"
    buffer = LogBuffer(100)
    buffer.append(_lines(texts))
    buffer.set_search("hit")
    buffer.set_filter(True, 1)
    assert _shown(buffer) == ["l4", "hit", "l6", "hit", "l8", "l14", "hit", "l16"]
    assert buffer.gaps == {14}
    # Context after a match arrives with later lines; before one, from held lines.
    buffer.append(_lines(["l20", "l21", "hit", "l23"]))
    assert _shown(buffer)[-4:] == ["l16", "l21", "hit", "l23"]
    assert buffer.gaps == {14, 21}
    buffer.set_filter(True, 0)
    assert _shown(buffer) == ["hit"] * 4
    buffer.set_filter(False, 0)
    assert len(_shown(buffer)) == 24


def test_filtered_rows_and_gaps_leave_with_their_lines() -> None:
    buffer = LogBuffer(6)
    buffer.append(_lines(["hit", "x", "x", "x", "hit", "x"]))
    buffer.set_search("hit")
    buffer.set_filter(True, 0)
    assert list(buffer.shown()) == [0, 4] and buffer.gaps == {4}
    buffer.append(_lines(["x"]))  # line 0 leaves the buffer
    assert list(buffer.shown()) == [4] and buffer.gaps == set()
    assert buffer.matches == [4]
    assert buffer.row_index(4) == 0 and buffer.row_index(5) is None
    assert buffer.nearest_row(2) == 0


def test_a_new_source_with_a_longer_name_widens_the_prefix_column() -> None:
    buffer = LogBuffer(10)
    assert buffer.append(_lines(["a"], host="web-1"))
    assert not buffer.append(_lines(["b"], host="web-2"))
    assert buffer.append(_lines(["c"], host="batch-host-7"))
    assert buffer.sources == {"web-1/c": 0, "web-2/c": 1, "batch-host-7/c": 2}
    assert buffer.prefix_width == len("batch-host-7/c")


def test_clean_text_drops_escape_sequences_and_shows_controls() -> None:
    assert clean_text("\x1b[31mred\x1b[0m plain") == "red plain"
    assert clean_text("a\tb") == "a       b"
    assert clean_text("bell\x07 and \x00nul") == "bell\ufffd and \ufffdnul"
    assert clean_text("ünïcödé ok") == "ünïcödé ok"
