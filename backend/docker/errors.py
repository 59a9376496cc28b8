"""Why a host's daemon could not be used, in one sentence an operator can act on."""

from __future__ import annotations

import socket

import docker.errors
import requests

from jobtui.backend.errors import JobtuiError


class HostUnavailable(JobtuiError):
    """A host's daemon cannot be used; ``str()`` says why in plain words."""


DOCKER_ERRORS: tuple[type[BaseException], ...] = (
    HostUnavailable,
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    OSError,
)
"""What talking to a daemon can raise without being a bug in jobtui."""


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception: requests hides the OSError inside urllib3's wrappers."""
    seen: set[int] = set()
    current = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException) and current.args:
            inner = current.args[0] if isinstance(current.args[0], BaseException) else None
        inner = inner or current.__cause__ or current.__context__
        if not isinstance(inner, BaseException):
            break
        current = inner
    return current


def _tls_hint(reason: str) -> str:
    """What an OpenSSL reason means for a Docker TLS host, in the inventory's words."""
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        return " (the daemon's certificate is not signed by tls.ca_cert, or not for this address)"
    if any(word in reason for word in ("BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "UNKNOWN_CA")):
        return " (the daemon refused our client certificate: check tls.client_cert and client_key)"
    return ""


def describe_error(exc: BaseException, url: str) -> str:
    """One line saying why ``url``'s daemon could not be used."""
    if isinstance(exc, JobtuiError):
        return str(exc)
    if isinstance(exc, docker.errors.APIError):
        return f"{url}: Docker API error {exc.status_code}: {exc.explanation or exc}"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"{url}: TLS failed: {_root_cause(exc)}{_tls_hint(str(_root_cause(exc)))}"
    if isinstance(exc, requests.exceptions.Timeout | socket.timeout | TimeoutError):
        return f"{url}: no answer in time (daemon hung or network unreachable)"
    root = _root_cause(exc)
    if isinstance(root, FileNotFoundError):
        return f"{url}: no Docker socket there (daemon not running?)"
    if isinstance(root, ConnectionRefusedError):
        return f"{url}: connection refused (daemon not running?)"
    if isinstance(root, PermissionError):
        return f"{url}: permission denied on the Docker socket"
    if isinstance(root, socket.gaierror):
        return f"{url}: unknown host name"
    if isinstance(root, socket.timeout | TimeoutError):
        return f"{url}: no answer in time (daemon hung or network unreachable)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"{url}: connection lost ({root.__class__.__name__})"
    text = str(root) or root.__class__.__name__
    return f"{url}: {text}"
