"""The inventory loader: the seed's format, the full form, and every problem reported."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jobtui.config.errors import InventoryError
from jobtui.config.loader import load_inventory, parse_inventory
from jobtui.config.models import EnvVar, PortSpec, Volume

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def parse(text: str, **kwargs: str) -> object:
    return parse_inventory(textwrap.dedent(text), file="inv.yml", **kwargs)


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(InventoryError) as info:
        parse(text)
    return [(p.line, p.key) for p in info.value.problems]


def test_seed_example_loads_unchanged() -> None:
    inventory = load_inventory(EXAMPLES / "seed.yml")
    assert inventory.bare_list
    (service,) = inventory.services
    assert service.name == "repo-manager-repo1"
    assert service.image == "repo-manager-repo1:latest"
    assert service.run_on_host == ("host-17",)
    assert service.port is None
    assert service.envs == (
        EnvVar("manager_port", "8888"),
        EnvVar("http_port", "8889"),
        EnvVar("max_conn", "128"),
    )
    assert service.volumes == (Volume("/data/git", "/data/git", read_only=False),)
    assert service.ulimits == ()
    assert service.log_config is None
    assert service.entrypoint is None and service.cmd is None
    assert service.network_mode == "host"
    assert inventory.hosts["host-17"].url == "ssh://host-17"


def test_full_example_loads() -> None:
    inventory = load_inventory(EXAMPLES / "full.yml")
    assert not inventory.bare_list
    assert set(inventory.hosts) >= {"host-a", "host-b"}
    assert inventory.registry is not None and inventory.registry.password_env
    assert inventory.etcd is not None and inventory.prometheus is not None
    assert all(h in inventory.hosts for s in inventory.services for h in s.run_on_host)


def test_bare_list_host_url_pattern_is_configurable() -> None:
    inventory = parse(
        """
        - name: web
          image: web:1
          run_on_host: h1
        """,
        host_url_pattern="tcp://{host}.dc1:2376",
    )
    assert inventory.hosts["h1"].url == "tcp://h1.dc1:2376"  # type: ignore[attr-defined]


def test_full_form_fields() -> None:
    inventory = parse(
        """
        hosts:
          a: unix:///run/a.sock
          b:
            url: tcp://10.0.0.2:2376
            tls: {ca_cert: /etc/ca.pem, client_cert: /etc/c.pem, client_key: /etc/k.pem}
        registry: {url: "https://reg.example:5000/", username: ci, password_env: REG_PW}
        etcd: {endpoints: "127.0.0.1:2379", prefix: /lb/}
        prometheus: http://prom:9090
        services:
          - name: web
            image: reg.example:5000/team/web:2a4fd3d
            run_on_host: [a, b]
            port: "127.0.0.1:8080:80/tcp"
            entrypoint: /bin/sh -c 'exec httpd'
            cmd: ["-p", 80]
            stop_grace_period: 1m30s
            mem_limit: 512m
            cpus: 1.5
            labels: ["team=web"]
            restart: on-failure:3
            healthcheck: {test: "wget -q -O- localhost/health", interval: 2s, retries: 5}
            update_config: {parallelism: 2, order: stop-first}
        """
    )
    service = inventory.service("web")  # type: ignore[attr-defined]
    assert service.run_on_host == ("a", "b")
    assert service.port == PortSpec(80, 8080, "127.0.0.1", "tcp")
    assert service.entrypoint == ("/bin/sh", "-c", "exec httpd")
    assert service.cmd == ("-p", "80")
    assert service.stop_grace_period == 90.0
    assert service.mem_limit == 512 * 1024 * 1024
    assert service.labels == {"team": "web"}
    assert service.healthcheck.test == ("CMD-SHELL", "wget -q -O- localhost/health")
    assert service.healthcheck.interval == 2.0 and service.healthcheck.retries == 5
    assert service.update_config.parallelism == 2
    assert service.update_config.order == "stop-first"
    assert service.repository == "reg.example:5000/team/web" and service.tag == "2a4fd3d"
    assert inventory.hosts["b"].tls.ca_cert == "/etc/ca.pem"  # type: ignore[attr-defined]
    assert inventory.registry.url == "https://reg.example:5000"  # type: ignore[attr-defined]
    assert inventory.etcd.prefix == "/lb"  # type: ignore[attr-defined]
    assert inventory.hosts["a"].address == "127.0.0.1"  # type: ignore[attr-defined]
    assert inventory.hosts["b"].address == "10.0.0.2"  # type: ignore[attr-defined]


MALFORMED = {
    "yaml syntax error": (
        """
        - name: web
          image: [unclosed
        """,
        [(4, "")],
    ),
    "unknown key with suggestion": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          imagee: web:2
        """,
        [(5, "[0].imagee")],
    ),
    "missing required keys": (
        """
        - name: web
          port: 80
        """,
        [(2, "[0].image"), (2, "[0].run_on_host")],
    ),
    "wrong type for envs": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          envs: {PORT: 80}
        """,
        [(5, "[0].envs")],
    ),
    "bool env value": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          envs:
            - key: DEBUG
              value: true
        """,
        [(7, "[0].envs[0].value")],
    ),
    "duplicate service names": (
        """
        - name: web
          image: web:1
          run_on_host: h1
        - name: web
          image: web:2
          run_on_host: h1
        """,
        [(5, "[1].name")],
    ),
    "unknown host in full form": (
        """
        hosts:
          a: unix:///run/a.sock
        services:
          - name: web
            image: web:1
            run_on_host: [a, c]
        """,
        [(5, "services[0].run_on_host")],
    ),
    "bad port spec": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          port: "80:99999"
        """,
        [(5, "[0].port")],
    ),
    "port not a number": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          port: http
        """,
        [(5, "[0].port")],
    ),
    "secret in file": (
        """
        registry:
          url: http://reg:5000
          password: hunter2
        services: []
        """,
        [(4, "registry.password")],
    ),
    "bad host url": (
        """
        hosts:
          a: http://10.0.0.1:2375
        services: []
        """,
        [(3, "hosts.a")],
    ),
    "volume paths relative and read_only not bool": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          volumes:
            - container_path: data
              host_path: /data
              read_only: "no"
        """,
        [(6, "[0].volumes[0].container_path"), (8, "[0].volumes[0].read_only")],
    ),
    "invalid image reference": (
        """
        - name: web
          image: "Web App:latest"
          run_on_host: h1
        """,
        [(3, "[0].image")],
    ),
    "invalid service name": (
        """
        - name: "-web"
          image: web:1
          run_on_host: h1
        """,
        [(2, "[0].name")],
    ),
    "duplicate yaml key": (
        """
        - name: web
          image: web:1
          image: web:2
          run_on_host: h1
        """,
        [(4, "[0].image")],
    ),
    "ulimit soft not an integer": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          ulimits:
            - name: nofile
              soft: many
        """,
        [(7, "[0].ulimits[0].soft")],
    ),
    "bad duration and restart policy": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          stop_grace_period: 10 seconds
          restart: sometimes
        """,
        [(5, "[0].stop_grace_period"), (6, "[0].restart")],
    ),
    "update_config order": (
        """
        - name: web
          image: web:1
          run_on_host: h1
          update_config:
            order: random-first
        """,
        [(6, "[0].update_config.order")],
    ),
    "top level is a scalar": ("just some text\n", [(1, "")]),
    "unknown top-level key and missing services": (
        """
        hostz:
          a: unix:///run/a.sock
        """,
        [(2, "hostz"), (2, "services")],
    ),
    "several problems in several services at once": (
        """
        - name: web
          image: web:1
          run_on_host: []
        - name: api
          image: api:1
          run_on_host: h1
          cpus: lots
        - image: worker:1
          run_on_host: h1
        """,
        [(4, "[0].run_on_host"), (8, "[1].cpus"), (9, "[2].name")],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_inventory_reports_line_and_key(case: str) -> None:
    text, expected = MALFORMED[case]
    assert problems(text) == expected


def test_problem_text_names_file_line_and_key() -> None:
    with pytest.raises(InventoryError) as info:
        parse(MALFORMED["unknown key with suggestion"][0])
    message = str(info.value.problems[0])
    assert message.startswith("inv.yml:5: [0].imagee: unknown key")
    assert "did you mean 'image'" in message


def test_env_values_keep_number_text_and_empty_means_unset() -> None:
    inventory = parse(
        """
        - name: w
          image: w:1
          run_on_host: h
          port: 8080
          envs:
            - {key: A, value: 0.50}
            - {key: B, value: ""}
            - {key: C}
        """
    )
    service = inventory.services[0]  # type: ignore[attr-defined]
    assert service.envs == (EnvVar("A", "0.50"), EnvVar("B", ""), EnvVar("C", ""))
    assert service.port == PortSpec(8080)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path / "nope.yml")
    assert "cannot read" in str(info.value)


def test_update_config_parallelism_as_a_share_of_hosts() -> None:
    inventory = parse(
        """
        - name: web
          image: web:1
          run_on_host: [a, b, c, d, e]
          update_config: {parallelism: 40%}
        - name: api
          image: api:1
          run_on_host: [a, b, c]
          update_config: {parallelism: 2}
        """
    )
    web, api = inventory.services  # type: ignore[attr-defined]
    assert web.update_config.parallelism_percent == 40.0
    assert web.update_config.batch_size(5) == 2 and web.update_config.batch_size(1) == 1
    assert api.update_config.parallelism_percent is None
    assert api.update_config.batch_size(3) == 2
    assert problems(
        """
        - name: web
          image: web:1
          run_on_host: a
          update_config: {parallelism: 150%}
        """
    ) == [(5, "[0].update_config.parallelism")]
