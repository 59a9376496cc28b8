"""``jobtui status`` and ``jobtui outdated`` build one engine each: one set of clients."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from jobtui.app import engine as engine_module
from jobtui.app.cli import main


def _closed_port() -> int:
    # A port nothing listens on: the registry is refused at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("verb", ["status", "outdated"])
def test_one_engine_answers_the_fleet_and_the_registry(
    verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = f"127.0.0.1:{_closed_port()}"
    inventory = tmp_path / "jobtui.yml"
    inventory.write_text(
        "hosts:\n  h1: unix:///nonexistent/h1.sock\n"
        f"registry:\n  url: http://{registry}\n"
        f"services:\n  - {{name: web, image: '{registry}/demo/web:v1', run_on_host: h1}}\n"
    )
    built: list[object] = []
    real_init = engine_module.Engine.__init__

    def counting_init(self: engine_module.Engine, *args: object, **kwargs: object) -> None:
        built.append(self)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module.Engine, "__init__", counting_init)
    code = main(["-i", str(inventory), verb])
    said = capsys.readouterr()
    assert code == 1  # h1 is down and the registry refused: both said, from one engine
    assert len(built) == 1, built
    assert "registry unavailable" in (said.err if verb == "outdated" else said.out), said
