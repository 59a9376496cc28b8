"""Grammars of names and words: containers, images, tags, variables, labels, drivers.

Each parser returns the accepted value or raises ``ValueError`` whose text
names the offending value (quoted and cut short) and what would be accepted.
Every pattern is ASCII-only and matched whole: Python's ``\\w``, ``\\d`` and
``isdigit()`` take Unicode letters and digits, and ``$`` matches before a
trailing newline, so neither is used here.
"""

from __future__ import annotations

import ipaddress
import re

from jobtui.config.errors import show

NAME_MAX = 128
# Docker's container-name grammar; jobtui names containers <service>_<time>.
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", re.ASCII)
TAG_MAX = 128
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)

# The distribution reference grammar (github.com/distribution/reference):
#   reference := name [":" tag] ["@" digest]
#   name      := [domain "/"] path-component ["/" path-component]*
#   domain    := host [":" port]; host := domain-name | IPv4 | "[" IPv6 "]"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)",
    re.ASCII,
)
REPOSITORY_MAX = 255
_DIGEST = re.compile(r"(?P<algorithm>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-f0-9]+)", re.ASCII)
_DIGEST_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}

# What a shell, ssh or `docker --env` would take apart: never inside a key.
_ENV_KEY_FORBIDDEN = re.compile(r"[=\s\x00-\x1f\x7f]")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
RESERVED_LABEL_PREFIX = "jobtui."
"""Labels jobtui writes itself (``jobtui.service`` …); an inventory cannot set them."""
_OPTION_NAME_FORBIDDEN = re.compile(r"[=\s\x00-\x1f\x7f]")
_DRIVER = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.:/-]*", re.ASCII)
NETWORK_MODES = ("bridge", "host", "none")


def parse_name(text: str) -> str:
    """A service or host name: Docker's container-name grammar, ASCII, at most 128 characters.

    Also what CLI arguments naming a service or host are checked with.
    """
    if not _NAME.fullmatch(text):
        raise ValueError(
            f"{show(text)} is not a valid name (letters, digits, '_', '.', '-'; "
            "starting with a letter or digit)"
        )
    if len(text) > NAME_MAX:
        raise ValueError(f"{show(text)} is longer than a name may be ({NAME_MAX} characters)")
    return text


def parse_tag(text: str) -> str:
    """An image tag (a version): ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``, as Docker's."""
    if not _TAG.fullmatch(text):
        raise ValueError(
            f"{show(text)} is not a valid tag (up to 128 letters, digits, '_', '.', '-'; "
            "not starting with '.' or '-')"
        )
    return text


def parse_digest(text: str) -> str:
    """A content digest ``sha256:<64 hex>`` (sha384 and sha512 too), lowercase hex."""
    match = _DIGEST.fullmatch(text)
    if not match:
        raise ValueError(f"{show(text)} is not a digest (e.g. sha256:<64 lowercase hex digits>)")
    length = _DIGEST_LENGTH.get(match["algorithm"])
    if length is None:
        raise ValueError(f"{show(text)}: unsupported digest algorithm (sha256, sha384 or sha512)")
    if len(match["hex"]) != length:
        raise ValueError(f"{show(text)}: a {match['algorithm']} digest has {length} hex digits")
    return text


def parse_image(text: str) -> str:
    """An image reference ``[registry[:port]/]path[:tag][@digest]`` (distribution grammar)."""
    rest, at, digest = text.partition("@")
    if at:
        try:
            parse_digest(digest)
        except ValueError as exc:
            raise ValueError(f"{show(text)}: {exc}") from None
    repository, tag = rest, None
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        repository, tag = rest[:colon], rest[colon + 1 :]
    match = _REPOSITORY.fullmatch(repository)
    if not match:
        raise ValueError(
            f"{show(text)} is not a valid image reference "
            "([registry[:port]/]name[:tag][@digest]; the name in lowercase)"
        )
    domain = match["domain"] or ""
    if domain.startswith("["):
        try:
            ipaddress.IPv6Address(domain[1:].partition("]")[0])
        except ValueError:
            raise ValueError(f"{show(text)}: {show(domain)} is not an IPv6 address") from None
    if len(repository) > REPOSITORY_MAX:
        raise ValueError(f"{show(text)}: the repository name is longer than {REPOSITORY_MAX}")
    if tag is not None:
        try:
            parse_tag(tag)
        except ValueError as exc:
            raise ValueError(f"{show(text)}: {exc}") from None
    return text


def parse_env_key(text: str) -> str:
    """An environment variable's name in a container: not empty, no '=', whitespace or control."""
    return _plain_name(text, _ENV_KEY_FORBIDDEN, "an environment variable", "a variable name")


def parse_env_name(text: str) -> str:
    """The name of a variable of jobtui's own environment (``password_env``, ``value_env``)."""
    if not _ENV_NAME.fullmatch(text):
        raise ValueError(
            f"{show(text)} is not an environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    return text


def parse_label_name(text: str) -> str:
    """A Docker label's name: not empty, no '=' or whitespace, not under ``jobtui.``."""
    _plain_name(text, _OPTION_NAME_FORBIDDEN, "a label", "a label name")
    if text.startswith(RESERVED_LABEL_PREFIX):
        raise ValueError(
            f"{show(text)}: labels under {RESERVED_LABEL_PREFIX!r} are jobtui's own "
            "(it sets them on every container)"
        )
    return text


def parse_option_name(text: str) -> str:
    """A logging driver option's name (``max-size``): not empty, no '=' or whitespace."""
    return _plain_name(text, _OPTION_NAME_FORBIDDEN, "an option", "an option name")


def _plain_name(text: str, forbidden: re.Pattern[str], thing: str, called: str) -> str:
    """``text`` as a name: not empty (``thing`` needs one), none of ``forbidden``'s characters."""
    if not text:
        raise ValueError(f"{thing} needs a name")
    bad = forbidden.search(text)
    if bad:
        raise ValueError(f"{show(text)}: {called} cannot contain {show(bad.group())}")
    return text


def parse_driver(text: str) -> str:
    """A logging driver (``json-file``, ``syslog``, a plugin ``vendor/name:tag``)."""
    if not _DRIVER.fullmatch(text):
        raise ValueError(f"{show(text)} is not a logging driver name (e.g. json-file, local)")
    return text


def parse_network_mode(text: str) -> str:
    """``bridge``, ``host``, ``none``, ``container:<name>`` or the name of a Docker network."""
    kind, colon, target = text.partition(":")
    if colon and kind == "container" and _NAME.fullmatch(target):
        return text
    if not colon and _NAME.fullmatch(text) and len(text) <= NAME_MAX:
        return text
    raise ValueError(
        f"{show(text)} is not a network mode "
        f"({', '.join(NETWORK_MODES)}, container:<name> or a network's name)"
    )
