"""The services table's ``newer`` column: fed in the background, cached, refreshed with ``r``."""

from __future__ import annotations

from collections.abc import Sequence

from support.fixed_backend import FixedTags
from support.fleet_data import SIZE, AppFactory, deploy_tags
from textual.pilot import Pilot

from jobtui.backend.model import RegistryError, TagInfo
from jobtui.widgets.services_table import ServicesTable


async def _settle(pilot: Pilot[None]) -> ServicesTable:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return pilot.app.screen.query_one("#services", ServicesTable)


class CountingTags(FixedTags):
    def __init__(self) -> None:
        super().__init__(deploy_tags())
        self.asked: list[str] = []

    def tags(self, repository: str) -> Sequence[TagInfo]:
        self.asked.append(repository)
        return super().tags(repository)


class DownTags:
    def tags(self, repository: str) -> Sequence[TagInfo]:
        raise RegistryError("registry http://registry.shop.lan:5000 is unreachable (no route)")


async def test_newer_versions_show_per_instance_and_r_asks_again(build: AppFactory) -> None:
    source = CountingTags()
    async with build(tag_source=source).run_test(size=SIZE) as pilot:
        table = await _settle(pilot)
        assert table.text_of("shop-web@web-1", "newer") == "↑ 2.5.0"
        assert table.text_of("shop-web@web-2", "newer") == "↑ 2.5.0"
        assert table.text_of("shop-api@web-1", "newer") == "✓"
        assert table.text_of("shop-api@web-2", "newer") == ""  # stopped: nothing runs
        assert table.text_of("mailer@web-1", "newer") == "?"  # its repository is unknown
        assert not table.border_subtitle
        asked = len(source.asked)
        await pilot.press("r")
        await _settle(pilot)
        assert len(source.asked) == 2 * asked


async def test_registry_down_is_a_note_not_a_blank_column(build: AppFactory) -> None:
    async with build(tag_source=DownTags()).run_test(size=SIZE) as pilot:
        table = await _settle(pilot)
        assert "registry unavailable" in str(table.border_subtitle)
        assert "no route" in str(table.border_subtitle)
        assert table.text_of("shop-web@web-1", "newer") == "?"


async def test_without_a_registry_the_column_says_so(build: AppFactory) -> None:
    async with build(no_registry=True).run_test(size=SIZE) as pilot:
        table = await _settle(pilot)
        assert "no registry" in str(table.border_subtitle)
        assert table.text_of("shop-web@web-1", "newer") == "?"
