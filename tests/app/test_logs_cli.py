"""`jobtui logs` without a stack: argument checks, and no Textual on its import path."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys

import pytest
from support.fleet_data import inventory

from jobtui.app.cli_logs import add_logs_parser, run_logs


def _run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="jobtui")
    add_logs_parser(parser.add_subparsers(dest="verb"))
    err = io.StringIO()
    code = run_logs(parser.parse_args(["logs", *argv]), inventory(), io.StringIO(), err)
    return code, err.getvalue()


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["nope"], "no service 'nope' in the inventory (services: shop-web, shop-api"),
        (["shop-web", "--tail", "-1"], "--tail '-1': expected a number of lines or 'all'"),
        (["shop-web", "--tail", "lots"], "--tail 'lots'"),
        (["shop-web", "--since", "soon"], "--since 'soon': expected a duration"),
        (["mailer", "--host", "web-2"], "mailer does not run on web-2 (it runs on web-1)"),
    ],
)
def test_usage_errors_exit_2_before_any_host_is_asked(argv: list[str], said: str) -> None:
    code, err = _run(*argv)
    assert code == 2 and said in err


def test_the_logs_verb_does_not_load_textual() -> None:
    code = (
        "import sys\nimport jobtui.app.cli_logs, jobtui.app.log_source\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
