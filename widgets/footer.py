"""Textual's key footer, rebuilt only when the keys it shows change.

Textual's :class:`~textual.widgets.Footer` recomposes after every "bindings
changed" signal, and a screen sends several while it starts (first focus,
app focus, reactives with bindings), each one removing and mounting every
key again. Each new key also restyles itself twice (its ``compact`` reactive
starts true, then the footer's binding sets it false), and one restyle of a
key costs a stylesheet pass. At jobtui's main screen that was about a fifth
of the first paint. :class:`KeysFooter` shows the same keys, built the same
way, but skips a recompose that would show what is already there, and
gives each key its footer's ``compact`` state before it mounts.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeysFooter(Footer):
    """A :class:`~textual.widgets.Footer` that recomposes only when its keys differ."""

    def __init__(
        self,
        *,
        id: str | None = None,
        classes: str | None = None,
        show_command_palette: bool = True,
        compact: bool = False,
    ) -> None:
        super().__init__(
            id=id, classes=classes, show_command_palette=show_command_palette, compact=compact
        )
        self._shown: Hashable | None = None

    def shown_keys(self) -> Hashable:
        """What decides the keys on display: the active bindings the footer lists."""
        bindings = tuple(
            (binding, enabled, tooltip)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show
        )
        return bindings, self.show_command_palette

    def compose(self) -> ComposeResult:
        # Footer.compose yields nothing until the screen said its bindings are
        # ready; only a composition with keys is worth remembering.
        self._shown = self.shown_keys() if self._bindings_ready else None
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # Set before mounting, the key's own default (compact) never
                # applies, and the footer's binding then changes nothing: no
                # restyle of a key that has just been styled.
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget

    async def recompose(self) -> None:
        if self._shown is not None and self.is_attached and self.shown_keys() == self._shown:
            return
        await super().recompose()
