"""A repository's registry tags, newest first, with the deployed ones marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from jobtui.backend.model import TagInfo
from jobtui.widgets.format import short_id, timestamp
from jobtui.widgets.keyed_table import Cell, CellValue, KeyedTable

RUNNING_MARK = "▶"


def newest_first(tags: Sequence[TagInfo]) -> list[TagInfo]:
    """Tags by creation time, newest first; tags of unknown age go last, in their order."""
    oldest = datetime.min.replace(tzinfo=UTC)

    def created(tag: TagInfo) -> datetime:
        if tag.created is None:
            return oldest
        return tag.created if tag.created.tzinfo else tag.created.replace(tzinfo=UTC)

    return sorted(tags, key=created, reverse=True)


class TagsTable(KeyedTable):
    """Tags keyed by name: image id, creation time and where each tag runs."""

    COLUMNS = (
        ("tag", "tag"),
        ("image", "image id"),
        ("created", "created (UTC)"),
        ("deployed", "deployed"),
    )

    def show(
        self,
        tags: Sequence[TagInfo],
        running: Mapping[str, Sequence[str]],
        desired: str,
        *,
        ordered: bool = False,
    ) -> None:
        """Display ``tags``; ``running`` maps a version to the hosts running it.

        ``ordered``: ``tags`` come in display order already (else newest created first).
        """
        rows = []
        for tag in tags if ordered else newest_first(tags):
            hosts = running.get(tag.tag, ())
            notes = ["desired"] if tag.tag == desired else []
            if hosts:
                notes.append("on " + ", ".join(hosts))
            role = "ok" if hosts else "accent"
            mark = RUNNING_MARK if hosts else " "
            values: dict[str, CellValue] = {
                "tag": Cell(f"{mark} {tag.tag}", "ok" if hosts else ""),
                "image": short_id(tag.image_id or tag.digest),
                "created": timestamp(tag.created),
                "deployed": Cell(" · ".join(notes), role),
            }
            rows.append(self.make_row(tag.tag, values))
        self.sync(rows)
