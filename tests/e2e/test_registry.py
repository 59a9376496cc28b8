"""RegistryClient against the stack's real registry, cross-checked with the daemons."""

from __future__ import annotations

from typing import TYPE_CHECKING

import docker
import pytest

from jobtui.backend.model import RegistryError
from jobtui.backend.registry import RegistryClient, repository_in_registry
from jobtui.config.loader import load_inventory
from jobtui.config.models import RegistryConfig

if TYPE_CHECKING:
    from conftest import Stack


@pytest.fixture
def registry(stack: Stack) -> RegistryClient:
    return RegistryClient(RegistryConfig(stack.registry_url))


def test_web_tags_newest_first_with_digest_image_id_and_date(registry: RegistryClient) -> None:
    tags = registry.tags("demo/web")
    names = [t.tag for t in tags]
    assert {"v1", "v2", "v3", "v4", "broken"} <= set(names)
    assert names.index("v4") < names.index("v3") < names.index("v2") < names.index("v1")
    for tag in tags:
        assert tag.digest.startswith("sha256:") and len(tag.digest) == 71
        assert tag.image_id.startswith("sha256:") and tag.image_id != tag.digest
        assert tag.created is not None and tag.created.tzinfo is not None
    dates = [t.created for t in tags if t.created is not None]
    assert dates == sorted(dates, reverse=True)


def test_worker_tags(registry: RegistryClient) -> None:
    names = [t.tag for t in registry.tags("demo/worker")]
    assert set(names) >= {"v1", "v2", "v3", "v4"}
    assert names.index("v4") < names.index("v1")


def test_digest_and_image_id_match_what_the_daemon_pulled(
    stack: Stack, registry: RegistryClient
) -> None:
    by_tag = {t.tag: t for t in registry.tags("demo/worker")}
    daemon = docker.DockerClient(base_url=stack.host_a_url, timeout=30)
    try:
        image = daemon.images.get(stack.image("worker:v1"))
    finally:
        daemon.close()
    assert by_tag["v1"].image_id == image.id
    assert f"{stack.image('worker')}@{by_tag['v1'].digest}" in image.attrs["RepoDigests"]


def test_unknown_repository_raises_a_readable_error(registry: RegistryClient) -> None:
    with pytest.raises(RegistryError, match="unknown repository 'demo/nope'"):
        registry.tags("demo/nope")


def test_inventory_images_map_to_repositories_with_tags(
    stack: Stack, registry: RegistryClient
) -> None:
    inventory = load_inventory(stack.inventory)
    assert inventory.registry is not None
    for service in inventory.services:
        repository = repository_in_registry(service.image, inventory.registry)
        assert repository in ("demo/web", "demo/worker"), service.image
        assert service.tag in {t.tag for t in registry.tags(repository)}
