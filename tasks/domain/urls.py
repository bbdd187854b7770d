"""The operator's version URL template, e.g. ``http://{PrivateIpAddress}:80/version``.

Values are percent-encoded before substitution, so an attribute (a tag value, say) can never
change the scheme, the host or the path the operator wrote: the URL is the template's. And the
template can only reach the instance: its host is one of the instance's own addresses (or a host
the stack lists in AllowedVersionHosts), never a link-local or metadata address; a tag or the
instance id goes in the path, never in the host, user-info or port.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

ATTRIBUTES = (
    "InstanceId",
    "PrivateIpAddress",
    "PrivateDnsName",
    "PublicIpAddress",
    "PublicDnsName",
    "AvailabilityZone",
)
# The attributes that are the instance's own address: the only ones a version URL's host may be.
ADDRESS_ATTRIBUTES = ("PrivateIpAddress", "PrivateDnsName", "PublicIpAddress", "PublicDnsName")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TAG = re.compile(r"tag:(.+)")
_SAMPLE = {
    "InstanceId": "i-0123456789abcdef0",
    "PrivateIpAddress": "10.0.0.1",
    "PrivateDnsName": "ip-10-0-0-1.ec2.internal",
    "PublicIpAddress": "203.0.113.1",
    "PublicDnsName": "ec2-203-0-113-1.compute-1.amazonaws.com",
    "AvailabilityZone": "us-east-1a",
}


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


class _Sample(dict[str, str]):
    """Sample attributes for validating a template: every tag has a value."""

    def __missing__(self, key: str) -> str:
        return "tag-value"


def template_problem(template: str, allowed_hosts: Collection[str] | None = None) -> str | None:
    """Why this template cannot be used, or None when it yields an http(s) URL that reaches an
    instance: its host is an address placeholder, or a literal host in ``allowed_hosts`` (the
    stack's AllowedVersionHosts; None where that list is not known, as on the operator's machine:
    the stack's ValidateInput checks it then)."""
    for name in placeholders(template):
        if name not in ATTRIBUTES and not _TAG.fullmatch(name):
            known = ", ".join(f"{{{a}}}" for a in ATTRIBUTES)
            return f"unknown placeholder {{{name}}}; use one of {known} or {{tag:NAME}}"
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        return "unbalanced braces"
    sample = render(template, _Sample(_SAMPLE))
    try:
        parts = urlsplit(sample)
    except ValueError as e:  # an unclosed IPv6 bracket, say
        return f"is not a URL ({e})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"does not yield an http(s) URL with a host (e.g. {sample!r})"
    return _authority_problem(template, allowed_hosts)


def _authority_problem(template: str, allowed_hosts: Collection[str] | None) -> str | None:
    """The user-info, host and port as written: the host exactly one address placeholder or a
    literal host allowed, no other placeholder there (a tag, an instance id: only in the path)."""
    authority = _authority(template)
    if isinstance(authority, str):
        return authority
    # The user-info ends at the last "@": a placeholder before it is in the user-info.
    at = max((n for n, (named, text) in enumerate(authority) if not named and "@" in text), default=-1)
    hostport = [(False, authority[at][1].rpartition("@")[2]), *authority[at + 1 :]] if at >= 0 else authority
    misplaced = [text for named, text in authority[: max(at, 0)] if named]
    names = [(n, text) for n, (named, text) in enumerate(hostport) if named]
    misplaced += [text for n, text in names if n != 1 or text not in ADDRESS_ATTRIBUTES]
    if misplaced:
        return f"{{{misplaced[0]}}} may appear only in the path, not in the host, user-info or port"
    must = "one of " + ", ".join(f"{{{a}}}" for a in ADDRESS_ATTRIBUTES)
    if names:  # the host is an address placeholder: only a port may follow it
        if hostport[0][1] or not _PORT.fullmatch("".join(text for _, text in hostport[2:])):
            return f"the host must be exactly {must}, or a literal host in AllowedVersionHosts"
        return None
    host, port = _host_and_port(hostport[0][1])
    if host is None or not _PORT.fullmatch(port):
        return f"the host must be exactly {must}, or a literal host in AllowedVersionHosts"
    if always_refused(host):
        return f"host {host[:64]!r} is a link-local or metadata address, never allowed"
    if allowed_hosts is not None and not is_listed(host, allowed_hosts):
        return f"host {host[:64]!r} is not an instance address: use {must}, or list it in AllowedVersionHosts"
    return None


def _authority(template: str) -> list[tuple[bool, str]] | str:
    """The template's authority as (is a placeholder, text) pieces, or why it has none."""
    pieces = _PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
    rest = pieces[0].partition("://")[2]  # template_problem has seen a scheme and a host
    authority: list[tuple[bool, str]] = []
    for index, piece in enumerate([rest, *pieces[1:]]):
        if index % 2:
            authority.append((True, piece))
            continue
        cut = min((piece.find(c) for c in "/?#\\" if c in piece), default=-1)
        if cut < 0:
            authority.append((False, piece))
            continue
        if piece[cut] == "\\":
            return "a backslash before the path (clients disagree on where its host ends)"
        authority.append((False, piece[:cut]))
        break
    return authority


_PORT = re.compile(r"(:[0-9]{0,5})?")


def _host_and_port(hostport: str) -> tuple[str | None, str]:
    if hostport.startswith("["):
        host, bracket, port = hostport[1:].partition("]")
        return (host, port) if bracket and host else (None, "")
    host, colon, port = hostport.partition(":")
    return (host, colon + port) if host else (None, "")


def render(template: str, values: Mapping[str, str]) -> str:
    """Substitute every placeholder from ``values`` (attributes, and tags keyed ``tag:NAME``).

    Raises KeyError naming the first placeholder the instance has no value for.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            found = values[name]
        except KeyError:
            found = ""
        if not found:
            raise KeyError(name)
        encoded = quote(found, safe="-._~")
        # A value of "." or ".." would still be a path segment that moves the path: encode the dots.
        return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded

    return _PLACEHOLDER.sub(value, template)


NOT_ALLOWED = "address not allowed"
LOOPBACK_ONLY = "address not allowed (local stack: loopback only)"
# Never probed, whatever is listed: link-local (EC2's instance metadata and DNS live there) and the
# metadata service's IPv6 address.
NEVER = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


def parse_hosts(text: str) -> tuple[str, ...]:
    """``ALLOWED_VERSION_HOSTS``: comma-separated hosts, e.g. ``127.0.0.1,version.internal``."""
    return tuple(h.strip().lower() for h in text.split(",") if h.strip())


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a literal host is, in any spelling a client accepts (``[::1]``, a trailing dot,
    an IPv4-mapped IPv6 address, ``0xa9fea9fe``...), or None for a name."""
    text = host.strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        try:  # the legacy forms C's inet_aton takes: 2852039166, 0251.0376.0251.0376, 169.254.43518
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except (OSError, ValueError):
            return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def always_refused(host: str) -> bool:
    address = _address(host)
    return address is not None and any(address in network for network in NEVER)


def is_listed(host: str, allowed_hosts: Collection[str]) -> bool:
    address = _address(host)
    for listed in allowed_hosts:
        listed_address = _address(listed)
        if address is not None and listed_address is not None:
            if address == listed_address:
                return True
        elif host.rstrip(".").lower() == listed.strip("[]").rstrip(".").lower():
            return True
    return False


def _loopback(host: str) -> bool:
    address = _address(host)
    name = host.rstrip(".").lower()
    return address.is_loopback if address is not None else name == "localhost" or name.endswith(".localhost")


def address_refusal(url: str, allowed_hosts: Collection[str], loopback_only: bool = False) -> str | None:
    """The reason a rendered version URL must not be probed, or None; decided before connecting.

    Link-local and metadata addresses are never probed, loopback only when listed in
    ``allowed_hosts``; a name is never resolved. On the local stack (``loopback_only``) nothing
    beyond loopback is probed either.
    """
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return NOT_ALLOWED
    if not host or always_refused(host) or (_loopback(host) and not is_listed(host, allowed_hosts)):
        return NOT_ALLOWED
    return loopback_refusal(url) if loopback_only else None


def loopback_refusal(url: str) -> str | None:
    """On the local stack, the reason a URL must not be probed, or None: only literal loopback
    addresses (127.0.0.0/8, ::1) are allowed; a name is refused without resolving it."""
    try:
        host = urlsplit(url).hostname or ""
        return None if ipaddress.ip_address(host).is_loopback else LOOPBACK_ONLY
    except ValueError:
        return LOOPBACK_ONLY
