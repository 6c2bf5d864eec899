"""The emulator's TLS files: a kept CA, a server certificate strict verifiers accept, private keys."""

from __future__ import annotations

import importlib.util
import shutil
import ssl
import stat
from pathlib import Path

import pytest
import requests

from b24sync.emulator.server import EmulatorServer
from b24sync.emulator.tls import ensure_certificates, subject_names
from tests.helpers.emulator_fakes import emulator

ENGINES = [
    pytest.param(
        "cryptography",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("cryptography") is None, reason="needs cryptography"
        ),
    ),
    pytest.param(
        "openssl", marks=pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_ca_is_kept_across_starts_and_the_keys_are_private(tmp_path: Path, engine: str) -> None:
    first = ensure_certificates(tmp_path / "tls", "127.0.0.1", engine=engine)
    ca_text = first.ca.read_bytes()
    second = ensure_certificates(tmp_path / "tls", "127.0.0.1", engine=engine)
    assert second.ca == first.ca and second.ca.read_bytes() == ca_text
    for key in (first.key, tmp_path / "tls" / "ca-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700


@pytest.mark.parametrize("engine", ENGINES)
def test_a_strict_verifier_trusting_only_the_ca_accepts_the_server(tmp_path: Path, engine: str) -> None:
    files = ensure_certificates(tmp_path, "127.0.0.1", engine=engine)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(files.chain, files.key)
    client = ssl.create_default_context(cafile=str(files.ca))
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    back_in, back_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_end = client.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    server_end = server_side.wrap_bio(back_in, back_out, server_side=True)
    for _ in range(10):  # a handshake in memory: hand the bytes back and forth until both are done
        done = 0
        for end in (client_end, server_end):
            try:
                end.do_handshake()
                done += 1
            except ssl.SSLWantReadError:
                pass
        back_in.write(outgoing.read())
        incoming.write(back_out.read())
        if done == 2:
            break
    peer = client_end.getpeercert()
    assert peer is not None
    assert peer["subjectAltName"] == (
        ("DNS", "localhost"),
        ("IP Address", "127.0.0.1"),
        ("IP Address", "0:0:0:0:0:0:0:1"),
    )


def test_a_named_host_is_in_the_certificate_once() -> None:
    assert subject_names("portal.test")[-1] == ("DNS", "portal.test")
    assert subject_names("127.0.0.1") == [("DNS", "localhost"), ("IP", "127.0.0.1"), ("IP", "::1")]


def test_a_server_in_a_tls_dir_keeps_its_certificate_after_stop(tmp_path: Path) -> None:
    server = EmulatorServer(emulator(), tls=True, tls_dir=tmp_path / "keep")
    server.start()
    try:
        assert server.certificate == tmp_path / "keep" / "ca.pem"
        answer = requests.post(server.webhook_url + "server.time", json={}, verify=str(server.certificate))
        assert answer.status_code == 200
    finally:
        server.stop()
    assert (tmp_path / "keep" / "ca.pem").is_file()


def test_a_broken_kept_ca_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    (tmp_path / "ca-key.pem").write_text("not a key")
    files = ensure_certificates(tmp_path, "127.0.0.1")
    assert b"BEGIN CERTIFICATE" in files.ca.read_bytes()
