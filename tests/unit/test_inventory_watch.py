"""The inventory watch: a poll reloads only changed bytes and says what changed."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from jobtui.app.inventory_watch import InventoryWatch, Refused, Reloaded
from jobtui.config.loader import load_inventory

ONE = "- name: web\n  image: demo/web:v1\n  run_on_host: host-a\n"


def test_touch_without_new_bytes_reloads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(ONE)
    load = partial(load_inventory, path)
    watch = InventoryWatch(load(), load)
    assert watch.poll() is None
    os.utime(path, ns=(1, 1))
    assert watch.poll() is None


def test_edit_reloads_and_names_the_changes(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(ONE)
    load = partial(load_inventory, path)
    watch = InventoryWatch(load(), load)
    path.write_text(ONE.replace("v1", "v2") + ONE.replace("web", "api").replace("host-a", "host-b"))
    result = watch.poll()
    assert isinstance(result, Reloaded)
    assert result.change.services_added == ("api",)
    assert result.change.services_changed == ("web",)
    assert result.change.hosts_added == ("host-b",)
    assert "services added: api" in result.change.summary()


def test_broken_edit_is_refused_and_not_retried(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text(ONE)
    load = partial(load_inventory, path)
    first = load()
    watch = InventoryWatch(first, load)
    path.write_text(ONE + "  colour: red\n")
    result = watch.poll()
    assert isinstance(result, Refused)
    assert [(p.line, p.key) for p in result.problems] == [(4, "[0].colour")]
    assert watch.current is first
    assert watch.poll() is None


def test_moved_lines_are_no_change_and_one_edit_names_only_its_service(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    two = ONE + ONE.replace("web", "api")
    path.write_text(two)
    load = partial(load_inventory, path)
    watch = InventoryWatch(load(), load)
    # A comment on top moves every line: nothing is different.
    path.write_text("# reformatted\n\n" + two)
    moved = watch.poll()
    assert isinstance(moved, Reloaded)
    assert moved.change.summary() == "no change in services or hosts"
    path.write_text("# reformatted\n\n" + ONE + "  stop_grace_period: 7\n" + two[len(ONE) :])
    edited = watch.poll()
    assert isinstance(edited, Reloaded)
    assert edited.change.services_changed == ("web",) and edited.change.hosts_changed == ()
