"""The one secrets rule (config/secrets.py) and everywhere it is applied without I/O:
the service screen's text, spec diffs, the spec-hash label and its bastion key."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from jobtui.app.describe import service_fields
from jobtui.backend.deploy.create import pull_auth
from jobtui.backend.deploy.spec_key import SpecKeyError, load_spec_key
from jobtui.backend.docker.spec import ContainerSpec, desired_spec, diff_specs, spec_hash
from jobtui.config.models import EnvVar, RegistryConfig, Service
from jobtui.config.secrets import (
    MASK,
    is_secret,
    mask_text,
    masked_value,
    secret_keys,
    secret_values,
)

SERVICE = Service(
    name="web",
    image="reg:5000/web:v1",
    run_on_host=("a",),
    envs=(
        EnvVar("DB_PASSWORD", "hunter2-db"),
        EnvVar("MODE", "quiet-but-secret", secret=True),
        EnvVar("UPSTREAM", "from-the-bastion", value_env="JOBTUI_UPSTREAM"),
        EnvVar("DATABASE", "postgres://app:pw-in-url@db/app"),
        EnvVar("PORT", "8080"),
    ),
)


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD", "db_passwd", "PASS", "MYSQL_PWD", "SESSION_SECRET", "api_token",
        "STRIPE_API_KEY", "HTTP_AUTH", "AWS_CREDENTIALS", "PRIVATE_PEM", "SENTRY_DSN",
        "DATABASE_URL", "Keycloak_URL",
    ],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["DB_HOST", "LOG_LEVEL", "WORKERS", "PORT", "MODE"])
def test_plain_names(name: str) -> None:
    assert not is_secret(name)


def test_marked_from_the_bastion_or_with_a_password_in_a_url_is_secret() -> None:
    assert secret_keys(SERVICE) == {"DB_PASSWORD", "MODE", "UPSTREAM", "DATABASE"}
    assert secret_values(SERVICE) == {
        "hunter2-db", "quiet-but-secret", "from-the-bastion", "postgres://app:pw-in-url@db/app",
    }  # fmt: skip
    assert masked_value("PORT", "8080") == "8080"
    assert masked_value("X", "redis://:pw@cache:6379") == MASK


def test_mask_text_replaces_longest_first_and_ignores_tiny_values() -> None:
    text = "login postgres://app:pw-in-url@db/app failed; pw-in-url; 1"
    assert mask_text(text, ["pw-in-url", "postgres://app:pw-in-url@db/app", "1"]) == (
        f"login {MASK} failed; {MASK}; 1"
    )


def test_service_screen_text_masks_every_secret() -> None:
    envs = dict(service_fields(SERVICE))["envs"].splitlines()
    assert envs == [
        f"DB_PASSWORD={MASK}", f"MODE={MASK}", f"UPSTREAM={MASK}", f"DATABASE={MASK}", "PORT=8080",
    ]  # fmt: skip


def test_diffs_name_a_changed_secret_without_its_values() -> None:
    desired = desired_spec(SERVICE)
    actual = ContainerSpec(
        "reg:5000/web:v1",
        env=(("DB_PASSWORD", "old-db-pw"), ("MODE", "old-mode"), ("PORT", "8080")),
    )
    lines = [str(d) for d in diff_specs(desired, actual)]
    assert lines == [
        "envs.DATABASE: added",
        "envs.DB_PASSWORD: changed",
        "envs.MODE: changed",
        "envs.UPSTREAM: added",
    ]
    text = repr(diff_specs(desired, actual))
    for value in (*secret_values(SERVICE), "old-db-pw", "old-mode"):
        assert value not in text
    # Gone from the inventory: still no value shown.
    (gone,) = diff_specs(replace(desired, env=(("PORT", "8080"),)), actual)[1:2] or (None,)
    assert gone is not None and str(gone) == "envs.MODE: removed"


def test_spec_hash_is_keyed_and_unkeyed_leaves_secret_values_out() -> None:
    spec = desired_spec(SERVICE)
    guessed = (EnvVar("DB_PASSWORD", "guess"), *SERVICE.envs[1:])
    other_pw = desired_spec(replace(SERVICE, envs=guessed))
    key, other_key = b"k" * 32, b"j" * 32
    assert spec_hash(spec, key) != spec_hash(spec, other_key)
    assert spec_hash(spec, key) != spec_hash(other_pw, key)  # a changed secret is a change
    assert len(spec_hash(spec, key)) == 16
    # Without the key a label cannot depend on a secret at all.
    assert spec_hash(spec) == spec_hash(other_pw)
    assert spec_hash(spec) != spec_hash(replace(spec, image="reg:5000/web:v2"))


def test_spec_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = load_spec_key(state)
    assert len(key) == 32
    path = state / "spec-hash.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_spec_key(state) == key
    assert [p.name for p in state.iterdir()] == ["spec-hash.key"]
    path.write_text("nonsense\n")
    with pytest.raises(SpecKeyError, match="holds no key"):
        load_spec_key(state)


def test_spec_key_in_an_unwritable_place_is_a_readable_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SpecKeyError, match=r"cannot (read|create) the spec-hash key"):
        load_spec_key(blocker / "state")


def test_pull_auth_goes_only_to_the_configured_registry() -> None:
    registry = RegistryConfig("http://127.0.0.1:5001", username="ci", password_env="REG_PW")
    assert pull_auth(registry, "pw", "127.0.0.1:5001/demo/web") == {
        "username": "ci", "password": "pw", "serveraddress": "127.0.0.1:5001",
    }  # fmt: skip
    assert pull_auth(registry, "pw", "demo/web") is not None  # the seed's registry-less names
    assert pull_auth(registry, "pw", "other.example:5000/demo/web") is None
    assert pull_auth(registry, None, "127.0.0.1:5001/demo/web") is None
    assert pull_auth(RegistryConfig("http://127.0.0.1:5000"), "pw") is None
    assert os.environ.get("REG_PW") is None
