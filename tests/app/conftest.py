"""Pilot tests: run ``async def`` tests without a plugin, and build apps on fixed data."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from support.fixed_backend import FixedFleet, FixedTags
from support.fleet_data import AppFactory, clock, inventory, snapshot, tags

from jobtui.app.app import JobtuiApp, make_app
from jobtui.backend.model import TagSource
from jobtui.config.models import Inventory


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    # pytest-asyncio is not among the dev dependencies; Pilot only needs a
    # fresh event loop per test, which asyncio.run gives.
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def fleet() -> FixedFleet:
    return FixedFleet(snapshot())


@pytest.fixture
def build(fleet: FixedFleet) -> AppFactory:
    """``build(tag_source=, no_registry=, inv=, read_only=)``: the app on the shop fleet."""

    def factory(
        *,
        tag_source: TagSource | None = None,
        no_registry: bool = False,
        inv: Inventory | None = None,
        read_only: bool = False,
    ) -> JobtuiApp:
        source = None if no_registry else tag_source or FixedTags(tags())
        return make_app(inv or inventory(), fleet, source, clock=clock, read_only=read_only)

    return factory
