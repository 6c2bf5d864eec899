"""A self-signed certificate made with the optional ``cryptography`` package (used without openssl)."""

from __future__ import annotations

import datetime
import importlib
import ipaddress
from pathlib import Path
from typing import Any


def _module(name: str) -> Any:
    # cryptography is optional: imported by name so that the package works (and type-checks) without it
    return importlib.import_module(name)


def write_certificate(certificate: Path, key_path: Path, host: str) -> None:
    """Write a two-day self-signed certificate for ``host``, localhost and 127.0.0.1, with its key."""
    x509 = _module("cryptography.x509")
    oid = _module("cryptography.x509.oid")
    hashes = _module("cryptography.hazmat.primitives.hashes")
    serialization = _module("cryptography.hazmat.primitives.serialization")
    rsa = _module("cryptography.hazmat.primitives.asymmetric.rsa")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, "b24sync emulator")])
    alternatives: list[Any] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        alternatives.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alternatives.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
