"""Front doors that load their room's modules on first use.

A room's ``__init__`` names what it offers (``EXPORTS``) and hands attribute
look-ups to :func:`lazy_attribute`: ``from jobtui.backend.deploy import
ServicePlan`` then imports the pure plan module only, not the Docker SDK that
the deployer needs. Type checkers read the same names from the door's
``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping


def lazy_attribute(package: str, exports: Mapping[str, tuple[str, ...]], name: str) -> object:
    """The exported ``name`` of ``package``, imported from its module on first use."""
    for module, names in exports.items():
        if name in names:
            value = getattr(importlib.import_module(f"{package}.{module}"), name)
            # Cache it on the package: later look-ups skip this function.
            setattr(sys.modules[package], name, value)
            return value
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
