"""The emulator over real loopback HTTP, TLS, and the ``b24sync emulator`` command."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from b24sync.emulator import EmulatorError
from b24sync.emulator.server import EmulatorServer
from tests.helpers.emulator_fakes import TOKEN, emulator

ROOT = Path(__file__).resolve().parents[2]


def test_serve_answers_over_loopback_and_counts() -> None:
    emu = emulator()
    with emu.serve() as url, requests.Session() as session:
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/rest/1/{TOKEN}/")
        added = session.post(url + "fake.add", json={"fields": {"A": "x"}})
        batch = session.post(url + "batch", json={"cmd": {"a": "fake.add", "b": "fake.get?id=$result[a]"}})
        wrong = session.post(url.replace(TOKEN, "wrong") + "fake.add", json={})
        root = url.split("/rest/")[0]
        stats = session.get(root + "/_emulator/stats").json()
        reset = session.post(root + "/_emulator/reset")
    assert added.json()["result"] == 1
    assert batch.json()["result"]["result"] == {"a": 2, "b": {"ID": "2"}}
    assert wrong.status_code == 401
    assert stats["requests"] == 3 and stats["commands"] == 3
    assert stats["by_status"] == {"200": 2, "401": 1}
    assert reset.json() == {"result": True} and emu.stats()["requests"] == 0


def test_many_connections_opened_at_once_are_all_accepted() -> None:
    # a client opening 64 connections at once must not wait for the kernel to resend dropped SYNs
    server = EmulatorServer(emulator())
    server.start()
    sockets = [socket.socket() for _ in range(64)]
    try:
        for client in sockets:
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", server.port))
        _, connected, _ = select.select([], sockets, [], 2.0)
        assert len(connected) == 64
        assert all(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for c in connected)
    finally:
        for client in sockets:
            client.close()
        server.stop()


def test_a_dropped_connection_closes_without_an_answer_after_processing() -> None:
    emu = emulator(drop_rate=1.0)
    with (
        emu.serve() as url,
        requests.Session() as session,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        session.post(url + "fake.add", json={})
    assert len(emu.store.records) == 1


def test_chunked_bodies_are_read() -> None:
    emu = emulator()
    with emu.serve() as url:
        answer = requests.post(
            url + "fake.echo", data=iter([b'{"a":', b" 1}"]), headers={"Content-Type": "application/json"}
        )
    assert answer.json()["result"] == {"a": 1}


def test_tls_serves_https_with_a_self_signed_certificate() -> None:
    if shutil.which("openssl") is None:
        pytest.importorskip("cryptography", reason="--tls needs openssl or cryptography")
    emu = emulator()
    server = EmulatorServer(emu, tls=True)
    server.start()
    try:
        assert server.webhook_url.startswith("https://127.0.0.1:")
        assert server.certificate is not None
        answer = requests.post(server.webhook_url + "server.time", json={}, verify=str(server.certificate))
        assert answer.json()["result"] == "2026-01-01T00:00:00+00:00"
    finally:
        server.stop()


def test_tls_without_cryptography_uses_openssl(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl binary")
    monkeypatch.setattr("b24sync.emulator.tls._has_cryptography", lambda: False)
    emu = emulator()
    server = EmulatorServer(emu, tls=True)
    server.start()
    try:
        answer = requests.post(server.webhook_url + "server.time", json={}, verify=str(server.certificate))
        assert answer.status_code == 200
    finally:
        server.stop()


def test_tls_with_neither_tool_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("b24sync.emulator.tls.shutil.which", lambda name: None)
    monkeypatch.setattr("b24sync.emulator.tls._has_cryptography", lambda: False)
    with pytest.raises(EmulatorError, match="openssl binary or the Python package cryptography"):
        EmulatorServer(emulator(), tls=True).start()


def test_a_busy_port_is_a_clear_error() -> None:
    emu = emulator()
    with emu.serve() as url:
        port = int(url.split(":")[2].split("/")[0])
        with pytest.raises(EmulatorError, match=r"cannot listen on 127\.0\.0\.1"):
            EmulatorServer(emu, port=port).start()


def run_cli(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.emulator_cli_with_fakes", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_the_webhook_url_first_and_saves_state_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    state = tmp_path / "state.json"
    process = run_cli("--port", "0", "--token", "cli-token", "--state", str(state))
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/rest/1/cli-token/")
        assert requests.post(url + "fake.add", json={"fields": {"N": "1"}}, timeout=10).json()["result"] == 1
        requests.post(url.replace("cli-token", "wrong") + "fake.add", json={}, timeout=10)
        process.send_signal(stop_signal)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        # the request lines hold the token: the server must not log them
        assert "cli-token" not in process.stderr.read() + process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert json.loads(state.read_text())["store"] == {"records": {"1": {"N": "1"}}}
    restarted = run_cli("--port", "0", "--token", "cli-token", "--state", str(state))
    try:
        assert restarted.stdout is not None
        url = restarted.stdout.readline().strip()
        assert requests.post(url + "fake.get", json={"id": 1}, timeout=10).json()["result"] == {
            "ID": "1",
            "N": "1",
        }
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=20) == 0
    finally:
        if restarted.poll() is None:
            restarted.kill()
            restarted.wait()


def test_cli_bad_options_are_one_line_errors_with_exit_code_2() -> None:
    process = run_cli("--port", "0", "--rate-limit", "fast")
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        "b24sync: error: rate limit 'fast' is not standard, enterprise, off or BURST/RATE (for example 50/2)"
    ]


def test_cli_cost_options_reach_the_emulator() -> None:
    process = run_cli(
        "--port", "0", "--profile", "cloud", "--cost", "add=40", "--cost", "request=0",
        "--latency", "0", "--workers", "2", "--operating-limit", "off",
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        block = requests.post(url + "fake.add", json={"fields": {"N": "1"}}, timeout=10).json()["time"]
        # fake.add is of class "add": 40 ms of server time, no request overhead, no operating figures
        assert block["duration"] == pytest.approx(0.040, abs=1e-6)
        assert "operating" not in block and "operating_reset_at" not in block
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--operating-limit", "soon"),
            "b24sync: error: --operating-limit 'soon' is not a positive number of seconds or off",
        ),
        (("--cost", "add"), "b24sync: error: cost 'add' is not CLASS=MILLISECONDS (for example add=150)"),
        (
            ("--cost", "moves=5"),
            "b24sync: error: unknown cost moves: use one of add, update, delete, get, list, import, fields, other, request, count",
        ),
    ],
)
def test_cli_bad_cost_options_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    process = run_cli("--port", "0", *args)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert err.strip().splitlines() == [message]
