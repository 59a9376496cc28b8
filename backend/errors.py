"""The engine's error family: every error it raises on purpose is a :class:`JobtuiError`.

Each room defines its own subclasses next to the code that raises them
(``HostUnavailable`` in docker/, ``CoordinationError`` in coordination/ …);
callers above the engine catch ``JobtuiError`` and show its message.
"""

from __future__ import annotations

from jobtui.config.errors import InventoryError, JobtuiError

__all__ = ["InventoryError", "JobtuiError"]
