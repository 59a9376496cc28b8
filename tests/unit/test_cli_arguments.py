"""Every CLI argument is checked for its value first: exit 2 and one line, nothing runs."""

from __future__ import annotations

import pytest

from jobtui.app.cli import main

# No inventory file exists at this path: a check that let a value through
# would reach the loader and fail there with another message.
NOWHERE = "/nonexistent/jobtui.yml"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["deploy", "we b", "-y"], "service: 'we b' is not a valid name"),
        (["deploy", "web\n", "-y"], "service: 'web\\n' is not a valid name"),
        (["deploy", "wéb", "-y"], "is not a valid name"),
        (["deploy", "web", "--version", "", "-y"], "--version: '' is not a valid tag"),
        (["deploy", "web", "--version=-rm", "-y"], "--version: '-rm' is not a valid tag"),
        (["rollback", "web", "--to", "", "-y"], "--to: '' is not a valid tag"),
        (["logs", "web", "--tail", "-3"], "--tail: '-3' is not a line count"),
        (["logs", "web", "--tail", "٣"], "--tail: '٣' is not a line count"),
        (["logs", "web", "--since", "5x"], "--since '5x': expected a duration"),
        (["logs", "web", "--host", "../x"], "--host: '../x' is not a valid name"),
        (["history", "--limit", "0"], "--limit: '0' is not a whole number"),
        (["start", "web", "--host=-oProxyCommand=x", "-y"], "is not a valid name"),
    ],
)
def test_bad_argument_values_exit_2_with_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-i", NOWHERE, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


def test_good_values_get_past_the_checks_to_the_inventory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["-i", NOWHERE, "logs", "web", "--tail", "all", "--since", "1h30m"]) == 2
    assert "cannot read the file" in capsys.readouterr().err
