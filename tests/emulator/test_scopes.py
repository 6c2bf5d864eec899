"""Webhook scopes in the emulator: methods outside them are refused as Bitrix24 refuses them (protocol §6.2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.emulator import Emulator, EmulatorError
from b24sync.emulator.request import HttpRequest

ROOT = Path(__file__).resolve().parents[2]
REFUSAL = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the webhook token",
}


def post(emulator: Emulator, method: str, body: bytes = b"{}") -> tuple[int, dict[str, Any]]:
    response = emulator.handle(
        HttpRequest("POST", f"/rest/1/{emulator.token}/{method}", {"content-type": "application/json"}, body)
    )
    return response.status, response.json()


def test_a_method_outside_the_scopes_is_refused_with_401_insufficient_scope() -> None:
    emulator = Emulator(scopes=("task", "user"))
    status, body = post(emulator, "crm.item.add", b'{"entityTypeId": 3, "fields": {"name": "Ann"}}')
    assert (status, body) == (401, REFUSAL)
    assert emulator.store.to_json() == Emulator().store.to_json()  # nothing was created


def test_methods_inside_the_scopes_and_basic_methods_still_answer() -> None:
    emulator = Emulator(scopes="task,user")
    assert post(emulator, "tasks.task.add", b'{"fields": {"TITLE": "T", "RESPONSIBLE_ID": 1}}')[0] == 200
    assert post(emulator, "user.current")[0] == 200
    assert post(emulator, "server.time")[0] == 200
    assert post(emulator, "profile")[0] == 200
    assert post(emulator, "scope")[1]["result"] == ["task", "user"]


def test_any_user_scope_opens_the_user_methods() -> None:
    assert post(Emulator(scopes=("user_brief",)), "user.current")[0] == 200
    assert post(Emulator(scopes=("crm",)), "user.current") == (401, REFUSAL)


def test_inside_a_batch_the_refusal_is_a_result_error_entry_and_halt_stops_there() -> None:
    emulator = Emulator(scopes=("task",))
    body = (
        b'{"halt": 1, "cmd": {"t": "tasks.task.add?fields[TITLE]=T&fields[RESPONSIBLE_ID]=1",'
        b' "c": "crm.item.add?entityTypeId=3&fields[name]=Ann", "u": "server.time"}}'
    )
    status, answer = post(emulator, "batch", body)
    assert status == 200
    result = answer["result"]
    assert list(result["result"]) == ["t"]
    assert result["result_error"] == {"c": REFUSAL}


def test_the_default_is_every_scope() -> None:
    assert post(Emulator(), "scope")[1]["result"] == ["crm", "task", "user", "user_basic", "user_brief"]
    assert post(Emulator(), "crm.item.add", b'{"entityTypeId": 3, "fields": {"name": "A"}}')[0] == 200


def test_an_unknown_scope_is_a_clear_error() -> None:
    with pytest.raises(EmulatorError, match="unknown scope 'crn': the emulator knows crm, task, user"):
        Emulator(scopes=("crn",))
    result = CliRunner().invoke(main, ["emulator", "--port", "0", "--scopes", "crm,tsk"])
    assert result.exit_code == 2
    assert result.stderr == (
        "b24sync: error: unknown scope 'tsk': the emulator knows crm, task, user, user_basic, user_brief\n"
    )


def test_the_emulator_command_serves_only_the_scopes_given() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "b24sync", "emulator", "--port", "0", "--scopes", "task,user"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        refused = requests.post(url + "crm.item.add", json={"entityTypeId": 3, "fields": {}}, timeout=10)
        assert (refused.status_code, refused.json()) == (401, REFUSAL)
        assert requests.post(url + "scope", json={}, timeout=10).json()["result"] == ["task", "user"]
    finally:
        process.terminate()
        process.wait(timeout=20)
