"""cAdvisor stand-in exporter for tests and the demo (cAdvisor is not packaged for Debian).

NOT cAdvisor. A small HTTP server that publishes, on ``/metrics``, cAdvisor's
metric names, HELP/TYPE lines and label shapes (as in
``tests/fixtures/cadvisor/prometheus_metrics``, real cAdvisor output) with
values taken from REAL Docker stats of the given daemons, so the stack's real
Prometheus scrapes something faithful:

* per running container: ``id`` (its cgroup path, read from
  ``/proc/<pid>/cgroup``: ``/docker/<id>`` here), ``name``, ``image``,
  ``container_label_<label>`` (dots and dashes as ``_``), ``cpu`` per core
  (``cpu00`` …) or ``total``, ``interface``; samples carry the time Docker
  read the stats, as cAdvisor's do. Environment variables are never published.
* per host: the machine's root series (``id="/"``) from ``/proc/stat``,
  ``/proc/meminfo`` and ``/proc/net/dev``, plus ``machine_cpu_cores`` and
  ``machine_memory_bytes``. The stack's "hosts" share one machine, so these
  are the same numbers under each host's name.
* every series carries ``host="<inventory host name>"``: what a Prometheus
  relabel rule adds in production, where each host runs its own cAdvisor.

One background ``docker stats`` stream per running container, (re)started on
the container's ``start`` event and by a re-list every few seconds. ``GET
/debug/fed`` returns byte for byte the ``/metrics`` page served last (its
unix time in the ``X-Fed-At`` header) so tests can compare what Prometheus
holds with what it was fed; ``GET /healthz`` answers ``ok``.

Usage: python tests/cadvisor_standin.py --listen 127.0.0.1:48080 \\
           --host host-a=unix:///…/docker.sock --host host-b=unix:///…/docker.sock \\
           --host host-tls=tcp://127.0.0.1:42376 --tls host-tls=/…/tls/client

``--tls NAME=DIR`` gives a ``tcp://`` host the client certificate in DIR
(``ca.pem``, ``cert.pem``, ``key.pem``, as in ``DOCKER_CERT_PATH``).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import docker
import docker.tls

RELIST_S = 5.0
"""Seconds between full re-lists (each events subscription ends after this)."""

RETRY_S = 1.0
"""Seconds to wait before reconnecting to a daemon that failed."""

IGNORED_INTERFACES = re.compile(r"^(lo|veth.*|docker.*|br-.*|virbr.*)$")
"""Interfaces cAdvisor leaves out of a machine's network counters."""

FAMILIES: dict[str, tuple[str, str]] = {
    "cadvisor_version_info": ("gauge", "A metric with a constant '1' value labeled by kernel version, OS version, docker version, cadvisor version & cadvisor revision."),  # noqa: E501
    "container_cpu_system_seconds_total": ("counter", "Cumulative system cpu time consumed in seconds."),  # noqa: E501
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed in seconds."),
    "container_cpu_user_seconds_total": ("counter", "Cumulative user cpu time consumed in seconds."),  # noqa: E501
    "container_last_seen": ("gauge", "Last time a container was seen by the exporter"),
    "container_memory_cache": ("gauge", "Number of bytes of page cache memory."),
    "container_memory_rss": ("gauge", "Size of RSS in bytes."),
    "container_memory_usage_bytes": ("gauge", "Current memory usage in bytes, including all memory regardless of when it was accessed"),  # noqa: E501
    "container_memory_working_set_bytes": ("gauge", "Current working set in bytes."),
    "container_network_receive_bytes_total": ("counter", "Cumulative count of bytes received"),
    "container_network_transmit_bytes_total": ("counter", "Cumulative count of bytes transmitted"),
    "container_spec_memory_limit_bytes": ("gauge", "Memory limit for the container."),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds."),  # noqa: E501
    "machine_cpu_cores": ("gauge", "Number of logical CPU cores."),
    "machine_memory_bytes": ("gauge", "Amount of memory installed on the machine."),
}  # fmt: skip

Labels = dict[str, str]
Line = tuple[str, Labels, float, int | None]


def label_name(text: str) -> str:
    """A Docker label as cAdvisor spells it inside a Prometheus label name."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", text)


def docker_time_ms(text: str) -> int | None:
    """Milliseconds since the epoch from Docker's RFC 3339 time; ``None`` for the zero time."""
    if not text or text.startswith("0001-01-01"):
        return None
    match = re.match(r"^(.*?:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        return None
    head, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    stamp = datetime.fromisoformat(f"{head}{(fraction or '')[:7]}{zone}")
    return round(stamp.timestamp() * 1000)


@dataclass
class Feed:
    """What is known about one running container and its latest stats."""

    host: str
    id: str
    name: str
    image: str
    labels: dict[str, str]
    cgroup: str
    started: float | None
    stats: dict[str, Any] | None = None
    gone: threading.Event = field(default_factory=threading.Event)


def cgroup_of(pid: int, container_id: str) -> str:
    """The container's cgroup path as cAdvisor names it (its ``id`` label)."""
    try:
        with open(f"/proc/{pid}/cgroup") as lines:
            entries = [line.rstrip("\n").split(":", 2) for line in lines]
    except OSError:
        return f"/docker/{container_id}"
    for _, controllers, path in entries:
        if "cpu" in controllers.split(",") or "cpuacct" in controllers.split(","):
            return path
    for hierarchy, _, path in entries:
        if hierarchy == "0":
            return path
    return f"/docker/{container_id}"


class Collector:
    """Follows the daemons: one watcher thread per host, one stats thread per container."""

    def __init__(self, hosts: dict[str, str], tls_dirs: dict[str, str] | None = None) -> None:
        self.hosts = hosts
        self.tls_dirs = tls_dirs or {}
        self._lock = threading.Lock()
        self._feeds: dict[str, Feed] = {}
        self._stopping = threading.Event()

    def start(self) -> None:
        for name, url in self.hosts.items():
            threading.Thread(target=self._watch, args=(name, url), daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()

    def _tls(self, host: str) -> docker.tls.TLSConfig | bool:
        where = self.tls_dirs.get(host)
        if where is None:
            return False
        return docker.tls.TLSConfig(
            client_cert=(os.path.join(where, "cert.pem"), os.path.join(where, "key.pem")),
            ca_cert=os.path.join(where, "ca.pem"),
            verify=True,
        )

    def feeds(self) -> list[Feed]:
        with self._lock:
            return [f for f in self._feeds.values() if f.stats is not None]

    def _watch(self, host: str, url: str) -> None:
        failing = False
        while not self._stopping.is_set():
            client = docker.DockerClient(
                base_url=url, version="1.41", timeout=2 * RELIST_S, max_pool_size=256,
                tls=self._tls(host),
            )  # fmt: skip
            client.api.trust_env = False  # no proxy, no REQUESTS_CA_BUNDLE in place of our CA
            try:
                while not self._stopping.is_set():
                    since = time.time()
                    self._relist(host, client)
                    if failing:
                        print(f"{host}: reachable again", file=sys.stderr, flush=True)
                        failing = False
                    # The subscription ends by itself at `until`: then re-list.
                    for event in client.events(
                        decode=True, filters={"type": "container"}, since=since,
                        until=since + RELIST_S,
                    ):  # fmt: skip
                        self._on_event(host, client, event)
            except Exception as exc:
                if not failing:
                    print(f"{host}: {url}: {exc}", file=sys.stderr, flush=True)
                    failing = True
                self._drop_host(host)
                self._stopping.wait(RETRY_S)
            finally:
                client.close()

    def _on_event(self, host: str, client: docker.DockerClient, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        container_id = str(event.get("id") or event.get("Actor", {}).get("ID") or "")
        if action == "start":
            self._ensure(host, client, container_id)
        elif action in ("die", "destroy"):
            self._drop(container_id)

    def _relist(self, host: str, client: docker.DockerClient) -> None:
        running = {c["Id"] for c in client.api.containers(filters={"status": "running"})}
        for container_id in running:
            self._ensure(host, client, container_id)
        with self._lock:
            stale = [f.id for f in self._feeds.values() if f.host == host and f.id not in running]
        for container_id in stale:
            self._drop(container_id)

    def _ensure(self, host: str, client: docker.DockerClient, container_id: str) -> None:
        with self._lock:
            if container_id in self._feeds:
                return
        try:
            info = client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return
        state = info.get("State") or {}
        if not state.get("Running"):
            return
        config = info.get("Config") or {}
        feed = Feed(
            host=host,
            id=container_id,
            name=str(info.get("Name", "")).lstrip("/"),
            image=str(config.get("Image") or ""),
            labels=dict(config.get("Labels") or {}),
            cgroup=cgroup_of(int(state.get("Pid") or 0), container_id),
            started=(docker_time_ms(str(state.get("StartedAt") or "")) or 0) / 1000 or None,
        )
        with self._lock:
            if container_id in self._feeds:
                return
            self._feeds[container_id] = feed
        threading.Thread(target=self._stream, args=(client, feed), daemon=True).start()

    def _stream(self, client: docker.DockerClient, feed: Feed) -> None:
        try:
            for stats in client.api.stats(feed.id, stream=True, decode=True):
                # A stopped container's stream goes on with zeroed samples.
                if feed.gone.is_set() or docker_time_ms(str(stats.get("read", ""))) is None:
                    break
                with self._lock:
                    feed.stats = stats
        except Exception as exc:
            if not feed.gone.is_set():
                print(f"{feed.host}: stats of {feed.name}: {exc}", file=sys.stderr, flush=True)
        finally:
            self._drop(feed.id, feed)

    def _drop(self, container_id: str, only: Feed | None = None) -> None:
        with self._lock:
            feed = self._feeds.get(container_id)
            if feed is None or (only is not None and feed is not only):
                return
            del self._feeds[container_id]
        feed.gone.set()

    def _drop_host(self, host: str) -> None:
        with self._lock:
            ids = [f.id for f in self._feeds.values() if f.host == host]
        for container_id in ids:
            self._drop(container_id)


# ---------------------------------------------------------------- what is published


def container_lines(feed: Feed) -> list[Line]:
    """The series of one container, from its latest Docker stats."""
    stats = feed.stats or {}
    stamp = docker_time_ms(str(stats.get("read", "")))
    base: Labels = {f"container_label_{label_name(k)}": v for k, v in feed.labels.items()}
    base.update(host=feed.host, id=feed.cgroup, image=feed.image, name=feed.name)
    out: list[Line] = []

    def put(name: str, value: float, extra: Labels | None = None, timed: bool = True) -> None:
        out.append((name, {**base, **(extra or {})}, float(value), stamp if timed else None))

    cpu = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
    # cgroup v1 reports per core (as the fixture does); v2 only the total.
    for n, used in enumerate(cpu.get("percpu_usage") or []):
        put("container_cpu_usage_seconds_total", used / 1e9, {"cpu": f"cpu{n:02d}"})
    if not cpu.get("percpu_usage"):
        put("container_cpu_usage_seconds_total", cpu.get("total_usage", 0) / 1e9, {"cpu": "total"})
    put("container_cpu_user_seconds_total", cpu.get("usage_in_usermode", 0) / 1e9)
    put("container_cpu_system_seconds_total", cpu.get("usage_in_kernelmode", 0) / 1e9)
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    usage = float(memory.get("usage") or 0)
    # cgroup v1 names it total_inactive_file, v2 inactive_file: the working
    # set is what is left when the reclaimable inactive page cache is gone.
    inactive = float(detail.get("total_inactive_file", detail.get("inactive_file", 0)))
    put("container_memory_usage_bytes", usage)
    put("container_memory_working_set_bytes", max(0.0, usage - inactive))
    put("container_memory_cache", detail.get("total_cache", detail.get("cache", 0)))
    put("container_memory_rss", detail.get("total_rss", detail.get("rss", detail.get("anon", 0))))
    # v1's "no limit" is 2^63 rounded down to a page, as cAdvisor publishes it.
    limit = detail.get("hierarchical_memory_limit", memory.get("limit", 0))
    put("container_spec_memory_limit_bytes", limit, timed=False)
    for interface, counters in sorted((stats.get("networks") or {}).items()):
        where = {"interface": interface}
        put("container_network_receive_bytes_total", counters.get("rx_bytes", 0), where)
        put("container_network_transmit_bytes_total", counters.get("tx_bytes", 0), where)
    if feed.started is not None:
        put("container_start_time_seconds", feed.started, timed=False)
    if stamp is not None:
        put("container_last_seen", stamp / 1000, timed=False)
    return out


def machine_lines(host: str) -> Iterator[Line]:
    """The machine's root-cgroup series (``id="/"``) under ``host``'s name."""
    stamp = round(time.time() * 1000)
    tick = float(os.sysconf("SC_CLK_TCK"))
    base: Labels = {"host": host, "id": "/"}
    with open("/proc/stat") as stat:
        for line in stat:
            fields = line.split()
            if not re.fullmatch(r"cpu\d+", fields[0]):
                continue
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
            busy = (user + nice + system + irq + softirq + steal) / tick
            core = f"cpu{int(fields[0][3:]):02d}"
            yield "container_cpu_usage_seconds_total", {**base, "cpu": core}, busy, stamp
    meminfo: dict[str, float] = {}
    with open("/proc/meminfo") as lines:
        for line in lines:
            key, _, rest = line.partition(":")
            meminfo[key] = float(rest.split()[0]) * 1024
    total = meminfo["MemTotal"]
    yield "container_memory_usage_bytes", base, total - meminfo["MemFree"], stamp
    yield "container_memory_working_set_bytes", base, total - meminfo["MemAvailable"], stamp
    yield "container_memory_cache", base, meminfo.get("Cached", 0.0), stamp
    with open("/proc/net/dev") as lines:
        for line in list(lines)[2:]:
            interface, _, rest = line.partition(":")
            interface = interface.strip()
            if IGNORED_INTERFACES.match(interface):
                continue
            numbers = rest.split()
            labels = {**base, "interface": interface}
            yield "container_network_receive_bytes_total", labels, float(numbers[0]), stamp
            yield "container_network_transmit_bytes_total", labels, float(numbers[8]), stamp
    yield "machine_cpu_cores", {"host": host}, float(os.cpu_count() or 1), None
    yield "machine_memory_bytes", {"host": host}, total, None


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def render(lines: list[Line]) -> str:
    """The Prometheus text format: families in name order, each with HELP and TYPE."""
    by_family: dict[str, list[str]] = {}
    for name, labels, value, stamp in lines:
        inner = ",".join(f'{k}="{escape(v)}"' for k, v in sorted(labels.items()))
        text = f"{name}{{{inner}}} {number(value)}"
        by_family.setdefault(name, []).append(f"{text} {stamp}" if stamp is not None else text)
    out: list[str] = []
    for name in sorted(by_family):
        kind, help_text = FAMILIES[name]
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *by_family[name]]
    return "\n".join(out) + "\n"


class Exporter:
    """Builds pages and remembers the last one served."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self._lock = threading.Lock()
        self.last_page = ""
        self.last_at = 0.0

    def page(self) -> str:
        lines: list[Line] = [
            ("cadvisor_version_info", {"cadvisorVersion": "jobtui-standin",
                                       "kernelVersion": os.uname().release}, 1.0, None),
        ]  # fmt: skip
        for feed in sorted(self.collector.feeds(), key=lambda f: (f.host, f.name)):
            lines += container_lines(feed)
        for host in self.collector.hosts:
            lines += machine_lines(host)
        text = render(lines)
        with self._lock:
            self.last_page, self.last_at = text, time.time()
        return text

    def fed(self) -> tuple[str, float]:
        with self._lock:
            return self.last_page, self.last_at


def handler_for(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
            if self.path == "/metrics":
                body = exporter.page()
            elif self.path == "/debug/fed":
                body, at = exporter.fed()
                headers["X-Fed-At"] = f"{at:.3f}"
            elif self.path == "/healthz":
                body = "ok\n"
            else:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            for key, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every 2 s would flood the log

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen", default="127.0.0.1:48080", help="loopback address:port")
    parser.add_argument(
        "--host", action="append", default=[], metavar="NAME=URL", help="a Docker daemon"
    )
    parser.add_argument(
        "--tls", action="append", default=[], metavar="NAME=DIR",
        help="client certificate directory (ca.pem, cert.pem, key.pem) of a tcp:// host",
    )  # fmt: skip
    args = parser.parse_args(argv)
    hosts = dict(item.split("=", 1) for item in args.host)
    tls_dirs = dict(item.split("=", 1) for item in args.tls)
    address, _, port = args.listen.rpartition(":")
    if not address.startswith("127."):
        parser.error("--listen must be a loopback address (127.0.0.0/8)")
    collector = Collector(hosts, tls_dirs)
    server = ThreadingHTTPServer((address, int(port)), handler_for(Exporter(collector)))
    server.daemon_threads = True
    collector.start()

    def stop(_signum: int, _frame: object) -> None:
        collector.stop()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"cadvisor stand-in: http://{args.listen}/metrics for {', '.join(hosts)}", flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
