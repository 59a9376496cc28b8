"""Registry parsing helpers, and RegistryClient against canned answers on loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from jobtui.backend.model import RegistryError, TagInfo
from jobtui.backend.registry import (
    MANIFEST_V2,
    OCI_INDEX,
    RegistryClient,
    config_digest,
    is_index,
    parse_challenge,
    parse_created,
    pick_manifest,
    repository_in_registry,
    schema1_created,
    sort_tags,
)
from jobtui.config.models import RegistryConfig

REGISTRY = RegistryConfig("http://127.0.0.1:45000")


# -- pure helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("127.0.0.1:45000/demo/web:v1", "demo/web"),
        ("127.0.0.1:45000/demo/web", "demo/web"),
        ("127.0.0.1:45000/demo/web@sha256:abc", "demo/web"),
        ("repo-manager-repo1:latest", "repo-manager-repo1"),
        ("team/app:3.1", "team/app"),
        ("registry.example.com/demo/web:v1", None),
        ("localhost:5000/demo/web:v1", None),
        ("127.0.0.1:45001/demo/web:v1", None),
    ],
)
def test_repository_in_registry(image: str, expected: str | None) -> None:
    assert repository_in_registry(image, REGISTRY) == expected


def test_repository_in_registry_without_port_and_with_https() -> None:
    config = RegistryConfig("https://Registry.Example.com/")
    assert repository_in_registry("registry.example.com/ops/tool:1", config) == "ops/tool"


def test_created_dates_keep_microseconds_and_zone() -> None:
    assert parse_created("2026-11-25T13:43:24.678410094Z") == datetime(
        2026, 11, 25, 13, 43, 24, 678410, UTC
    )
    assert parse_created("2026-11-25T14:43:24+01:00") == datetime(2026, 11, 25, 13, 43, 24, 0, UTC)
    for bad in (None, "", 12, "0001-01-01T00:00:00Z", "soon"):
        assert parse_created(bad) is None


def test_sort_tags_newest_first_undated_last() -> None:
    day = datetime(2026, 1, 1, tzinfo=UTC)
    tags = [
        TagInfo("v1", created=day.replace(hour=1)),
        TagInfo("latest"),
        TagInfo("v10", created=day.replace(hour=4)),
        TagInfo("v9"),
        TagInfo("v4", created=day.replace(hour=3)),
    ]
    assert [t.tag for t in sort_tags(tags)] == ["v10", "v4", "v1", "v9", "latest"]


INDEX = {
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [
        {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": "sha256:att", "platform": {"os": "unknown", "architecture": "unknown"}},
        {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
    ],
}


def test_manifest_index_picks_linux_amd64_else_first_image() -> None:
    assert is_index(INDEX)
    assert pick_manifest(INDEX) == "sha256:amd"
    no_amd = {"manifests": [INDEX["manifests"][1], INDEX["manifests"][0]]}
    assert pick_manifest(no_amd) == "sha256:arm"  # the attestation is skipped
    assert pick_manifest({"manifests": []}) is None


def test_single_manifest_names_its_config() -> None:
    manifest = {"mediaType": MANIFEST_V2, "config": {"digest": "sha256:cfg"}, "layers": []}
    assert not is_index(manifest)
    assert config_digest(manifest) == "sha256:cfg"
    assert config_digest({"schemaVersion": 1}) is None


def test_schema1_created_comes_from_history() -> None:
    manifest = {"history": [{"v1Compatibility": json.dumps({"created": "2020-01-02T03:04:05Z"})}]}
    assert schema1_created(manifest) == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert schema1_created({}) is None


def test_parse_bearer_challenge() -> None:
    header = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'
    assert parse_challenge(header) == (
        "bearer",
        {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull"},
    )


# -- the client against a canned registry ---------------------------------------


def _blob(created: str | None) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "created": created}).encode()


CONFIGS = {
    "v1": _blob("2026-01-01T10:00:00.123456789Z"),
    "v2": _blob("2026-01-03T10:00:00Z"),
    "v3": _blob(None),
    "v4": _blob("2026-01-02T10:00:00Z"),
}
CONFIG_DIGESTS = {tag: "sha256:" + hashlib.sha256(b).hexdigest() for tag, b in CONFIGS.items()}


def _manifest(tag: str) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": MANIFEST_V2,
         "config": {"digest": CONFIG_DIGESTS[tag], "size": len(CONFIGS[tag])}, "layers": []}
    ).encode()  # fmt: skip


V2_INDEX = json.dumps(
    {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"digest": "sha256:v2arm", "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": "sha256:v2amd", "platform": {"os": "linux", "architecture": "amd64"}}]}
).encode()  # fmt: skip


class FakeRegistry(BaseHTTPRequestHandler):
    """demo/web with tags v1..v4 over two pages; optional Bearer or Basic auth."""

    auth_mode = "none"  # "bearer" or "basic"
    requests_seen: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        good_basic = "Basic " + base64.b64encode(b"ops:s3cret").decode()
        if self.auth_mode == "basic":
            if given == good_basic:
                return True
            self._send(401, b"{}", {"WWW-Authenticate": 'Basic realm="registry"'})
            return False
        if self.auth_mode == "bearer" and given != "Bearer tok-123":
            port = self.server.server_address[1]
            challenge = (
                f'Bearer realm="http://127.0.0.1:{port}/token",service="fake",'
                'scope="repository:demo/web:pull"'
            )
            self._send(401, b"{}", {"WWW-Authenticate": challenge})
            return False
        return True

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        if parts.path == "/token":
            query = parse_qs(parts.query)
            ok = (
                self.headers.get("Authorization")
                == "Basic " + base64.b64encode(b"ops:s3cret").decode()
            )
            if ok and query.get("scope") == ["repository:demo/web:pull"]:
                self._send(200, json.dumps({"token": "tok-123"}).encode())
            else:
                self._send(401, b"{}")
            return
        if not self._authorized():
            return
        if parts.path == "/v2/demo/web/tags/list":
            if "last=v2" in parts.query:
                self._send(200, json.dumps({"name": "demo/web", "tags": ["v3", "v4"]}).encode())
            else:
                link = '</v2/demo/web/tags/list?last=v2&n=2>; rel="next"'
                body = json.dumps({"name": "demo/web", "tags": ["v1", "v2"]}).encode()
                self._send(200, body, {"Link": link})
            return
        if parts.path.startswith("/v2/demo/web/manifests/"):
            ref = parts.path.rsplit("/", 1)[1]
            if ref == "v2":
                self._send(200, V2_INDEX, {"Content-Type": OCI_INDEX,
                                           "Docker-Content-Digest": "sha256:v2index"})  # fmt: skip
            elif ref == "sha256:v2amd":
                self._send(200, _manifest("v2"), {"Docker-Content-Digest": ref})
            elif ref in ("v1", "v3"):
                self._send(200, _manifest(ref), {"Docker-Content-Digest": f"sha256:{ref}man"})
            elif ref == "v4":  # no digest header: the client must hash the body
                self._send(200, _manifest("v4"))
            else:
                self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return
        for tag, digest in CONFIG_DIGESTS.items():
            if parts.path == f"/v2/demo/web/blobs/{digest}":
                self._send(200, CONFIGS[tag])
                return
        body = b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}'
        self._send(404, body)


@pytest.fixture
def registry() -> Iterator[tuple[ThreadingHTTPServer, type[FakeRegistry]]]:
    handler = type("Handler", (FakeRegistry,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_tags_follow_pages_indexes_and_sort_newest_first(registry: Any) -> None:
    server, _ = registry
    client = RegistryClient(RegistryConfig(_url(server)))
    tags = client.tags("demo/web")
    assert [t.tag for t in tags] == ["v2", "v4", "v1", "v3"]
    by_tag = {t.tag: t for t in tags}
    assert by_tag["v2"].digest == "sha256:v2index"  # the list's digest, as docker pull records
    assert by_tag["v2"].image_id == CONFIG_DIGESTS["v2"]  # from the linux/amd64 manifest
    assert by_tag["v1"].created == datetime(2026, 1, 1, 10, 0, 0, 123456, UTC)
    assert by_tag["v3"].created is None
    assert by_tag["v4"].digest == "sha256:" + hashlib.sha256(_manifest("v4")).hexdigest()
    assert "/v2/demo/web/manifests/sha256:v2arm" not in server.seen


def test_config_blobs_are_fetched_once(registry: Any) -> None:
    server, _ = registry
    client = RegistryClient(RegistryConfig(_url(server)))
    client.tags("demo/web")
    client.tags("demo/web")
    blob_gets = [p for p in server.seen if "/blobs/" in p]
    assert len(blob_gets) == 4


def test_unknown_repository_is_a_readable_error(registry: Any) -> None:
    server, _ = registry
    with pytest.raises(RegistryError, match="unknown repository 'nope'"):
        RegistryClient(RegistryConfig(_url(server))).tags("nope")


def test_unreachable_registry_is_a_readable_error() -> None:
    with pytest.raises(RegistryError, match=r"unreachable \(connection refused\)"):
        RegistryClient(RegistryConfig("http://127.0.0.1:1"), timeout=2).tags("demo/web")


def test_bearer_challenge_gets_a_token_with_the_env_password(
    registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, handler = registry
    handler.auth_mode = "bearer"
    monkeypatch.setenv("REG_PW", "s3cret")
    config = RegistryConfig(_url(server), username="ops", password_env="REG_PW")
    tags = RegistryClient(config).tags("demo/web")
    assert len(tags) == 4
    assert sum(p.startswith("/token") for p in server.seen) == 1  # token reused


def test_basic_auth_and_its_errors(registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server, handler = registry
    handler.auth_mode = "basic"
    with pytest.raises(RegistryError, match="requires a login"):
        RegistryClient(RegistryConfig(_url(server))).tags("demo/web")
    config = RegistryConfig(_url(server), username="ops", password_env="REG_PW")
    monkeypatch.delenv("REG_PW", raising=False)
    with pytest.raises(RegistryError, match=r"\$REG_PW is not set"):
        RegistryClient(config).tags("demo/web")
    monkeypatch.setenv("REG_PW", "wrong")
    with pytest.raises(RegistryError, match="refused the login of 'ops'") as refused:
        RegistryClient(config).tags("demo/web")
    assert "wrong" not in str(refused.value)
    monkeypatch.setenv("REG_PW", "s3cret")
    assert len(RegistryClient(config).tags("demo/web")) == 4
