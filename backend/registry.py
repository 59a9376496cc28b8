"""The private registry through the Docker Registry HTTP API v2: tags, digests, ages.

:class:`RegistryClient` is the real :class:`~jobtui.backend.model.TagSource`.
For every tag it reads the manifest (digest from ``Docker-Content-Digest``)
and the image config blob (image id = config digest, ``created``), several
tags at a time. Config blobs never change, so their dates are cached.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters

from jobtui.backend.model import RegistryError, TagInfo
from jobtui.backend.times import parse_rfc3339
from jobtui.config.models import RegistryConfig, split_image
from jobtui.config.secrets import mask_text

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST_V2 = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT_MANIFESTS = ", ".join((MANIFEST_V2, OCI_MANIFEST, MANIFEST_LIST_V2, OCI_INDEX))

DEFAULT_WORKERS = 6
"""Tags fetched at once: enough to hide latency, few enough not to burden the registry."""


# -- pure helpers (unit-tested) ----------------------------------------------


def parse_created(text: object) -> datetime | None:
    """A config blob's ``created`` (RFC 3339, maybe nanoseconds) as an aware datetime."""
    stamp = parse_rfc3339(text)
    return None if stamp is None else datetime.fromtimestamp(stamp, tz=UTC)


def pick_manifest(index: Mapping[str, Any]) -> str | None:
    """The digest to follow in a manifest list / OCI index: linux/amd64, else the first image.

    Entries with platform ``unknown/unknown`` are build attestations, not images.
    """
    entries = [m for m in index.get("manifests") or () if isinstance(m, Mapping)]
    images = [m for m in entries if (m.get("platform") or {}).get("os") != "unknown"]
    for entry in images:
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(entry.get("digest") or "") or None
    chosen = images or entries
    if not chosen:
        return None
    return str(chosen[0].get("digest") or "") or None


def is_index(manifest: Mapping[str, Any], content_type: str = "") -> bool:
    """Whether a manifest is a list of per-platform manifests."""
    media = str(manifest.get("mediaType") or content_type).split(";")[0].strip()
    return media in (MANIFEST_LIST_V2, OCI_INDEX) or (
        "manifests" in manifest and "config" not in manifest
    )


def config_digest(manifest: Mapping[str, Any]) -> str | None:
    """The image config's digest (which is the image id) named by a single-image manifest."""
    config = manifest.get("config")
    if isinstance(config, Mapping) and config.get("digest"):
        return str(config["digest"])
    return None


def schema1_created(manifest: Mapping[str, Any]) -> datetime | None:
    """``created`` of a legacy schema 1 manifest (kept in its first history entry)."""
    history = manifest.get("history") or []
    if history and isinstance(history[0], Mapping):
        try:
            return parse_created(json.loads(history[0].get("v1Compatibility", "{}")).get("created"))
        except ValueError:
            return None
    return None


def _natural_key(tag: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", tag) if p)


def sort_tags(tags: Sequence[TagInfo]) -> list[TagInfo]:
    """Newest first; tags without a date last. Ties: higher version-looking name first."""
    by_name = sorted(tags, key=lambda t: _natural_key(t.tag), reverse=True)
    dated = [t for t in by_name if t.created is not None]
    undated = [t for t in by_name if t.created is None]
    dated.sort(key=lambda t: t.created.timestamp() if t.created else 0.0, reverse=True)
    return dated + undated


_SEMVER = re.compile(
    r"^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)

SemverKey = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]
"""Orders versions: release numbers, then a release above its pre-releases."""


def semver_key(tag: str) -> SemverKey | None:
    """The ordering key of a semver-looking tag (``1.10.0``, ``v2``, ``3.0.0-rc.1``), else ``None``.

    Numbers compare as numbers (``1.10`` > ``1.9``); a pre-release sorts below
    its release, its dot-separated parts compared as semver says.
    """
    match = _SEMVER.match(tag)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in (pre or "").split(".") if p)
    return int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, parts


def is_prerelease(tag: str) -> bool:
    """Whether a semver-looking tag names a pre-release (``2.0.0-rc.1``)."""
    key = semver_key(tag)
    return key is not None and key[3] == 0


def is_moving_tag(tag: str) -> bool:
    """Whether a tag names no version (``latest``, ``stable``, ``broken``): no digit in it.

    Such tags are never "newer" than a version; a running one is checked by digest.
    """
    return not any(ch.isdigit() for ch in tag)


def newest_version(tags: Sequence[TagInfo]) -> TagInfo | None:
    """The registry's newest version: the highest semver release, else the newest-created
    version-looking tag (a commit id, a date). Pre-releases and tags without a digit
    (``latest``, ``broken``) never count."""
    releases = [(key, t) for t in tags if (key := semver_key(t.tag)) is not None and key[3]]
    if releases:
        return max(releases, key=lambda pair: pair[0])[1]
    others = [t for t in tags if not is_moving_tag(t.tag) and not is_prerelease(t.tag)]
    dated = [t for t in others if t.created is not None]
    if not dated:
        return None
    return max(dated, key=lambda t: t.created.timestamp() if t.created else 0.0)


def by_version(tags: Sequence[TagInfo]) -> list[TagInfo]:
    """Newest first as :func:`newest_version` judges: semver tags by version (a release
    above its pre-releases), then other version-looking tags by creation time, then the
    tags that name no version (``latest``, ``broken``), by creation time."""

    def created(tag: TagInfo) -> float:
        return tag.created.timestamp() if tag.created else float("-inf")

    semver = [(key, t) for t in tags if (key := semver_key(t.tag)) is not None]
    semver.sort(key=lambda pair: pair[0], reverse=True)
    rest = [t for t in tags if semver_key(t.tag) is None]
    versions = sorted((t for t in rest if not is_moving_tag(t.tag)), key=created, reverse=True)
    moving = sorted((t for t in rest if is_moving_tag(t.tag)), key=created, reverse=True)
    return [t for _, t in semver] + versions + moving


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate: Bearer realm="…",service="…"`` as ``("bearer", {...})``."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params


def _reason(exc: BaseException) -> str:
    """The innermost OS-level reason of a requests failure, e.g. ``connection refused``."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = current.__cause__ or current.__context__
        current = inner
    return exc.__class__.__name__


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_registry_host(component: str) -> bool:
    # Docker's rule: the first path component names a registry when it looks like a host.
    return "." in component or ":" in component or component == "localhost"


def repository_in_registry(image: str, config: RegistryConfig) -> str | None:
    """The repository path of ``image`` inside the configured registry.

    ``127.0.0.1:45000/demo/web:v1`` → ``demo/web``; a reference without a
    registry host (the seed's ``repo-manager-repo1:latest``) is taken to live
    in the configured registry; ``None`` when the image names another registry.
    """
    repository = split_image(image.strip())[0]
    first, slash, rest = repository.partition("/")
    if not slash or not _has_registry_host(first):
        return repository or None
    if first.lower() == config.host.lower():
        return rest or None
    return None


# -- the client ----------------------------------------------------------------


class RegistryClient:
    """Lists a repository's tags with digest, image id and creation time."""

    def __init__(
        self, config: RegistryConfig, *, timeout: float = 10.0, workers: int = DEFAULT_WORKERS
    ) -> None:
        url = config.url if "://" in config.url else f"https://{config.url}"
        self._base = url.rstrip("/")
        parts = urlsplit(self._base)
        # What messages name: never a user:password@ (the inventory refuses one anyway).
        self._shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        self._config = config
        self._timeout = timeout
        self._workers = max(1, workers)
        # An explicit CA path also keeps REQUESTS_CA_BUNDLE from replacing it.
        self._verify: bool | str = config.ca_cert or config.verify
        self._session = requests.Session()
        if _is_loopback(urlsplit(self._base).hostname or ""):
            # A loopback registry must never go through an http_proxy from the environment.
            self._session.trust_env = False
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=self._workers)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._created: dict[str, datetime | None] = {}

    def close(self) -> None:
        self._session.close()

    def tags(self, repository: str) -> list[TagInfo]:
        """Tags of ``repository``, newest first; ``RegistryError`` with a readable message.

        No message ever holds the password, whatever the registry answered."""
        try:
            names = self._tag_names(repository)
            if not names:
                return []
            with ThreadPoolExecutor(min(self._workers, len(names))) as pool:
                found = list(pool.map(lambda tag: self._tag_info(repository, tag), names))
        except RegistryError as exc:
            password = self._password()
            if password and password in str(exc):
                raise RegistryError(mask_text(str(exc), [password])) from None
            raise
        return sort_tags([t for t in found if t is not None])

    def digest(self, repository: str, tag: str) -> str | None:
        """The registry's manifest digest of ``repository:tag``; ``None`` when no such tag.

        A deploy plan's fingerprint holds it: a tag pushed again between the
        plan and its confirmation changes it.
        """
        url = f"{self._base}/v2/{repository}/manifests/{tag}"
        response = self._fetch(url, repository, accept=ACCEPT_MANIFESTS, missing_ok=True)
        if response is None:
            return None
        return response.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(response.content).hexdigest()
        )

    def _tag_names(self, repository: str) -> list[str]:
        names: list[str] = []
        url: str | None = f"{self._base}/v2/{repository}/tags/list"
        while url:
            response = self._get(url, repository)
            body = self._json(response, f"tag list of {repository}")
            names.extend(str(tag) for tag in body.get("tags") or ())
            following = response.links.get("next", {}).get("url")
            # The Link target is relative to the registry, per the distribution spec.
            url = urljoin(f"{self._base}/", following) if following else None
        return names

    def _tag_info(self, repository: str, tag: str) -> TagInfo | None:
        url = f"{self._base}/v2/{repository}/manifests/{tag}"
        response = self._fetch(url, repository, accept=ACCEPT_MANIFESTS, missing_ok=True)
        if response is None:  # deleted since the tag list was read
            return None
        digest = response.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(response.content).hexdigest()
        )
        manifest = self._json(response, f"manifest of {repository}:{tag}")
        if is_index(manifest, response.headers.get("Content-Type", "")):
            chosen = pick_manifest(manifest)
            if chosen is None:
                return TagInfo(tag, digest)
            inner = self._get(f"{self._base}/v2/{repository}/manifests/{chosen}", repository,
                              accept=ACCEPT_MANIFESTS)  # fmt: skip
            manifest = self._json(inner, f"manifest of {repository}@{chosen}")
        image_id = config_digest(manifest)
        if image_id is None:
            return TagInfo(tag, digest, "", schema1_created(manifest))
        return TagInfo(tag, digest, image_id, self._config_created(repository, image_id))

    def _config_created(self, repository: str, digest: str) -> datetime | None:
        with self._lock:
            if digest in self._created:
                return self._created[digest]
        response = self._get(f"{self._base}/v2/{repository}/blobs/{digest}", repository)
        created = parse_created(self._json(response, f"image config {digest[:19]}").get("created"))
        with self._lock:
            self._created[digest] = created
        return created

    # -- HTTP ------------------------------------------------------------------

    def _get(self, url: str, repository: str, *, accept: str | None = None) -> requests.Response:
        response = self._fetch(url, repository, accept=accept)
        assert response is not None  # only missing_ok=True yields None
        return response

    def _fetch(
        self, url: str, repository: str, *, accept: str | None = None, missing_ok: bool = False
    ) -> requests.Response | None:
        headers = {"Accept": accept} if accept else {}
        response = self._send(url, repository, headers)
        if response.status_code == 401:
            scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if scheme == "bearer" and "realm" in params:
                self._fetch_token(repository, params)
                response = self._send(url, repository, headers)
        if response.status_code == 401:
            raise RegistryError(self._auth_problem())
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise RegistryError(self._http_problem(response, repository))
        return response

    def _send(self, url: str, repository: str, headers: dict[str, str]) -> requests.Response:
        with self._lock:
            token = self._tokens.get(repository)
        auth = None
        if token:
            headers = {**headers, "Authorization": f"Bearer {token}"}
        else:
            auth = self._basic_auth()
        try:
            return self._session.get(
                url, headers=headers, auth=auth, timeout=self._timeout, verify=self._verify
            )
        except requests.exceptions.SSLError as exc:
            raise RegistryError(f"registry {self._shown}: TLS failed ({_reason(exc)})") from exc
        except requests.exceptions.Timeout as exc:
            raise RegistryError(
                f"registry {self._shown} did not answer within {self._timeout:g} s"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"registry {self._shown} is unreachable ({_reason(exc)})") from exc

    def _password(self) -> str:
        # Read on every use: the password lives in the environment, never in this object.
        env = self._config.password_env
        return os.environ.get(env, "") if env else ""

    def _basic_auth(self) -> tuple[str, str] | None:
        name, password = self._config.username, self._password()
        return (name, password) if name and password else None

    def _fetch_token(self, repository: str, challenge: dict[str, str]) -> None:
        params = {"scope": challenge.get("scope") or f"repository:{repository}:pull"}
        if challenge.get("service"):
            params["service"] = challenge["service"]
        try:
            response = self._session.get(
                challenge["realm"], params=params, auth=self._basic_auth(),
                timeout=self._timeout, verify=self._verify,
            )  # fmt: skip
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"registry token service {challenge['realm']} unreachable") from exc
        if response.status_code in (401, 403):
            raise RegistryError(self._auth_problem())
        body = self._json(response, "token answer") if response.ok else {}
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"registry token service answered {response.status_code}")
        with self._lock:
            self._tokens[repository] = str(token)

    def _auth_problem(self) -> str:
        config, where = self._config, f"registry {self._shown}"
        if not config.username:
            return f"{where} requires a login: set registry.username and password_env"
        if not (config.password_env and os.environ.get(config.password_env)):
            return f"{where}: the password variable ${config.password_env} is not set"
        return f"{where} refused the login of {config.username!r} (wrong password?)"

    def _http_problem(self, response: requests.Response, repository: str) -> str:
        codes: list[str] = []
        message = ""
        try:
            errors = response.json().get("errors") or []
            codes = [str(e.get("code")) for e in errors]
            message = "; ".join(str(e.get("message")) for e in errors)
        except (ValueError, AttributeError):
            pass
        if "NAME_UNKNOWN" in codes:
            return f"unknown repository {repository!r} in registry {self._shown}"
        if response.status_code == 403:
            return f"registry {self._shown} denies access to {repository!r}"
        detail = message or response.reason or ""
        return f"registry {self._shown} answered {response.status_code} {detail}".rstrip()

    @staticmethod
    def _json(response: requests.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise RegistryError(f"the registry sent no JSON for the {what}") from exc
        if not isinstance(body, dict):
            raise RegistryError(f"the registry sent an unexpected {what}")
        return body
