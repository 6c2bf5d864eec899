"""Where Bitrix24 cloud portals live, for the redirect rule of protocol §1.1."""

from __future__ import annotations

CLOUD_DOMAINS = frozenset(
    {
        "bitrix24.com",
        "bitrix24.ru",
        "bitrix24.de",
        "bitrix24.eu",
        "bitrix24.es",
        "bitrix24.fr",
        "bitrix24.it",
        "bitrix24.pl",
        "bitrix24.uk",
        "bitrix24.ua",
        "bitrix24.by",
        "bitrix24.kz",
        "bitrix24.in",
        "bitrix24.cn",
        "bitrix24.jp",
        "bitrix24.vn",
        "bitrix24.id",
        "bitrix24.co",
        "bitrix24.mx",
        "bitrix24.com.br",
        "bitrix24.com.tr",
    }
)
"""The domains whose subdomains are Bitrix24 cloud portals (``<portal>.bitrix24.com``), protocol §1.1."""

# Second-level labels under which a country code hands out names (``shop.co.uk``): the registrable
# domain then has three labels. A small list instead of the public suffix list: it only widens what
# counts as "the same registrable domain" when it is missing, never what counts as "the same".
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go"})


def is_cloud_portal(host: str) -> bool:
    """Whether ``host`` is a portal of the Bitrix24 cloud (``<portal>.bitrix24.<zone>``)."""
    host = host.lower().rstrip(".")
    return any(host.endswith("." + domain) for domain in CLOUD_DOMAINS)


def registrable_domain(host: str) -> str:
    """The part of ``host`` one owner registers: ``a.b.example.com`` → ``example.com``."""
    labels = host.lower().rstrip(".").split(".")
    take = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-take:])
