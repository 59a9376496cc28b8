"""What every value may hold: the one home of jobtui's value grammars.

The inventory loader and the CLI check values with these functions, and the
backend uses their results instead of parsing strings again. Each parser
returns the value (or its parsed form) or raises ``ValueError`` whose text
quotes the value, cut short, and says what would be accepted.

=====================  ===========================================================
names and words        :func:`parse_name` (services, hosts), :func:`parse_tag`
                       (versions), :func:`parse_image`, :func:`parse_digest`,
                       :func:`parse_env_key`, :func:`parse_env_name`,
                       :func:`parse_label_name`, :func:`parse_network_mode`
amounts                :func:`parse_duration`, :func:`parse_size`, :func:`parse_cpus`,
                       :func:`parse_restart`,
                       :func:`parse_percent`, :func:`parse_count`, :func:`parse_tail`
addresses              :func:`parse_port`, :func:`parse_port_number`, :func:`parse_host`,
                       :func:`parse_http_url`, :func:`parse_registry_url`,
                       :func:`parse_etcd_endpoint`
Docker hosts and ssh   :func:`parse_host_url` → :class:`HostURL`,
                       :func:`parse_ssh_destination`, :func:`parse_jump_hosts`,
                       :func:`parse_ssh_option`
paths                  :func:`parse_volume_path`, :func:`parse_file_path`,
                       :func:`parse_key_prefix`
=====================  ===========================================================
"""

from __future__ import annotations

from jobtui.config.addresses import (
    ETCD_DEFAULT_PORT,
    parse_etcd_endpoint,
    parse_host,
    parse_http_url,
    parse_ip,
    parse_port_number,
    parse_registry_url,
    split_host_port,
)
from jobtui.config.hosturl import (
    HOST_SCHEMES,
    REMOTE_DOCKER_SOCKET,
    SSH_OPTIONS_JOBTUI_SETS,
    HostURL,
    parse_host_url,
    parse_jump_hosts,
    parse_ssh_destination,
    parse_ssh_option,
    parse_ssh_user,
)
from jobtui.config.names import (
    RESERVED_LABEL_PREFIX,
    parse_digest,
    parse_driver,
    parse_env_key,
    parse_env_name,
    parse_image,
    parse_label_name,
    parse_name,
    parse_network_mode,
    parse_option_name,
    parse_tag,
)
from jobtui.config.paths import check_file, parse_file_path, parse_key_prefix, parse_volume_path
from jobtui.config.ports import parse_port
from jobtui.config.quantities import (
    DURATION_MAX,
    RESTART_POLICIES,
    bounded_seconds,
    check_cpus,
    check_memory,
    format_seconds,
    parse_count,
    parse_cpus,
    parse_duration,
    parse_percent,
    parse_restart,
    parse_size,
    parse_tail,
)

__all__ = [
    "DURATION_MAX",
    "ETCD_DEFAULT_PORT",
    "HOST_SCHEMES",
    "REMOTE_DOCKER_SOCKET",
    "RESERVED_LABEL_PREFIX",
    "RESTART_POLICIES",
    "SSH_OPTIONS_JOBTUI_SETS",
    "HostURL",
    "bounded_seconds",
    "check_cpus",
    "check_file",
    "check_memory",
    "format_seconds",
    "parse_count",
    "parse_cpus",
    "parse_digest",
    "parse_driver",
    "parse_duration",
    "parse_env_key",
    "parse_env_name",
    "parse_etcd_endpoint",
    "parse_file_path",
    "parse_host",
    "parse_host_url",
    "parse_http_url",
    "parse_image",
    "parse_ip",
    "parse_jump_hosts",
    "parse_key_prefix",
    "parse_label_name",
    "parse_name",
    "parse_network_mode",
    "parse_option_name",
    "parse_percent",
    "parse_port",
    "parse_port_number",
    "parse_registry_url",
    "parse_restart",
    "parse_size",
    "parse_ssh_destination",
    "parse_ssh_option",
    "parse_ssh_user",
    "parse_tag",
    "parse_tail",
    "parse_volume_path",
    "split_host_port",
]
