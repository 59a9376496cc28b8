"""DeployEngine, the one home of the app's view of the engine: both engines offer all of it."""

from __future__ import annotations

import inspect

import pytest

from jobtui.backend.contract import DeployEngine
from jobtui.backend.deploy import Deployer, DetachedDeployer

VERBS = sorted(
    name for name, _ in inspect.getmembers(DeployEngine, inspect.isfunction) if name[0] != "_"
)


def test_the_protocol_names_the_verbs_the_app_drives() -> None:
    assert VERBS == [
        "deploy", "plan", "restart", "rollback", "rollback_candidates", "start", "stop",
    ]  # fmt: skip


@pytest.mark.parametrize("engine", [Deployer, DetachedDeployer], ids=lambda e: e.__name__)
@pytest.mark.parametrize("verb", VERBS)
def test_each_engine_takes_every_argument_the_protocol_passes(engine: type, verb: str) -> None:
    wanted = inspect.signature(getattr(DeployEngine, verb)).parameters
    offered = inspect.signature(getattr(engine, verb)).parameters
    for name, parameter in wanted.items():
        assert name in offered, f"{engine.__name__}.{verb} lacks {name}"
        assert offered[name].kind == parameter.kind, f"{engine.__name__}.{verb}({name})"
        assert offered[name].default == parameter.default, f"{engine.__name__}.{verb}({name})"
    # Whatever else an engine takes must be optional: the app never passes it.
    extra = [p for n, p in offered.items() if n not in wanted]
    assert all(p.default is not inspect.Parameter.empty for p in extra), extra
