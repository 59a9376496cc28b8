"""Benchmarks of the read path, as ratios to a baseline run in the same process.

The machine is shared and noisy, so each figure is the median of several
rounds divided by the median of a baseline doing the unavoidable part of the
same work. Writes bench/results_core.md (scripts/bench writes results.md).

    .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import yaml

from jobtui.backend.model import ContainerInfo, FleetSnapshot, HostState, HostStatus
from jobtui.backend.observe.rows import service_rows
from jobtui.config.loader import parse_inventory

ROUNDS = 7
OUT = Path(__file__).with_name("results_core.md")


def median_seconds(work: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def seed_inventory(services: int, hosts: int) -> str:
    entries = []
    for i in range(services):
        entries.append(
            f"- name: svc-{i}\n  image: registry.dc1:5000/team/svc-{i}:v{i % 7}\n"
            f"  run_on_host: [h{i % hosts}, h{(i + 1) % hosts}]\n  port: {10000 + i}\n"
            "  envs:\n    - key: A\n      value: 1\n    - key: B\n      value: two\n"
            "  volumes:\n    - {container_path: /data, host_path: /srv/data, read_only: false}\n"
            '  ulimits: []\n  log_config: null\n  entrypoint: ""\n  cmd: ""\n'
            "  network_mode: host\n"
        )
    return "".join(entries)


def fleet(services: int, hosts: int, per_host: int) -> FleetSnapshot:
    states = {}
    for h in range(hosts):
        containers = tuple(
            ContainerInfo(
                id=f"{h}-{c}",
                name=f"svc-{(h * per_host + c) % services}_{1700000000 + c}",
                host=f"h{h}",
                image="x:v1",
                state="running" if c % 3 else "exited",
                created=float(c),
                labels=MappingProxyType({"jobtui.service": f"svc-{(h * per_host + c) % services}"}),
            )
            for c in range(per_host)
        )
        states[f"h{h}"] = HostState(f"h{h}", f"ssh://h{h}", HostStatus.UP, containers=containers)
    return FleetSnapshot(MappingProxyType(states))


def main() -> None:
    rows = []
    text = seed_inventory(500, 100)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    base = median_seconds(lambda: yaml.load(text, Loader=loader))
    ours = median_seconds(lambda: parse_inventory(text, file="bench.yml"))
    rows.append(
        ("load + validate 500 services", "PyYAML load of the same file (libyaml)", ours, base)
    )

    inventory = parse_inventory(text, file="bench.yml")
    snapshot = fleet(500, 100, 30)
    base = median_seconds(lambda: [c.service for c in snapshot.containers()])
    ours = median_seconds(lambda: service_rows(inventory, snapshot))
    rows.append(
        (
            "service rows: 1,000 rows over 100 hosts x 30 containers",
            "reading every container's label once",
            ours,
            base,
        )
    )

    lines = [
        "| what | baseline | time | baseline time | ratio |",
        "|---|---|---|---|---|",
        *(
            f"| {w} | {b} | {o * 1e3:.1f} ms | {bt * 1e3:.1f} ms | {o / bt:.1f}x |"
            for w, b, o, bt in rows
        ),
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
