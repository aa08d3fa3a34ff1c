"""Host names: parsing, normalisation and the prefix they give to namespaces.

Pure functions, no I/O. A host name becomes part of every full namespace name
(``//host/ns``), and python-socketio's packet decoder ends a namespace at the
first ``,`` and drops everything from ``?`` on, so only names made of
``[a-z0-9.-]`` plus IP literals (``[`` ``]`` ``:``) are ever let through.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "BadHost",
    "normalize_host",
    "parse_networks",
    "peer_in_networks",
    "raw_host",
    "resolve",
    "split_fullname",
    "fullname",
]

_MAX_NAME = 253
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")


class BadHost(ValueError):
    """A Host value that can't be a host name; ``str(exc)`` is a short reason."""


def normalize_host(value: str) -> str:
    """Return the canonical form of a Host header value, or raise :class:`BadHost`.

    Lower case, ``:port`` removed, trailing dot removed, IDNA names in their
    ASCII (punycode) form, IPv6 literals without brackets in compressed form.

    >>> normalize_host("Alpha.Test:8000")
    'alpha.test'
    >>> normalize_host("[::1]:80")
    '::1'
    """
    if not value:
        raise BadHost("empty host")
    if len(value) > _MAX_NAME + 8:
        raise BadHost("host too long")
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            raise BadHost("unterminated IPv6 literal")
        _check_port(value[end + 1 :], allow_empty=True)
        return _ipv6(value[1:end])
    if value.count(":") > 1:
        # An IPv6 literal without brackets (so without a port), as this
        # function returns them: normalising a normalised host changes nothing.
        return _ipv6(value)
    name, sep, port = value.rpartition(":")
    if sep:
        _check_port(":" + port, allow_empty=False)
    else:
        name = value
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise BadHost("empty host")
    if not name.isascii():
        name = _to_ascii(name)
    name = name.lower()
    if len(name) > _MAX_NAME:
        raise BadHost("host too long")
    labels = name.split(".")
    if all(label.isdigit() for label in labels):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise BadHost("bad IPv4 address") from None
    for label in labels:
        if not _LABEL.match(label):
            raise BadHost("bad character or label in host")
    return name


def _check_port(rest: str, *, allow_empty: bool) -> None:
    if not rest and allow_empty:
        return
    if not rest.startswith(":") or not _PORT.match(rest[1:]) or int(rest[1:]) > 65535:
        raise BadHost("bad port in host")


def _ipv6(literal: str) -> str:
    # ipaddress accepts a zone id ("fe80::1%eth0") made of any characters,
    # commas and "?" included; a zone id means nothing in a Host header.
    if "%" in literal:
        raise BadHost("zone id in IPv6 literal")
    try:
        return str(ipaddress.IPv6Address(literal))
    except ValueError:
        raise BadHost("bad IPv6 literal") from None


def _to_ascii(name: str) -> str:
    if any(ord(c) < 0x20 or c.isspace() for c in name):
        raise BadHost("bad character in host")
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadHost("host is not a valid IDNA name") from None


def fullname(name: str, host: str | None) -> str:
    """The server-side name of namespace ``name`` on ``host`` (``None``: main host)."""
    return name if host is None else "//" + host + name


def split_fullname(full: str) -> tuple[str, str | None]:
    """Inverse of :func:`fullname`: ``"//h/x"`` -> ``("/x", "h")``, ``"/x"`` -> ``("/x", None)``.

    Host names never contain ``/``, so the third ``/`` ends the host.
    """
    if not full.startswith("//"):
        return full, None
    end = full.find("/", 2)
    if end == -1:
        return "/", full[2:]
    return full[end:], full[2:end]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse ``trusted_proxies``: addresses or networks, raising ``ValueError``."""
    if isinstance(values, str):
        values = [values]
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(
                f"trusted_proxies: {value!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def peer_in_networks(peer: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether the peer address ``peer`` lies in one of ``networks``."""
    if not peer or not networks:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in networks)


def raw_host(scope: Any, trusted_proxies: tuple[Network, ...]) -> str | None:
    """The raw host an ASGI request names: its ``Host`` header, or the first
    ``X-Forwarded-Host`` when the peer is one of ``trusted_proxies`` (see
    :func:`parse_networks`); ``None`` when it names none. Raises :class:`BadHost`
    for several Host headers or one that is not UTF-8."""
    headers = scope.get("headers", ())
    hosts = [value for key, value in headers if key.lower() == b"host"]
    if len(hosts) > 1:
        raise BadHost("several Host headers")
    if trusted_proxies:
        client = scope.get("client")
        if client and peer_in_networks(client[0], trusted_proxies):
            forwarded = [value for key, value in headers if key.lower() == b"x-forwarded-host"]
            if forwarded:
                hosts = [forwarded[0].split(b",")[0].strip()]
    if not hosts:
        return None
    try:
        return str(hosts[0].decode("utf-8"))
    except UnicodeDecodeError:
        raise BadHost("host is not UTF-8") from None


def resolve(raw: str | None, is_main: Callable[[str], bool], *, required: bool) -> str | None:
    """The normalised host of a raw one, ``None`` for the main host (and for no host,
    unless one is ``required``: then :class:`BadHost`, as for a bad value)."""
    if not raw:
        if required:
            raise BadHost("no Host header, and there is no main host")
        return None
    host = normalize_host(raw)
    return None if is_main(host) else host
