"""The engine and the inventory never load Textual or Rich (ARCHITECTURE.md layers)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import jobtui.backend
import jobtui.config


def _modules(package: object) -> list[str]:
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return [m.name for m in pkgutil.walk_packages(package.__path__, prefix)]  # type: ignore[attr-defined]


def test_backend_and_config_import_without_textual_or_rich() -> None:
    modules = _modules(jobtui.backend) + _modules(jobtui.config)
    assert "jobtui.backend.observe.rows" in modules and "jobtui.config.loader" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"loaded: {result.stdout}"


def test_cli_script_verbs_do_not_load_textual() -> None:
    # `jobtui status` in a cron job should not pay for the TUI.
    code = (
        "import sys\nimport jobtui.app.cli\n"
        "print(any(m.split('.')[0] == 'textual' for m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_cli_module_loads_no_client_library() -> None:
    # Every verb builds its parser from jobtui.app.cli: `jobtui validate` in a
    # CI job must not pay ~300 ms for the Docker SDK, requests, etcd or grpc.
    code = (
        "import sys\nimport jobtui.app.cli\n"
        "clients = ('docker', 'requests', 'etcd3', 'grpc', 'prometheus_api_client', 'textual')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in clients)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
