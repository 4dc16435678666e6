"""Where a webhook may point: public addresses only, unless an operator allow-lists networks in
`config/notifier.yaml` (`webhooks.allow_networks`). A registered URL is otherwise a way to make
the notifier call the cloud's metadata service or a port on its own private network."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

#: Cloud providers' instance metadata services (credentials live there).
METADATA_ADDRESSES = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
#: Names of metadata services, refused whatever they resolve to.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
    }
)
_NAMED: tuple[tuple[Network, str], ...] = tuple(
    (ip_network(net), why)
    for net, why in (
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (RFC 6598)"),
        ("fc00::/7", "unique local (RFC 4193)"),
    )
)
#: IPv6 prefixes that carry an IPv4 address a packet ends up at (NAT64).
_NAT64 = ip_network("64:ff9b::/96")


class WebhookRules(BaseModel):
    """`webhooks` in config/notifier.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_networks: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="Networks webhooks may reach although they are not public (e.g. "
        "127.0.0.0/8 for a chat tool on the same machine). Default: none.",
    )


def _embedded(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), else itself."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _why_not_public(address: IPAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    for network, why in _NAMED:
        if address.version == network.version and address in network:
            return why
    if address.is_multicast:
        return "multicast"
    if not address.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a webhook call may connect to: public ones, and the allow-listed."""

    allow: tuple[Network, ...] = ()

    @classmethod
    def of(cls, rules: WebhookRules) -> AddressPolicy:
        return cls(tuple(rules.allow_networks))

    def refusal(self, address: str) -> str | None:
        """Why a call may not connect to `address` (an IP address), or None if it may."""
        try:
            parsed = ip_address(address)
        except ValueError:
            return "not an IP address"
        target = _embedded(parsed)
        for candidate in dict.fromkeys((parsed, target)):
            if any(candidate.version == n.version and candidate in n for n in self.allow):
                return None
        return _why_not_public(target)

    @staticmethod
    def name_refusal(host: str) -> str | None:
        """Why a host name is refused whatever it resolves to, or None."""
        if host.lower().rstrip(".") in METADATA_NAMES:
            return "a cloud metadata service"
        return None


def is_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True
