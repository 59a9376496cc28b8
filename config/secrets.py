"""Which environment values are secret, and how a text is cleaned of them: the one rule.

A service's env value is secret when

* its name mentions a secret (:data:`SECRET_WORDS`, any case, anywhere in the
  name: ``DB_PASSWORD``, ``stripe_api_key``, ``SENTRY_DSN`` …), or
* the inventory marks it ``secret: true``, or
* it comes from ``value_env:`` (the bastion's environment: the inventory file
  then holds no secret at all), or
* the value itself carries a password in a URL (``postgres://u:pw@db/x``).

Secret values are never shown: screens, plan and drift diffs, ``status``,
the journal, notifications and error texts use :data:`MASK` or
:func:`mask_text` instead. Every part of jobtui asks this module; none keeps a
word list of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobtui.config.models import EnvVar, Service

MASK = "••••••"
"""What is shown in place of a secret value."""

SECRET_WORDS = (
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "AUTH",
    "CREDENTIAL",
    "CRED",
    "PRIVATE",
    "CERT",
    "SIGNATURE",
    "SALT",
    "COOKIE",
    "SESSION",
    "DSN",
    "DATABASE_URL",
    "CONNECTION_STRING",
)
"""An env var whose name contains one of these (any case) is secret.

Generous on purpose: masking a harmless value (``KEYBOARD_LAYOUT``) costs a
glance at the container; showing a password cannot be undone."""

MIN_MASKED_LENGTH = 4
"""Shorter secret values are not searched for in free text (``1`` would mask every digit);
they are still never shown where a value is displayed."""

_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")


def is_secret_name(name: str) -> bool:
    """Whether a variable called ``name`` holds a secret by the word list alone."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def looks_secret(value: str) -> bool:
    """Whether a value carries a password itself (``scheme://user:password@host``)."""
    return bool(_URL_PASSWORD.search(value))


def is_secret(name: str, entry: EnvVar | None = None) -> bool:
    """Whether the env var ``name`` (its inventory ``entry``, when known) must never be shown."""
    if is_secret_name(name):
        return True
    if entry is None:
        return False
    return entry.secret or entry.value_env is not None or looks_secret(entry.value)


def secret_keys(service: Service) -> frozenset[str]:
    """The names of ``service``'s secret env vars."""
    return frozenset(env.key for env in service.envs if is_secret(env.key, env))


def secret_values(service: Service) -> frozenset[str]:
    """The values of ``service``'s secret env vars, as :func:`mask_text` looks for them."""
    return frozenset(
        env.value
        for env in service.envs
        if is_secret(env.key, env) and len(env.value) >= MIN_MASKED_LENGTH
    )


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by :data:`MASK`.

    The longest secrets go first, so a secret that contains another is masked whole.
    """
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_MASKED_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(secret, MASK)
    return text


def masked_value(name: str, value: str, entry: EnvVar | None = None) -> str:
    """``value`` as it may be shown: itself, or :data:`MASK` when it is secret."""
    return MASK if is_secret(name, entry) or looks_secret(value) else value
