"""How the client checks a portal's certificate: the system's CAs, a CA bundle, or (loudly) not at all.

A self-hosted portal or ``b24sync emulator --tls`` presents a certificate of a private CA:
``ca_bundle`` names the PEM file of that CA. ``insecure`` turns the check off, which lets anyone on the
network path read the webhook code, so it is refused for any host but loopback unless
``allow_insecure_remote`` says the user means it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from b24sync.client.webhook import is_loopback
from b24sync.errors import UsageError

PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
INSECURE_WARNING = (
    "WARNING: --insecure: the portal's TLS certificate is NOT checked; anyone on the network path "
    "can read the webhook code and change the answers. Use --ca-bundle FILE instead."
)


@dataclass(frozen=True)
class Tls:
    """The certificate check of one portal's connections."""

    ca_bundle: str | None = None
    insecure: bool = False
    allow_insecure_remote: bool = False

    def verify_for(self, host: str) -> bool | str:
        """What ``requests`` takes as ``verify`` for ``host``; refuses what cannot be safe or cannot work."""
        if self.insecure and self.ca_bundle is not None:
            raise UsageError("choose one of --ca-bundle (check against that CA) and --insecure (no check)")
        if self.insecure:
            if not is_loopback(host) and not self.allow_insecure_remote:
                raise UsageError(
                    f"--insecure is allowed only for loopback hosts, and {host} is not one: pass "
                    "--ca-bundle FILE with the portal's CA, or add --allow-insecure-remote if you "
                    "accept that the webhook code can be read on the way"
                )
            return False
        if self.ca_bundle is not None:
            return check_ca_bundle(self.ca_bundle)
        return True


def check_ca_bundle(path: str) -> str:
    """``path`` (absolute) when it is a readable PEM file holding a certificate; else a usage error."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise UsageError(f"--ca-bundle {path}: cannot read it ({error.strerror or error})") from None
    if PEM_CERTIFICATE not in data:
        raise UsageError(
            f"--ca-bundle {path}: no PEM certificate in it (a '-----BEGIN CERTIFICATE-----' block); "
            "pass the CA certificate in PEM form"
        )
    return os.path.abspath(path)
