"""Which addresses a webhook may reach: public unicast only, unless private ones are allowed (development)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that always mean this host or a private network, whatever a resolver says.
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")
# Cloud metadata services (AWS, GCP, Azure, Alibaba, Oracle); most are link-local and refused anyway.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks must not reach."""


def literal_address(host: str) -> IPAddress | None:
    """The IP address a host names literally (IPv6 without brackets), or None for a DNS name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast, reserved or metadata."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast and address not in _METADATA


def is_local_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES)


def host_refusal(host: str) -> str | None:
    """Why a URL host is refused without resolving it (literal addresses and local names), or None."""
    address = literal_address(host)
    if address is not None:
        return None if is_public(address) else "This URL names a private, loopback or reserved address."
    if is_local_name(host):
        return "This URL names a local host."
    return None


async def resolve_all(host: str, port: int, *, allow_private: bool, within: float) -> list[IPAddress]:
    """Every address the host resolves to, each of them allowed (else AddressRefused)."""
    address = literal_address(host)
    if address is None:
        if not allow_private and is_local_name(host):
            raise AddressRefused(f"{host} is a local name")
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), within
            )
        except (OSError, TimeoutError) as exc:
            raise OSError(f"cannot resolve {host}: {exc}") from None
        addresses = [literal_address(str(info[4][0])) for info in infos]
        found = list(dict.fromkeys(a for a in addresses if a is not None))
        if not found:
            raise OSError(f"{host} has no address")
    else:
        found = [address]
    if not allow_private:
        refused = [a for a in found if not is_public(a)]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]})")
    return found
