"""A read-only list of labelled values, e.g. a service's inventory settings."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label, Static


class ConfigView(Widget):
    """Two columns: a key and its value; multi-line values keep their indentation.

    Values are shown literally (no markup), so whatever an inventory holds is
    displayed as written.
    """

    DEFAULT_CSS = """
    ConfigView {
        layout: grid;
        grid-size: 2;
        grid-columns: auto 1fr;
        grid-rows: auto;
        grid-gutter: 0 2;
        height: auto;
        & > .config-view--key {
            color: $text-accent;
            text-style: bold;
        }
        & > .config-view--value {
            width: 1fr;
        }
    }
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._pairs = tuple(pairs)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """What is shown, as ``(key, value)`` text."""
        return self._pairs

    def compose(self) -> ComposeResult:
        for key, value in self._pairs:
            yield Label(key, classes="config-view--key", markup=False)
            yield Static(value, classes="config-view--value", markup=False)
