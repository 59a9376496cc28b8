"""The end of a several-services call: one line per service and one exit code for all."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from jobtui.app.cli_many import summary, targets
from jobtui.backend.contract import HostResult, OpKind, OpResult, Outcome
from jobtui.config.loader import load_inventory

INVENTORY = """\
hosts:
  h1: unix:///run/docker.sock
services:
  - name: a
    image: reg/a:v1
    run_on_host: h1
  - name: b
    image: reg/b:v1
    run_on_host: h1
"""


def ended(service: str, outcome: Outcome, *, ok: bool = True) -> OpResult:
    host = HostResult("h1", ok, "v1", "v2", f"{service}_1", "" if ok else "unhealthy")
    return OpResult("op-" + service, OpKind.DEPLOY, service, outcome, (host,),
                    "" if ok else "h1 failed", 10.0, 12.5)  # fmt: skip


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([Outcome.DONE, Outcome.DONE], 0),
        ([Outcome.DONE, Outcome.FAILED], 1),
        ([Outcome.LOCKED, Outcome.DONE], 3),
        ([Outcome.LOCKED, Outcome.ABORTED], 1),
        ([Outcome.CHANGED, Outcome.DONE], 1),
    ],
)
def test_the_exit_code_is_the_worst_outcome(outcomes: list[Outcome], code: int) -> None:
    results = [
        ended(name, outcome, ok=outcome is Outcome.DONE)
        for name, outcome in zip("ab", outcomes, strict=True)
    ]
    assert summary(results, io.StringIO()) == code


def test_one_line_per_service_and_details_only_for_what_went_wrong() -> None:
    out = io.StringIO()
    summary([ended("a", Outcome.DONE), ended("b", Outcome.FAILED, ok=False)], out)
    text = out.getvalue()
    assert "b@h1: v1 -> v2 FAILED: unhealthy" in text
    assert "a@h1" not in text  # done: its line below says it all
    lines = text.splitlines()
    assert lines[-3].split() == ["a", "done", "2.5s", "h1", "v2"]
    assert lines[-2].split()[:4] == ["b", "failed", "2.5s", "h1"]
    assert lines[-1] == "1 of 2 done"


def test_targets(tmp_path: Path) -> None:
    path = tmp_path / "jobtui.yml"
    path.write_text(INVENTORY)
    inventory = load_inventory(path)

    def ask(verb: str, *names: str, **flags: bool) -> list[str] | str:
        return targets(argparse.Namespace(verb=verb, service=list(names), **flags), inventory)

    assert ask("deploy", all=True) == ["a", "b"]
    assert ask("deploy", "b", "a", "b") == ["b", "a"]  # the operator's order, once each
    assert ask("deploy", outdated=True) == ["a", "b"]
    assert "not both" in str(ask("restart", "a", all=True))
    assert ask("deploy") == "name at least one service, or pass --all or --outdated"
    assert ask("stop") == "name at least one service, or pass --all"
