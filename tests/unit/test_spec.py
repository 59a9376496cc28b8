"""Container specs from the inventory and from Docker's inspect output, hashed and diffed."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jobtui.backend.docker.spec import (
    NO_DEFAULTS,
    ContainerSpec,
    Defaults,
    FieldDiff,
    LogSpec,
    desired_spec,
    diff_specs,
    full_image_ref,
    image_defaults,
    observed_spec,
    spec_hash,
)
from jobtui.config.loader import load_inventory, parse_inventory
from jobtui.config.models import PortSpec, Ulimit, Volume

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed.yml"

FULL = parse_inventory(
    """
hosts: {host-17: "ssh://deploy@host-17"}
services:
  - name: repo-manager-repo1
    image: registry.dc1:5000/repo-manager-repo1:9206804
    run_on_host: host-17
    port: 8889
    envs:
      - {key: manager_port, value: 8888}
      - {key: http_port, value: 8889}
      - {key: max_conn, value: 128}
    volumes:
      - {container_path: /data/git, host_path: /data/git, read_only: false}
      - {container_path: /etc/repo, host_path: /srv/repo/etc, read_only: true}
    ulimits:
      - {name: nofile, soft: 65536, hard: 65536}
      - {name: core, soft: 0}
    log_config: {type: json-file, config: {max-size: 50m, max-file: 3}}
    entrypoint: ""
    cmd: "--listen 0.0.0.0"
    network_mode: host
    restart: on-failure:5
    mem_limit: 512m
    cpus: 1.5
    labels: {team: git}
""",
    file="inv.yml",
).services[0]

# The image repo-manager-repo1:9206804 as GET /images/{id}/json shows it (trimmed).
IMAGE: dict[str, Any] = {
    "Id": "sha256:5f1b0c9d2a7e4b3c8d6e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c",
    "RepoTags": ["registry.dc1:5000/repo-manager-repo1:9206804"],
    "Config": {
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
        ],
        "Cmd": ["--listen", "127.0.0.1"],
        "Entrypoint": ["/usr/bin/repo-manager"],
        "ExposedPorts": {"9418/tcp": {}},
        "Labels": {"org.opencontainers.image.source": "https://git.dc1/repo-manager"},
        "Volumes": {"/var/cache/repo": {}},
        "WorkingDir": "/srv",
    },
    "DockerVersion": "20.10.24+dfsg1",
    "Os": "linux",
}

# The container jobtui would create for FULL, as Docker 20.10's
# GET /containers/{id}/json returns it (unrelated keys trimmed). The image's
# env, labels, entrypoint and exposed port are merged in, as Docker does.
INSPECT: dict[str, Any] = {
    "Id": "9c2f6e1d0b8a47c3a5e2d9f8b7c6a5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d",
    "Created": "2026-11-25T13:43:29.226852446Z",
    "Path": "/usr/bin/repo-manager",
    "Args": ["--listen", "0.0.0.0"],
    "State": {"Status": "running", "Running": True, "Pid": 14160, "ExitCode": 0},
    "Image": "sha256:5f1b0c9d2a7e4b3c8d6e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c",
    "Name": "/repo-manager-repo1_1795614208",
    "RestartCount": 0,
    "Driver": "overlay2",
    "Platform": "linux",
    "HostConfig": {
        "Binds": ["/data/git:/data/git", "/srv/repo/etc:/etc/repo:ro"],
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {"max-file": "3", "max-size": "50m"}},
        "NetworkMode": "host",
        "PortBindings": {},
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5},
        "AutoRemove": False,
        "CapAdd": None,
        "CgroupnsMode": "host",
        "IpcMode": "private",
        "Privileged": False,
        "ShmSize": 67108864,
        "Runtime": "runc",
        "CpuShares": 0,
        "Memory": 536870912,
        "NanoCpus": 1500000000,
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "MemoryReservation": 0,
        "MemorySwap": 1073741824,
        "PidsLimit": None,
        "Ulimits": [
            {"Name": "nofile", "Hard": 65536, "Soft": 65536},
            {"Name": "core", "Hard": 0, "Soft": 0},
        ],
    },
    "Mounts": [
        {
            "Type": "bind",
            "Source": "/data/git",
            "Destination": "/data/git",
            "Mode": "",
            "RW": True,
            "Propagation": "rprivate",
        },
        {
            "Type": "bind",
            "Source": "/srv/repo/etc",
            "Destination": "/etc/repo",
            "Mode": "ro",
            "RW": False,
            "Propagation": "rprivate",
        },
        {
            "Type": "volume",
            "Name": "3e0b8d1f4c2a9e7b6d5c4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d",
            "Source": "/var/lib/docker/volumes/3e0b8d1f/_data",
            "Destination": "/var/cache/repo",
            "Driver": "local",
            "Mode": "",
            "RW": True,
            "Propagation": "",
        },
    ],
    "Config": {
        "Hostname": "host-17",
        "User": "",
        "Tty": False,
        "ExposedPorts": {"8889/tcp": {}, "9418/tcp": {}},
        "Env": [
            "manager_port=8888",
            "http_port=8889",
            "max_conn=128",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
        ],
        "Cmd": ["--listen", "0.0.0.0"],
        "Image": "registry.dc1:5000/repo-manager-repo1:9206804",
        "Volumes": {"/var/cache/repo": {}},
        "WorkingDir": "/srv",
        "Entrypoint": ["/usr/bin/repo-manager"],
        "OnBuild": None,
        "Labels": {
            "jobtui.service": "repo-manager-repo1",
            "jobtui.version": "9206804",
            "jobtui.spec-hash": "0123456789abcdef",
            "org.opencontainers.image.source": "https://git.dc1/repo-manager",
            "team": "git",
        },
        "StopTimeout": 10,
    },
    "NetworkSettings": {"Bridge": "", "Ports": {}, "IPAddress": "", "Networks": {"host": {}}},
}

IMAGE_LABEL = ("org.opencontainers.image.source", "https://git.dc1/repo-manager")

FULL_SPEC = ContainerSpec(
    image="registry.dc1:5000/repo-manager-repo1:9206804",
    env=(("http_port", "8889"), ("manager_port", "8888"), ("max_conn", "128")),
    volumes=(Volume("/data/git", "/data/git"), Volume("/etc/repo", "/srv/repo/etc", True)),
    ulimits=(Ulimit("core", 0, 0), Ulimit("nofile", 65536, 65536)),
    log_config=LogSpec("json-file", (("max-file", "3"), ("max-size", "50m"))),
    entrypoint=None,
    cmd=("--listen", "0.0.0.0"),
    network_mode="host",
    restart="on-failure:5",
    mem_limit=512 * 1024**2,
    cpus=1.5,
    labels=(("team", "git"),),
)


def test_desired_spec_of_the_seed_service() -> None:
    (service,) = load_inventory(SEED).services
    assert desired_spec(service) == ContainerSpec(
        image="repo-manager-repo1:latest",
        env=(("http_port", "8889"), ("manager_port", "8888"), ("max_conn", "128")),
        volumes=(Volume("/data/git", "/data/git", False),),
        network_mode="host",
    )


def test_desired_spec_of_a_full_service() -> None:
    assert desired_spec(FULL) == FULL_SPEC


def test_desired_spec_defaults_and_host_network_ports() -> None:
    inventory = parse_inventory(
        """
hosts: {a: "unix:///a.sock"}
services:
  - {name: api, image: "r:5000/api", run_on_host: a, port: "127.0.0.1:18080:8080"}
  - {name: dns, image: "dns:2", run_on_host: a, port: "53/udp", network_mode: host,
     restart: "on-failure:0", labels: ["tier=edge"]}
""",
        file="inv.yml",
    )
    api, dns = (desired_spec(s) for s in inventory.services)
    assert api == ContainerSpec("r:5000/api:latest", port=PortSpec(8080, 18080, "127.0.0.1"))
    assert (api.network_mode, api.restart, api.log_config) == ("bridge", "no", None)
    assert dns == ContainerSpec(
        "dns:2",
        network_mode="host",
        restart="on-failure",
        labels=(("tier", "edge"),),
    )


def test_observed_spec_reads_docker_inspect_relative_to_the_image() -> None:
    spec = observed_spec(INSPECT, image_defaults(IMAGE))
    assert spec == FULL_SPEC
    assert spec.defaults == image_defaults(IMAGE)
    assert diff_specs(desired_spec(FULL), spec) == ()


def test_image_defaults() -> None:
    assert image_defaults(IMAGE, log_driver="journald") == Defaults(
        env=(
            ("LANG", "C.UTF-8"),
            ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ),
        labels=(("org.opencontainers.image.source", "https://git.dc1/repo-manager"),),
        entrypoint=("/usr/bin/repo-manager",),
        cmd=("--listen", "127.0.0.1"),
        log_driver="journald",
    )


def test_without_image_defaults_inherited_values_show() -> None:
    spec = observed_spec(INSPECT)
    assert spec == replace(
        FULL_SPEC,
        env=(
            *FULL_SPEC.env,
            ("LANG", "C.UTF-8"),
            ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ),
        entrypoint=("/usr/bin/repo-manager",),
        labels=(IMAGE_LABEL, *FULL_SPEC.labels),
    )
    assert spec.defaults == NO_DEFAULTS


def test_image_env_is_subtracted_but_overrides_are_kept() -> None:
    # The demo's web container: PORT overrides the image's, PATH is the image's.
    path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    inspect = {
        "Config": {"Image": "127.0.0.1:45000/demo/web:v1", "Env": ["PORT=18080", path]},
        "HostConfig": {"NetworkMode": "host", "LogConfig": {"Type": "json-file", "Config": {}}},
    }
    image = image_defaults({"Config": {"Env": [path, "PORT=8080"]}})
    spec = observed_spec(inspect, image)
    assert spec.env == (("PORT", "18080"),)
    assert spec.log_config is None


def test_values_restating_image_defaults_are_no_drift() -> None:
    image = image_defaults(IMAGE)
    spelled_out = replace(
        FULL_SPEC,
        env=(*FULL_SPEC.env, ("LANG", "C.UTF-8")),
        entrypoint=("/usr/bin/repo-manager",),
        labels=(*FULL_SPEC.labels, IMAGE_LABEL),
    )
    assert diff_specs(spelled_out, observed_spec(INSPECT, image)) == ()
    # The image's own cmd, when the inventory leaves cmd to the image.
    inspect = copy.deepcopy(INSPECT)
    inspect["Config"]["Cmd"] = ["--listen", "127.0.0.1"]
    assert observed_spec(inspect, image).cmd is None
    assert diff_specs(replace(FULL_SPEC, cmd=None), observed_spec(inspect, image)) == ()


def test_daemon_defaults_read_as_unset() -> None:
    inspect = {
        "Config": {"Image": "busybox", "Env": None, "Labels": None},
        "HostConfig": {
            "NetworkMode": "default",
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
            "LogConfig": {"Type": "json-file", "Config": {}},
            "Memory": 0,
            "NanoCpus": 0,
            "Ulimits": None,
            "Binds": None,
        },
        "Mounts": [],
    }
    assert observed_spec(inspect) == ContainerSpec("busybox:latest")
    journald = Defaults(log_driver="journald")
    assert observed_spec(inspect, journald).log_config == LogSpec("json-file")
    # Spelling out the daemon's default driver is no drift either.
    spelled_out = ContainerSpec("busybox:latest", log_config=LogSpec("json-file"))
    assert diff_specs(spelled_out, observed_spec(inspect)) == ()


def test_published_ports_and_binds_without_mounts() -> None:
    inspect = {
        "Config": {"Image": "r/web:v1", "ExposedPorts": {"8080/tcp": {}}},
        "HostConfig": {
            "NetworkMode": "bridge",
            "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]},
            "Binds": ["/srv/a:/a:ro,z", "/srv/b:/b:rw"],
        },
    }
    spec = observed_spec(inspect)
    assert spec.port == PortSpec(8080, 18080, "127.0.0.1")
    assert spec.volumes == (Volume("/a", "/srv/a", True), Volume("/b", "/srv/b", False))
    inspect["HostConfig"]["PortBindings"] = {"53/udp": [{"HostIp": "", "HostPort": ""}]}
    assert observed_spec(inspect).port == PortSpec(53, protocol="udp")


def test_host_networking_has_no_port_to_compare() -> None:
    # Docker publishes nothing for a host-network container: its inventory
    # port is only where it listens (health check, etcd), no container setting.
    inspect = {
        "Config": {"Image": "r/web:v1", "ExposedPorts": {"8080/tcp": {}}},
        "HostConfig": {
            "NetworkMode": "host",
            "PortBindings": {"8080/tcp": [{"HostIp": "", "HostPort": "18080"}]},
        },
    }
    assert observed_spec(inspect).port is None
    service = parse_inventory(
        """
hosts: {a: "unix:///a.sock"}
services:
  - {name: web, image: "r/web:v1", run_on_host: a, port: 18081, network_mode: host}
""",
        file="inv.yml",
    ).services[0]
    assert desired_spec(service).port is None
    assert diff_specs(desired_spec(service), observed_spec(inspect)) == ()


def test_full_image_ref() -> None:
    assert full_image_ref("busybox") == "busybox:latest"
    assert full_image_ref("127.0.0.1:45000/demo/web") == "127.0.0.1:45000/demo/web:latest"
    assert full_image_ref("127.0.0.1:45000/demo/web:v1") == "127.0.0.1:45000/demo/web:v1"
    digest = "r/web@sha256:" + "a" * 64
    assert full_image_ref(digest) == digest


def test_diff_of_every_field() -> None:
    actual = ContainerSpec(
        image="registry.dc1:5000/repo-manager-repo1:9206803",
        env=(("DEBUG", "1"), ("http_port", "8889"), ("manager_port", "8887")),
        port=PortSpec(8890),
        volumes=(Volume("/data/git", "/data/git-old"), Volume("/tmp", "/tmp")),
        ulimits=(Ulimit("nofile", 1024, 4096),),
        log_config=LogSpec("syslog"),
        entrypoint=("/bin/sh", "-c", "exec repo-manager"),
        cmd=None,
        network_mode="bridge",
        restart="always",
        mem_limit=None,
        cpus=0.5,
        labels=(("owner", "x"), ("team", "svn")),
    )
    assert [str(d) for d in diff_specs(FULL_SPEC, actual)] == [
        "image: registry.dc1:5000/repo-manager-repo1:9206803"
        " -> registry.dc1:5000/repo-manager-repo1:9206804",
        "envs.DEBUG: 1 -> (unset)",
        "envs.manager_port: 8887 -> 8888",
        "envs.max_conn: (unset) -> 128",
        "port: 8890 -> (none)",
        "volumes./data/git: /data/git-old -> /data/git",
        "volumes./etc/repo: (unset) -> /srv/repo/etc (read-only)",
        "volumes./tmp: /tmp -> (unset)",
        "ulimits.core: (unset) -> 0:0",
        "ulimits.nofile: 1024:4096 -> 65536:65536",
        "log_config: syslog -> json-file max-file=3 max-size=50m",
        "entrypoint: /bin/sh -c 'exec repo-manager' -> (image default)",
        "cmd: (image default) -> --listen 0.0.0.0",
        "network_mode: bridge -> host",
        "restart: always -> on-failure:5",
        "mem_limit: (unlimited) -> 512m",
        "cpus: 0.5 -> 1.5",
        "labels.owner: x -> (unset)",
        "labels.team: svn -> git",
    ]
    assert diff_specs(FULL_SPEC, actual)[2] == FieldDiff("envs.manager_port", "8888", "8887")
    assert diff_specs(FULL_SPEC, FULL_SPEC) == ()


def test_diff_masks_secret_env_values() -> None:
    desired = ContainerSpec("r/web:v1", env=(("DB_PASSWORD", "hunter2"), ("api_token", "t2")))
    actual = ContainerSpec("r/web:v1", env=(("DB_PASSWORD", "s3cr3t"),))
    diffs = diff_specs(desired, actual)
    assert diffs == (
        FieldDiff("envs.DB_PASSWORD", "••••••", "••••••", secret=True),
        FieldDiff("envs.api_token", "••••••", "(unset)", secret=True),
    )
    assert [str(d) for d in diffs] == ["envs.DB_PASSWORD: changed", "envs.api_token: added"]


def test_spec_hash_is_stable_and_order_free() -> None:
    assert spec_hash(FULL_SPEC) == "981c8ded7f9c93f7"
    shuffled = ContainerSpec(
        image=FULL_SPEC.image,
        env=tuple(reversed(FULL_SPEC.env)),
        port=FULL_SPEC.port,
        volumes=tuple(reversed(FULL_SPEC.volumes)),
        ulimits=tuple(reversed(FULL_SPEC.ulimits)),
        log_config=LogSpec("json-file", (("max-size", "50m"), ("max-file", "3"))),
        cmd=FULL_SPEC.cmd,
        network_mode="host",
        restart="on-failure:5",
        mem_limit=FULL_SPEC.mem_limit,
        cpus=1.5,
        labels=FULL_SPEC.labels,
        defaults=image_defaults(IMAGE),
    )
    assert shuffled == FULL_SPEC
    assert spec_hash(shuffled) == spec_hash(FULL_SPEC)


@pytest.mark.parametrize(
    "change",
    [
        {"image": "registry.dc1:5000/repo-manager-repo1:9206805"},
        {"env": (("http_port", "8889"),)},
        {"port": PortSpec(8890)},
        {"port": PortSpec(8890, 18890)},
        {"volumes": ()},
        {"ulimits": (Ulimit("nofile", 65536, 65537),)},
        {"log_config": None},
        {"entrypoint": ("/bin/sh",)},
        {"cmd": None},
        {"network_mode": "bridge"},
        {"restart": "always"},
        {"mem_limit": 256 * 1024**2},
        {"cpus": 1.25},
        {"labels": ()},
    ],
)
def test_spec_hash_sees_every_field(change: dict[str, Any]) -> None:
    changed = replace(FULL_SPEC, **change)
    assert spec_hash(changed) != spec_hash(FULL_SPEC)
    assert len(spec_hash(changed)) == 16
