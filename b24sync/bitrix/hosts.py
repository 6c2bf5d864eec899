"""Which hosts are Bitrix24 cloud portals (protocol §1.1): those always demand https.

A cloud portal is named ``<portal>.bitrix24.<zone>``: one zone label (``com``, ``de``, ``eu``, ...)
or a generic second level under a country (``com.br``, ``com.tr``). A self-hosted portal lives on its
owner's own domain, where plain http may be all there is.
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
