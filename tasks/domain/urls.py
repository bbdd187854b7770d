"""The operator's version URL template, e.g. ``http://{PrivateIpAddress}:80/version``.

Values are percent-encoded before substitution, so an attribute (a tag value, say) can never
change the scheme, the host or the path the operator wrote: the URL is the template's.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

ATTRIBUTES = (
    "InstanceId",
    "PrivateIpAddress",
    "PrivateDnsName",
    "PublicIpAddress",
    "PublicDnsName",
    "AvailabilityZone",
)
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


def template_problem(template: str) -> str | None:
    """Why this template cannot be used, or None when it yields an http(s) URL."""
    for name in placeholders(template):
        if name not in ATTRIBUTES and not _TAG.fullmatch(name):
            known = ", ".join(f"{{{a}}}" for a in ATTRIBUTES)
            return f"unknown placeholder {{{name}}}; use one of {known} or {{tag:NAME}}"
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        return "unbalanced braces"
    sample = render(template, _Sample(_SAMPLE))
    parts = urlsplit(sample)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"does not yield an http(s) URL with a host (e.g. {sample!r})"
    return None


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


LOOPBACK_ONLY = "address not allowed (local stack: loopback only)"


def loopback_refusal(url: str) -> str | None:
    """On the local stack, the reason a URL must not be probed, or None: only literal loopback
    addresses (127.0.0.0/8, ::1) are allowed; a name is refused without resolving it."""
    try:
        host = urlsplit(url).hostname or ""
        return None if ipaddress.ip_address(host).is_loopback else LOOPBACK_ONLY
    except ValueError:
        return LOOPBACK_ONLY
