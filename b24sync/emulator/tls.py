"""Certificates for ``b24sync emulator --tls``: a private CA kept in a folder, and a server certificate.

Clients trust the CA (``NODE_EXTRA_CA_CERTS``, ``b24sync apply --ca-bundle``, ``REQUESTS_CA_BUNDLE``).
The CA is made once per folder and kept, so a folder given with ``--tls-dir`` gives the same file to
trust at every start; the server certificate it signs is made anew at each start for the host served.
Both are proper X.509 v3 certificates (a CA with ``basicConstraints`` and key identifiers, a server
certificate with ``serverAuth`` and its names), which strict verifiers such as Node's and Python's
``VERIFY_X509_STRICT`` require. Made with the optional ``cryptography`` package, or the ``openssl``
binary when that package is missing.
"""

from __future__ import annotations

import datetime
import importlib
import ipaddress
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b24sync.emulator.state import EmulatorError

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CHAIN_FILE = "server.pem"
KEY_FILE = "server-key.pem"
CA_NAME = "b24sync emulator CA"
CA_DAYS = 825
SERVER_DAYS = 30
RENEW_BEFORE_S = 86_400
"""A kept CA that expires within a day is replaced."""


@dataclass(frozen=True)
class Certificates:
    """The files of one TLS set-up: the CA to trust, the chain the server presents, and its key."""

    ca: Path
    chain: Path
    key: Path


def ensure_certificates(folder: Path, host: str, *, engine: str | None = None) -> Certificates:
    """Keep (or make) the CA in ``folder`` and make a server certificate for ``host`` signed by it.

    ``engine`` is ``cryptography`` or ``openssl``; by default the package when it is installed.
    """
    chosen = engine or ("cryptography" if _has_cryptography() else "openssl")
    if chosen == "openssl" and shutil.which("openssl") is None:
        raise EmulatorError(
            "--tls needs the openssl binary or the Python package cryptography; "
            "install either, or run without --tls"
        )
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise EmulatorError(f"cannot use {folder} for the TLS files: {error.strerror or error}") from None
    files = Certificates(folder / CA_FILE, folder / CHAIN_FILE, folder / KEY_FILE)
    make = _Cryptography() if chosen == "cryptography" else _OpenSsl()
    try:
        if not make.usable_ca(files.ca, folder / CA_KEY_FILE):
            make.ca(files.ca, folder / CA_KEY_FILE)
        make.server(files, folder / CA_KEY_FILE, host)
    except OSError as error:
        raise EmulatorError(f"cannot write the TLS files in {folder}: {error.strerror or error}") from None
    return files


def subject_names(host: str) -> list[tuple[str, str]]:
    """The names the server certificate holds: localhost, 127.0.0.1, ::1 and ``host``."""
    names = [("DNS", "localhost"), ("IP", "127.0.0.1"), ("IP", "::1")]
    try:
        entry = ("IP", str(ipaddress.ip_address(host.strip("[]"))))
    except ValueError:
        entry = ("DNS", host)
    if entry not in names:
        names.append(entry)
    return names


def _has_cryptography() -> bool:
    try:
        importlib.import_module("cryptography.x509")
    except ImportError:
        return False
    return True


def _write_private(path: Path, data: bytes) -> None:
    """A key file readable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
    os.chmod(path, 0o600)


class _Cryptography:
    """Certificates made in-process with the ``cryptography`` package (imported by name: optional)."""

    def __init__(self) -> None:
        self.x509: Any = importlib.import_module("cryptography.x509")
        self.oid: Any = importlib.import_module("cryptography.x509.oid")
        self.hashes: Any = importlib.import_module("cryptography.hazmat.primitives.hashes")
        self.serialization: Any = importlib.import_module("cryptography.hazmat.primitives.serialization")
        self.ec: Any = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")

    def usable_ca(self, ca: Path, key: Path) -> bool:
        if not (ca.is_file() and key.is_file()):
            return False
        try:
            certificate = self.x509.load_pem_x509_certificate(ca.read_bytes())
            self.serialization.load_pem_private_key(key.read_bytes(), password=None)
        except ValueError:
            return False
        left = certificate.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
        return bool(left.total_seconds() > RENEW_BEFORE_S)

    def _usage(self, *, sign: bool) -> Any:
        return self.x509.KeyUsage(
            digital_signature=not sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=sign,
            crl_sign=sign,
            encipher_only=False,
            decipher_only=False,
        )

    def _builder(self, subject: Any, issuer: Any, public_key: Any, days: int) -> Any:
        now = datetime.datetime.now(datetime.timezone.utc)
        return (
            self.x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(self.x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(self.x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    def _name(self, text: str) -> Any:
        return self.x509.Name([self.x509.NameAttribute(self.oid.NameOID.COMMON_NAME, text)])

    def ca(self, ca: Path, key_path: Path) -> None:
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        name = self._name(CA_NAME)
        built = (
            self._builder(name, name, key.public_key(), CA_DAYS)
            .add_extension(self.x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(self._usage(sign=True), critical=True)
            .sign(key, self.hashes.SHA256())
        )
        _write_private(key_path, self._key_bytes(key))
        ca.write_bytes(built.public_bytes(self.serialization.Encoding.PEM))

    def server(self, files: Certificates, ca_key_path: Path, host: str) -> None:
        ca = self.x509.load_pem_x509_certificate(files.ca.read_bytes())
        ca_key = self.serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        names = [
            self.x509.DNSName(value) if kind == "DNS" else self.x509.IPAddress(ipaddress.ip_address(value))
            for kind, value in subject_names(host)
        ]
        ca_identifier = ca.extensions.get_extension_for_class(self.x509.SubjectKeyIdentifier).value
        built = (
            self._builder(self._name(host), ca.subject, key.public_key(), SERVER_DAYS)
            .add_extension(self.x509.SubjectAlternativeName(names), critical=False)
            .add_extension(self.x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(self._usage(sign=False), critical=True)
            .add_extension(
                self.x509.ExtendedKeyUsage([self.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                self.x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_identifier),
                critical=False,
            )
            .sign(ca_key, self.hashes.SHA256())
        )
        _write_private(files.key, self._key_bytes(key))
        pem = self.serialization.Encoding.PEM
        files.chain.write_bytes(built.public_bytes(pem) + ca.public_bytes(pem))

    def _key_bytes(self, key: Any) -> bytes:
        return bytes(
            key.private_bytes(
                self.serialization.Encoding.PEM,
                self.serialization.PrivateFormat.PKCS8,
                self.serialization.NoEncryption(),
            )
        )


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {name}
[ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {names}
"""


class _OpenSsl:
    """Certificates made with the ``openssl`` binary, from a config of its own (no system openssl.cnf)."""

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)

    def _checked(self, *args: str) -> None:
        done = self._run(*args)
        if done.returncode != 0:
            raise EmulatorError(f"openssl could not make a certificate: {done.stderr.strip()[-300:]}")

    def usable_ca(self, ca: Path, key: Path) -> bool:
        if not (ca.is_file() and key.is_file()):
            return False
        valid = self._run("x509", "-in", str(ca), "-noout", "-checkend", str(RENEW_BEFORE_S))
        readable = self._run("pkey", "-in", str(key), "-noout")
        return valid.returncode == 0 and readable.returncode == 0

    def _config(self, folder: str, name: str, host: str) -> str:
        path = os.path.join(folder, "openssl.cnf")
        names = ",".join(f"{kind}:{value}" for kind, value in subject_names(host))
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(_OPENSSL_CONFIG.format(name=name, names=names))
        return path

    def _new_key(self) -> tuple[str, ...]:
        return ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")

    def ca(self, ca: Path, key_path: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="b24sync-openssl-") as work:
            config = self._config(work, CA_NAME, "localhost")
            key = os.path.join(work, "key.pem")
            self._checked(
                "req", "-x509", "-config", config, "-extensions", "ca", *self._new_key(),
                "-keyout", key, "-out", str(ca), "-days", str(CA_DAYS),
            )  # fmt: skip
            _write_private(key_path, Path(key).read_bytes())

    def server(self, files: Certificates, ca_key_path: Path, host: str) -> None:
        with tempfile.TemporaryDirectory(prefix="b24sync-openssl-") as work:
            config = self._config(work, host, host)
            key, request, certificate = (os.path.join(work, name) for name in ("key", "csr", "crt"))
            self._checked("req", "-new", "-config", config, *self._new_key(), "-keyout", key, "-out", request)
            self._checked(
                "x509", "-req", "-in", request, "-CA", str(files.ca), "-CAkey", str(ca_key_path),
                "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(SERVER_DAYS),
                "-extfile", config, "-extensions", "server", "-out", certificate,
            )  # fmt: skip
            _write_private(files.key, Path(key).read_bytes())
            files.chain.write_bytes(Path(certificate).read_bytes() + files.ca.read_bytes())
