"""Where webhooks may be sent (SSRF protection): public http(s) addresses only, unless allowed by setting.

A webhook makes the server send requests to a URL an admin typed, from inside our network. Without a
check, `http://169.254.169.254/` (cloud metadata), `http://localhost:5432/` or an intranet host would
be reachable through us. So: http/https only, no credentials in the URL, and every address the host
resolves to must be public. The check runs at registration (a clear 422) and again before every
send, and the request then goes to the very address that was checked (see `pinned_request`), so a DNS
answer that changes between check and connect (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

# 100.64.0.0/10 (carrier-grade NAT) is not "private" to older Pythons; list it explicitly.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: its parts, and the address to connect to (None: allowed host, resolve normally)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str | None


def is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local, multicast, reserved, unspecified and CGNAT addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
    if address.version == 4 and address in _CGNAT:
        return False
    return (
        not (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )
        and address.is_global
    )


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable webhook URL, without looking anything up."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs are accepted")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused("credentials in the URL are not accepted (the signature authenticates us)")
    host = (parts.hostname or "").lower()
    if not host:
        raise TargetRefused("the URL has no host")
    if parts.fragment:
        raise TargetRefused("a fragment (#...) is never sent; leave it out")
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"the host {host!r} cannot be resolved") from exc
    # Strip an IPv6 zone id ("fe80::1%eth0") before parsing.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_target(url: str, *, allowed_hosts: list[str]) -> Target:
    """The checked target, or `TargetRefused`. Allowed hosts skip only the address check."""
    scheme, host, port = parse_url(url)
    if host in allowed_hosts:
        return Target(url=url, scheme=scheme, host=host, port=port, address=None)
    addresses = resolve(host, port)
    refused = [a for a in addresses if not is_public(a)]
    if refused or not addresses:
        shown = ", ".join(sorted({str(a) for a in refused})) or "nothing"
        raise TargetRefused(
            f"the host {host!r} resolves to a non-public address ({shown}): loopback, private, "
            "link-local and reserved addresses are refused unless listed in DRUGINFO_WEBHOOK_ALLOWED_HOSTS"
        )
    return Target(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))
