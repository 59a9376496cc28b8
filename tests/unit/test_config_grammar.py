"""The value grammars (jobtui.config.grammar), one parser per kind of value."""

from __future__ import annotations

import math

import pytest

from jobtui.config import grammar
from jobtui.config.grammar import HostURL
from jobtui.config.models import PortSpec


@pytest.mark.parametrize("text", ["web", "repo-manager-repo1", "a.b_c-1", "9", "A"])
def test_names(text: str) -> None:
    assert grammar.parse_name(text) == text


@pytest.mark.parametrize(
    "text", ["", "-web", ".web", "_web", "web\n", "wéb", "web app", "web/1", "a" * 129, "\u0661"]
)
def test_bad_names(text: str) -> None:
    with pytest.raises(ValueError, match="name"):
        grammar.parse_name(text)


@pytest.mark.parametrize(
    "text",
    [
        "web",
        "web:1",
        "team/web:2a4fd3d",
        "registry.dc1:5000/team/web:v1.2-rc_3",
        "localhost:5000/a__b/c--d",
        "[::1]:5000/web:1",
        "web@sha256:" + "a" * 64,
        "reg:5000/web:1@sha512:" + "0" * 128,
    ],
)
def test_image_references(text: str) -> None:
    assert grammar.parse_image(text) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Web:1", "image reference"),
        ("web:1\n", "tag"),
        ("web:\u0661", "tag"),
        ("web:-1", "tag"),
        ("web:" + "a" * 129, "tag"),
        ("web@sha256:abc", "64 hex digits"),
        ("web@sha256:" + "A" * 64, "digest"),
        ("web@md5:" + "a" * 32, "unsupported"),
        ("[1:2:3]:5000/web", "IPv6"),
        ("web app", "image reference"),
        ("/web", "image reference"),
    ],
)
def test_bad_image_references(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        grammar.parse_image(text)


def test_tags_are_the_versions_of_the_cli() -> None:
    assert grammar.parse_tag("2a4fd3d") == "2a4fd3d"
    for bad in ("", "v1\n", ".hidden", "v 1", "v٢"):
        with pytest.raises(ValueError):
            grammar.parse_tag(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10", 10.0),
        ("1.5", 1.5),
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("250us", 0.00025),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        (" 5s ", 5.0),
        (".5s", 0.5),
        ("0", 0.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert math.isclose(grammar.parse_duration(text), seconds)


@pytest.mark.parametrize(
    "text",
    ["", "-1s", "inf", "nan", "1e3", "10 seconds", "1m 30s", "\u0661\u0660s", "1x", "s", "1_0s"],
)
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        grammar.parse_duration(text)


def test_durations_are_bounded() -> None:
    assert grammar.parse_duration("366d") == 366 * 86400
    with pytest.raises(ValueError, match="maximum"):
        grammar.parse_duration("367d")
    with pytest.raises(ValueError, match="maximum, 1h"):
        grammar.parse_duration("61m", maximum=3600)
    with pytest.raises(ValueError):
        grammar.parse_duration("9" * 400 + "s")
    assert grammar.format_seconds(90) == "1m30s" and grammar.format_seconds(0.5) == "500ms"


def test_sizes() -> None:
    assert grammar.parse_size("512m") == 512 * 1024**2
    assert grammar.parse_size("1gb") == 1024**3
    assert grammar.parse_size("1.5G") == 1536 * 1024**2
    assert grammar.parse_size("2048") == 2048
    for bad in ("", "-1m", "1t", "1e3m", "\u0665m", "9" * 60 + "m", "inf"):
        with pytest.raises(ValueError):
            grammar.parse_size(bad)
    with pytest.raises(ValueError, match="6m"):
        grammar.check_memory(1024, "1k")


def test_cpus_as_compose_takes_them() -> None:
    assert grammar.parse_cpus("1.5") == 1.5
    assert grammar.parse_cpus("2") == 2.0
    for bad in ("", "0", "-1", "nan", "inf", "1e3", "0.001", "1.5 cores", "2000"):
        with pytest.raises(ValueError, match="CPUs"):
            grammar.parse_cpus(bad)


@pytest.mark.parametrize("text", ["no", "always", "unless-stopped", "on-failure", "on-failure:3"])
def test_restart_policies(text: str) -> None:
    assert grammar.parse_restart(text) == text


@pytest.mark.parametrize(
    "text", ["sometimes", "on-failure:", "on-failure:²", "always:3", "on-failure:-1", "no\n"]
)
def test_bad_restart_policies(text: str) -> None:
    with pytest.raises(ValueError, match="restart policy"):
        grammar.parse_restart(text)


def test_percentages_and_counts() -> None:
    assert grammar.parse_percent("25%") == 25.0 and grammar.parse_percent("100%") == 100.0
    for bad in ("0%", "101%", "1e-300%", "-5%", "%", "\u0665%"):
        with pytest.raises(ValueError):
            grammar.parse_percent(bad)
    assert grammar.parse_tail("all") is None and grammar.parse_tail("100") == 100
    for bad in ("", "-1", "1e3", "\u0665", "99999999999"):
        with pytest.raises(ValueError):
            grammar.parse_tail(bad)


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("80", PortSpec(80)),
        ("8080:80", PortSpec(80, 8080)),
        ("127.0.0.1:8080:80", PortSpec(80, 8080, "127.0.0.1")),
        ("[::1]:8080:80", PortSpec(80, 8080, "::1")),
        ("[::1]::80/udp", PortSpec(80, None, "::1", "udp")),
        ("127.0.0.1::80", PortSpec(80, None, "127.0.0.1")),
        ("53/udp", PortSpec(53, None, None, "udp")),
    ],
)
def test_ports(text: str, port: PortSpec) -> None:
    assert grammar.parse_port(text) == port


@pytest.mark.parametrize(
    "text",
    ["80:80:80", "٨٠٨٠", "127.0.0. 1:80:80", "99999", "0", "::1:8080:80", "[::1]:80", "80/http",
     "1.2.3.4.5:80:80", "[fe80::1%eth0]:80:80", "8000-8010:80", "+80", ""],
)  # fmt: skip
def test_bad_ports(text: str) -> None:
    with pytest.raises(ValueError):
        grammar.parse_port(text)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("unix:///var/run/docker.sock", HostURL("unix", path="/var/run/docker.sock")),
        ("tcp://10.1.0.12:2376", HostURL("tcp", "10.1.0.12", 2376)),
        ("tcp://[::1]:2376/", HostURL("tcp", "::1", 2376)),
        ("ssh://host-17", HostURL("ssh", "host-17")),
        ("ssh://deploy@web_1.dc1:2222", HostURL("ssh", "web_1.dc1", 2222, "deploy")),
        ("ssh://root@10.0.0.1:22/d.sock", HostURL("ssh", "10.0.0.1", 22, "root", "/d.sock")),
        ("ssh://u@[::1]", HostURL("ssh", "::1", None, "u")),
    ],
)  # fmt: skip
def test_host_urls(text: str, url: HostURL) -> None:
    assert grammar.parse_host_url(text) == url
    assert grammar.parse_host_url(str(url)) == url


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("http://h:2375", "starts with"),
        ("unix://run/docker.sock", "absolute"),
        ("unix:///run/../docker.sock", "'..'"),
        ("tcp://h", "needs a port"),
        ("tcp://h:", "port number"),
        ("tcp://h:99999", "port number"),
        ("tcp://h:2376/path", "no path"),
        ("tcp://u@h:2376", "no user"),
        ("tcp://h:2376?x=1", "query"),
        ("ssh://-oProxyCommand=x@h", "user name"),
        ("ssh://u@-oProxyCommand=x", "host name"),
        ("ssh://u@h;reboot", "host name"),
        ("ssh://u$(id)@h", "user name"),
        ("ssh://u@h/sock@evil", "'@' after the path"),
        ("ssh://u@h:0", "port number"),
        ("ssh://u:pw@h", "password"),
        ("ssh://a@b@h", "user name"),
        ("ssh://u@h /x", "cannot contain"),
        ("ssh://u@h\n", "cannot contain"),
        ("ssh://u@999.1.1.1", "IP address"),
        ("ssh://u@h/a b", "cannot contain"),
    ],
)
def test_bad_host_urls(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        grammar.parse_host_url(text)


def test_host_url_parts_for_the_backend() -> None:
    url = grammar.parse_host_url("ssh://deploy@[::1]:2222")
    assert (url.ssh_destination, url.port, url.remote_socket) == (
        "deploy@::1",
        2222,
        grammar.REMOTE_DOCKER_SOCKET,
    )
    assert grammar.parse_host_url("unix:///a.sock").address == "127.0.0.1"
    assert grammar.parse_host_url("tcp://10.0.0.2:2376").address == "10.0.0.2"


def test_ssh_words() -> None:
    assert grammar.parse_jump_hosts("ops@bastion:2222,inner") == "ops@bastion:2222,inner"
    assert grammar.parse_ssh_option("Compression=yes") == "Compression=yes"
    for bad in ("-J", "a,,b", "u;x@h"):
        with pytest.raises(ValueError):
            grammar.parse_jump_hosts(bad)
    for bad in ("BatchMode=no", "proxyjump=x", "Compression", "=x", "A=b\nc"):
        with pytest.raises(ValueError):
            grammar.parse_ssh_option(bad)


def test_http_urls() -> None:
    assert grammar.parse_http_url("http://prom:9090/") == "http://prom:9090"
    assert grammar.parse_http_url("https://mon.dc1/prometheus") == "https://mon.dc1/prometheus"
    assert grammar.parse_registry_url("https://reg:5000/") == "https://reg:5000"
    for bad, why in (
        ("http://", "no host"),
        ("prom:9090", "http://"),
        ("http://prom:99999", "port"),
        ("http://u:p@prom", "credentials"),
        ("http://prom 9090", "cannot contain"),
        ("http://prom/?q=1", "query"),
    ):
        with pytest.raises(ValueError, match=why):
            grammar.parse_http_url(bad)
    with pytest.raises(ValueError, match="no path"):
        grammar.parse_registry_url("https://reg:5000/v2")


def test_etcd_endpoints() -> None:
    assert grammar.parse_etcd_endpoint("10.0.0.2:2379") == ("10.0.0.2", 2379)
    assert grammar.parse_etcd_endpoint("http://etcd1") == ("etcd1", 2379)
    assert grammar.parse_etcd_endpoint("[::1]:2380") == ("::1", 2380)
    for bad in ("", "http://", "etcd:x", "etcd:99999", "a b:2379", "::1:2379"):
        with pytest.raises(ValueError, match="etcd endpoint"):
            grammar.parse_etcd_endpoint(bad)


def test_words() -> None:
    assert grammar.parse_env_key("manager_port") == "manager_port"
    for bad in ("", "A=B", "A B", "A\tB", "A\x00"):
        with pytest.raises(ValueError):
            grammar.parse_env_key(bad)
    assert grammar.parse_env_name("REG_PW") == "REG_PW"
    for bad in ("1A", "A-B", "", "É"):
        with pytest.raises(ValueError):
            grammar.parse_env_name(bad)
    assert grammar.parse_label_name("com.example.team") == "com.example.team"
    for bad in ("", "jobtui.service", "a=b", "a b"):
        with pytest.raises(ValueError):
            grammar.parse_label_name(bad)
    for mode in ("host", "bridge", "none", "container:db", "backend-net"):
        assert grammar.parse_network_mode(mode) == mode
    for bad in ("host; rm", "container:", "container:-x", ""):
        with pytest.raises(ValueError):
            grammar.parse_network_mode(bad)


def test_volume_paths() -> None:
    assert grammar.parse_volume_path("/data/git", container=True) == "/data/git"
    assert grammar.parse_volume_path("/", container=False) == "/"
    for bad, why in (
        ("data", "absolute"),
        ("/", "mount point"),
        ("/a/../b", "'..'"),
        ("/a:b", "':'"),
        ("/a/", "write it as '/a'"),
        ("//a", "write it as"),
        ("/a/./b", "write it as '/a/b'"),
        ("/a\x00", "cannot contain"),
    ):
        with pytest.raises(ValueError, match=why):
            grammar.parse_volume_path(bad, container=True)


def test_values_in_messages_are_quoted_and_cut_short() -> None:
    with pytest.raises(ValueError) as info:
        grammar.parse_name("x" * 5000 + "\n")
    message = str(info.value)
    assert len(message) < 200 and "5001 characters" in message
    with pytest.raises(ValueError) as info:
        grammar.parse_name("a\x1b[2Jb")
    assert "\\x1b" in str(info.value) and "\x1b" not in str(info.value)
