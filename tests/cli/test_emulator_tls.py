"""``b24sync emulator --tls`` as clients use it: the printed CA certificate is what b24sync apply
(``--ca-bundle``) and a real b24jssdk script (``NODE_EXTRA_CA_CERTS``) trust; ``--tls-dir`` keeps it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tls-t0ken-secret"
JSSDK = "@bitrix24/b24jssdk"
NODE_SCRIPT = """\
import { B24Hook } from '@bitrix24/b24jssdk'
const b24 = B24Hook.fromWebhookUrl(process.argv[2])
const added = await b24.actions.v2.call.make({
  method: 'crm.item.add', params: { entityTypeId: 4, fields: { title: 'From b24jssdk' } } })
const listed = await b24.actions.v2.call.make({
  method: 'crm.item.list', params: { entityTypeId: 4, select: ['id', 'title'] } })
console.log(JSON.stringify({ success: added.isSuccess, id: added.getData().result.item.id,
  titles: listed.getData().result.items.map((item) => item.title) }))
"""


@dataclass
class Running:
    url: str
    certificate: Path
    process: subprocess.Popen[str]


def start(tls_dir: Path) -> Running:
    if shutil.which("openssl") is None:
        pytest.importorskip("cryptography", reason="--tls needs openssl or cryptography")
    process = subprocess.Popen(
        [sys.executable, "-m", "b24sync", "emulator", "--port", "0", "--token", TOKEN, "--tls-dir", str(tls_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    printed = process.stdout.readline().strip()
    assert url.startswith("https://127.0.0.1:"), url + printed
    assert printed.startswith("certificate: ")
    return Running(url, Path(printed.removeprefix("certificate: ")), process)


def stop(running: Running) -> None:
    running.process.send_signal(signal.SIGTERM)
    running.process.wait(timeout=10)
    for stream in (running.process.stdout, running.process.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Running]:
    running = start(tmp_path / "tls")
    yield running
    stop(running)


def b24sync(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("B24_WEBHOOK_URL", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    }
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "b24sync", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_the_printed_certificate_is_kept_in_the_tls_dir_across_starts(tmp_path: Path) -> None:
    first = start(tmp_path / "tls")
    stop(first)
    kept = first.certificate.read_bytes()
    assert first.certificate == tmp_path / "tls" / "ca.pem"
    second = start(tmp_path / "tls")
    try:
        assert second.certificate == first.certificate and second.certificate.read_bytes() == kept
    finally:
        stop(second)


def test_apply_with_the_ca_bundle_talks_to_the_tls_emulator(emulator: Running, tmp_path: Path) -> None:
    done = b24sync("apply", "pipelines/quickstart.yaml", "--webhook", emulator.url, "--ca-bundle",
                   str(emulator.certificate), "--report", str(tmp_path / "r.json"), "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "succeeded" and report["target"].startswith("https://127.0.0.1:")
    assert TOKEN not in done.stdout + done.stderr + (tmp_path / "r.json").read_text()


def test_without_the_ca_bundle_the_certificate_is_refused_and_nothing_is_sent(
    emulator: Running, tmp_path: Path
) -> None:
    done = b24sync("apply", "pipelines/quickstart.yaml", "--webhook", emulator.url,
                   "--report", str(tmp_path / "r.json"), "--no-progress")  # fmt: skip
    assert done.returncode == 3
    assert "TLS failed with 127.0.0.1" in done.stderr and "Traceback" not in done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["totals"]["succeeded"] == 0


def test_insecure_works_on_loopback_with_a_loud_warning(emulator: Running, tmp_path: Path) -> None:
    done = b24sync("apply", "pipelines/quickstart.yaml", "--webhook", emulator.url, "--insecure",
                   "--report", str(tmp_path / "r.json"), "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "certificate is NOT checked" in warnings[0]
    assert "InsecureRequestWarning" not in done.stderr


def test_insecure_is_refused_for_a_remote_host_unless_allowed(tmp_path: Path) -> None:
    url = "https://portal.example.test/rest/1/" + TOKEN + "/"
    done = b24sync("apply", "pipelines/quickstart.yaml", "--webhook", url, "--insecure")
    assert done.returncode == 2
    assert "--insecure is allowed only for loopback hosts, and portal.example.test is not one" in done.stderr
    assert TOKEN not in done.stderr


def test_a_ca_bundle_that_is_no_certificate_is_a_usage_error(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("hello")
    done = b24sync("plan", "pipelines/sync-contacts.yaml", "--webhook", "https://127.0.0.1:9/rest/1/x/",
                   "--ca-bundle", str(bundle))  # fmt: skip
    assert done.returncode == 2
    assert f"--ca-bundle {bundle}: no PEM certificate in it" in done.stderr


def test_allow_http_is_refused_for_a_bitrix24_cloud_portal() -> None:
    url = "http://acme.bitrix24.de/rest/1/" + TOKEN + "/"
    done = b24sync("plan", "pipelines/sync-contacts.yaml", "--webhook", url, "--allow-http")
    assert done.returncode == 2, done.stderr
    assert (
        "is a Bitrix24 cloud portal and those answer only https" in done.stderr and TOKEN not in done.stderr
    )


@pytest.mark.slow
def test_a_real_b24jssdk_script_trusts_the_printed_certificate(emulator: Running, tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the b24jssdk check (apt-get install nodejs npm)")
    folder = tmp_path / "js"
    folder.mkdir()
    (folder / "package.json").write_text('{"name": "probe", "private": true, "type": "module"}')
    installed = subprocess.run([npm, "install", "--no-audit", "--no-fund", JSSDK], cwd=folder,
                               capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    (folder / "probe.mjs").write_text(NODE_SCRIPT)
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(emulator.certificate)}
    done = subprocess.run([node, "probe.mjs", emulator.url], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["success"] is True and answer["titles"] == ["From b24jssdk"]
    without = subprocess.run([node, "probe.mjs", emulator.url], cwd=folder, capture_output=True, text=True,
                             timeout=120, check=False,
                             env={k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"})  # fmt: skip
    assert without.returncode != 0  # the certificate is what made it work
