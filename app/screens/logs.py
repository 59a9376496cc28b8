"""Follow the logs of every running instance of a service, merged, with search and filter.

Lines arrive on the log source's thread; they go into a bounded inbox and a
coalescing message wakes the screen, which writes whatever piled up in one
batch. A flood therefore costs at most one view update per message and a
fixed amount of memory, and what could not be kept is counted and shown.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.markup import escape
from textual.widgets import Footer, Header, Input, Label, Static

from jobtui.app.actions import Scope, bindings
from jobtui.app.log_source import LogHandle, LogSource
from jobtui.app.messages import LogLinesArrived
from jobtui.app.screens.base import JobtuiScreen
from jobtui.backend.docker import belongs_to
from jobtui.backend.logs import LineRing, LogLine
from jobtui.backend.model import ContainerInfo, FleetSnapshot
from jobtui.widgets.log_view import LogView, format_timestamp

DEFAULT_TAIL = 200
"""Lines of history shown per instance when the screen opens."""
DEFAULT_CONTEXT = 2
"""Lines kept around each match in filter mode."""
RATE_WINDOW = 2.0
"""Seconds over which lines/s is averaged."""
STATUS_INTERVAL = 1.0


class LogsScreen(JobtuiScreen):
    """The merged log of one service's running instances."""

    CSS_PATH = "logs.tcss"
    AUTO_FOCUS = "#log"

    BINDINGS = bindings(Scope.LOGS)

    def __init__(
        self,
        service: str,
        source: LogSource,
        *,
        capacity: int,
        tail: int = DEFAULT_TAIL,
        context: int = DEFAULT_CONTEXT,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.source = source
        self.capacity = capacity
        self.tail = tail
        self.context = context
        self.save_dir = save_dir
        """Where ``s`` writes; the working directory when ``None``."""
        self._inbox: LineRing[LogLine] = LineRing(capacity)
        self._lock = threading.Lock()
        self._source_dropped = 0
        self._dropped = 0
        self._received = 0
        self._arrivals: deque[tuple[float, int]] = deque()
        self._handles: list[LogHandle] = []
        self._following: dict[str, ContainerInfo] = {}
        self._paused = False
        self._search_before = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield LogView(self.capacity, id="log", classes="panel")
        with Horizontal(id="search-bar"):
            yield Label("/", id="search-prompt")
            yield Input(id="search", placeholder="search (enter: go to newest match, esc: cancel)")
        yield Static(id="log-status")
        yield Footer()

    def on_mount(self) -> None:
        view = self.view
        view.context = self.context
        view.border_title = f"{escape(self.service)} · logs"
        self.query_one("#search-bar").display = False
        self.show_fleet(self.jobtui.snapshot)
        self.set_interval(STATUS_INTERVAL, self._show_status)
        self._show_status()

    def on_unmount(self) -> None:
        handles, self._handles = self._handles, []
        if handles:
            # Stopping joins reader threads: never on the event loop, and it
            # must finish even though this screen is gone.
            threading.Thread(
                target=_stop_all, args=(handles,), name="jobtui-logs stop", daemon=True
            ).start()

    @property
    def view(self) -> LogView:
        return self.query_one("#log", LogView)

    @property
    def following(self) -> list[ContainerInfo]:
        """The containers whose logs this screen follows."""
        return list(self._following.values())

    @property
    def dropped(self) -> int:
        """Lines lost because the screen could not keep up."""
        return self._dropped

    # -- following ---------------------------------------------------------------------------

    def show_fleet(self, snapshot: FleetSnapshot) -> None:
        running = {
            c.id: c for c in snapshot.containers() if c.running and belongs_to(c, self.service)
        }
        # A stopped instance's stream ends by itself (with a note in the log).
        gone = [ident for ident in self._following if ident not in running]
        new = [c for ident, c in running.items() if ident not in self._following]
        for ident in gone:
            del self._following[ident]
        if new and not self._handles:
            self._follow(new, tail=self.tail)
        else:
            for container in new:
                # Started (or restarted) while the screen is open, e.g. by a rollout:
                # everything since its start, and nothing twice.
                since = container.started_at
                self._follow([container], tail=self.tail if since is None else None, since=since)
        self._following.update((c.id, c) for c in new)
        if new or gone:
            names = ", ".join(f"{c.host}/{c.name}" for c in self.following)
            self.view.border_subtitle = escape(names)
            self._show_status()

    def _follow(
        self, containers: list[ContainerInfo], *, tail: int | None, since: float | None = None
    ) -> None:
        handle = self.source.follow(containers, self._lines_arrived, tail=tail, since=since)
        self._handles.append(handle)
        if self._paused:
            handle.pause()

    def _lines_arrived(self, batch: list[LogLine], dropped: int) -> None:
        # On the source's thread: park the lines and wake the screen, never wait.
        self._inbox.extend(batch)
        if dropped:
            with self._lock:
                self._source_dropped += dropped
        self.post_message(LogLinesArrived())

    def on_log_lines_arrived(self, message: LogLinesArrived) -> None:
        batch, overflow = self._inbox.drain()
        with self._lock:
            lost, self._source_dropped = self._source_dropped + overflow, 0
        if not batch and not lost:
            return
        self._dropped += lost
        self._received += len(batch) + lost
        self._arrivals.append((self.jobtui.clock(), len(batch) + lost))
        self.view.write_lines(batch)
        self._show_status()

    # -- status ------------------------------------------------------------------------------

    def _rate(self) -> float:
        now = self.jobtui.clock()
        while self._arrivals and self._arrivals[0][0] < now - RATE_WINDOW:
            self._arrivals.popleft()
        return sum(count for _, count in self._arrivals) / RATE_WINDOW

    def _show_status(self) -> None:
        view = self.view
        parts: list[str | tuple[str, str]] = []
        if not self._following:
            parts.append((f"no running instance of {self.service}", "$text-warning"))
        elif self._paused:
            parts.append(("❚❚ paused (p resumes)", "$text-warning bold"))
        else:
            count = len(self._following)
            parts.append((f"● following {count} container{'s' * (count != 1)}", "$text-success"))
        parts += [
            f" · {self._rate():,.0f} lines/s · {self._received:,} lines ({view.held:,} kept) · ",
            (f"{self._dropped:,} dropped", "$text-error bold" if self._dropped else ""),
        ]
        if view.search:
            index = view.match_index
            where = f"{index}/{view.match_count}" if index else f"{view.match_count} matches"
            parts += [" · ", (f"/{view.search} {where}", "$text-accent")]
        if view.filter_mode:
            parts += [" · ", (f"filter ±{view.context}", "$text-accent bold")]
        toggles = [name for name, on in (("time", view.show_timestamps), ("wrap", view.wrap)) if on]
        if toggles:
            parts.append(" · " + " ".join(toggles))
        self.query_one("#log-status", Static).update(Content.assemble(*parts))

    # -- keys --------------------------------------------------------------------------------

    def action_back(self) -> None:
        view = self.view
        if self.query_one("#search-bar").display:
            self._close_search(view.search if view.filter_mode else self._search_before)
        elif view.filter_mode:
            view.filter_mode = False
        elif view.search:
            view.search = ""
        else:
            self.app.pop_screen()
            return
        self._show_status()

    def action_pause(self) -> None:
        self._paused = not self._paused
        for handle in self._handles:
            if self._paused:
                handle.pause()
            else:
                handle.resume()
        self._show_status()

    def action_search(self) -> None:
        field = self.query_one("#search", Input)
        self._search_before = self.view.search
        field.value = self.view.search
        self.query_one("#search-bar").display = True
        field.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.view.search = event.value
        self._show_status()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._close_search(event.value)
        if event.value and not self.view.previous_match():
            self.notify(f"No line contains {event.value!r}.", severity="warning", timeout=3)
        self._show_status()

    def _close_search(self, value: str) -> None:
        self.query_one("#search-bar").display = False
        view = self.view
        view.search = value
        if not value:
            view.filter_mode = False
        view.focus()

    def action_next_match(self) -> None:
        self._move(self.view.next_match, "newer")

    def action_previous_match(self) -> None:
        self._move(self.view.previous_match, "older")

    def _move(self, step: Callable[[], bool], direction: str) -> None:
        view = self.view
        if not view.search:
            self.notify("Search first with /.", timeout=3)
        elif not step():
            self.notify(f"No {direction} match.", timeout=2)
        self._show_status()

    def action_filter(self) -> None:
        view = self.view
        if view.filter_mode:
            view.filter_mode = False
        else:
            view.filter_mode = True
            if not view.search:
                self.action_search()
        self._show_status()

    def action_context(self, change: int) -> None:
        self.view.context = max(0, self.view.context + change)
        self._show_status()

    def action_timestamps(self) -> None:
        self.view.show_timestamps = not self.view.show_timestamps
        self._show_status()

    def action_wrap(self) -> None:
        self.view.wrap = not self.view.wrap
        self._show_status()

    def action_follow(self) -> None:
        self.view.scroll_end(animate=False, immediate=True, x_axis=False)

    def action_save(self) -> None:
        lines = self.view.shown
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self.jobtui.clock()))
        folder = self.save_dir or Path.cwd()
        self._save(lines, folder / f"{self.service}-{stamp}.log")

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def _save(self, lines: Sequence[LogLine], path: Path) -> None:
        try:
            target = _free_path(path)
            with target.open("x", encoding="utf-8") as out:
                out.writelines(
                    f"{format_timestamp(ln.timestamp)} {ln.prefix} {ln.text}\n" for ln in lines
                )
        except OSError as exc:
            self.app.call_from_thread(
                self.notify, f"Cannot save the log: {exc}", severity="error", timeout=10
            )
        else:
            self.app.call_from_thread(
                self.notify, f"Saved {len(lines):,} lines to {target}", timeout=10
            )


def _free_path(path: Path) -> Path:
    """``path``, or ``path`` with ``-2``, ``-3`` … before the suffix if it is taken."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _stop_all(handles: Sequence[LogHandle]) -> None:
    for handle in handles:
        handle.stop()
