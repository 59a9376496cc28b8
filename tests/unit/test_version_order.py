"""The registry's tags in version order, as the tag picker lists them."""

from __future__ import annotations

from datetime import UTC, datetime

from jobtui.backend.model import TagInfo
from jobtui.backend.registry import by_version, newest_version


def _tag(name: str, day: int | None) -> TagInfo:
    created = None if day is None else datetime(2024, 5, day, tzinfo=UTC)
    return TagInfo(name, created=created)


def test_semver_first_by_version_then_other_versions_by_date_then_moving_tags() -> None:
    tags = [
        _tag("latest", 30), _tag("1.9.0", 20), _tag("broken", 29), _tag("1.10.0", 2),
        _tag("2.0.0-rc.1", 25), _tag("2.0.0", 1), _tag("git-511", 11), _tag("abc123f", 12),
        _tag("stable", None),
    ]  # fmt: skip
    order = [t.tag for t in by_version(tags)]
    assert order == [
        "2.0.0", "2.0.0-rc.1", "1.10.0", "1.9.0",  # 1.10 > 1.9; a release above its rc
        "abc123f", "git-511",  # versions that are not semver: newest created first
        "latest", "broken", "stable",  # no version: last, undated at the very end
    ]  # fmt: skip
    # The same judgement as the "newer" column: its newest is the first release listed.
    newest = newest_version(tags)
    assert newest is not None and newest.tag == order[0]
