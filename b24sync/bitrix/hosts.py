"""Which hosts are Bitrix24 cloud portals (protocol §1.1), tested two ways on purpose.

A cloud portal is named ``<portal>.bitrix24.<zone>``. ``is_cloud_host`` is the wide test, by that
shape with any zone: anything that looks like a cloud portal is refused plain http (a self-hosted
portal lives on its owner's own domain, where http may be all there is). ``is_cloud_portal`` is the
narrow test, by the list of the cloud's domains: only those are trusted as the target of a portal
rename, because a redirect to them re-sends the webhook code. Refusing wide and trusting narrow
errs on the safe side both times.
"""

from __future__ import annotations

CLOUD_NAME = "bitrix24"
GENERIC_SECOND_LEVELS = frozenset({"com", "co", "net", "org"})


def is_cloud_host(host: str) -> bool:
    """Whether ``host`` is a portal of the Bitrix24 cloud (``acme.bitrix24.com``, ``x.bitrix24.com.br``)."""
    labels = host.strip("[]").rstrip(".").lower().split(".")
    if len(labels) >= 2 and labels[-2] == CLOUD_NAME:
        return True
    return len(labels) >= 3 and labels[-3] == CLOUD_NAME and labels[-2] in GENERIC_SECOND_LEVELS


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
    """Whether ``host`` is a portal under one of the known cloud domains (the narrow test, for trust)."""
    host = host.lower().rstrip(".")
    return any(host.endswith("." + domain) for domain in CLOUD_DOMAINS)


def registrable_domain(host: str) -> str:
    """The part of ``host`` one owner registers: ``a.b.example.com`` → ``example.com``."""
    labels = host.lower().rstrip(".").split(".")
    take = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-take:])
