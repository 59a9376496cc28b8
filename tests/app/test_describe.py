"""Service settings as text: set fields only, secrets never shown."""

from __future__ import annotations

import pytest

from jobtui.app.describe import MASK, is_secret, service_fields
from jobtui.config.models import EnvVar, Healthcheck, Service, UpdateConfig


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "password",
        "SESSION_SECRET",
        "api_token",
        "STRIPE_API_KEY",
        "AWS_CREDENTIALS",
        "Keycloak_URL",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["DB_HOST", "LOG_LEVEL", "WORKERS", "PORT"])
def test_plain_names(name: str) -> None:
    assert not is_secret(name)


def test_minimal_service_shows_only_what_is_set() -> None:
    service = Service(name="api", image="reg:5000/api:1.0", run_on_host=("a", "b"))
    assert service_fields(service) == [
        ("image", "reg:5000/api:1.0"),
        ("hosts", "a, b"),
        ("stop_grace_period", "10s"),
    ]


def test_env_values_are_masked_by_key() -> None:
    service = Service(
        name="api",
        image="api:1",
        run_on_host=("a",),
        envs=(EnvVar("DB_PASSWORD", "hunter2"), EnvVar("MODE", "prod")),
    )
    envs = dict(service_fields(service))["envs"]
    assert envs == f"DB_PASSWORD={MASK}\nMODE=prod"


def test_healthcheck_and_non_default_rollout_settings() -> None:
    service = Service(
        name="api",
        image="api:1",
        run_on_host=("a",),
        healthcheck=Healthcheck(test=("CMD-SHELL", "true"), start_period=30),
        update_config=UpdateConfig(order="stop-first"),
        cpus=1.5,
    )
    fields = dict(service_fields(service))
    assert fields["healthcheck"] == (
        '["CMD-SHELL", "true"]\nevery 5s, timeout 3s, 3 retries, start period 30s'
    )
    assert "order stop-first" in fields["update_config"]
    assert fields["cpus"] == "1.5"
