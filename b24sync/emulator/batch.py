"""The ``batch`` method: commands in order, PHP parsing, references, halt and the five maps (§3-§5)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from b24sync.emulator.phpjson import php_array, php_json_value
from b24sync.emulator.phpquery import parse_str, parse_url, truthy
from b24sync.emulator.references import ResultStore, substitute

MAX_BATCH = 50
"""protocol §3.3: BATCH_MAX_LENGTH; every command past it gets its own error."""
NOT_IN_BATCH = frozenset({"download", "upload", "batch"})
"""protocol §3.3 and U1: pseudo-methods and nested batches are refused per command."""
AUTH_KEYS = ("auth", "access_token")

LENGTH_EXCEEDED = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
NOT_ALLOWED = {
    "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
    "error_description": "Method is not allowed for batch usage",
}


@dataclass(frozen=True)
class Outcome:
    """What one command left behind: a result (with total/next and its time block) or an error."""

    result: Any = None
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None


Call = Callable[[str, dict[str, Any]], Outcome]
"""Runs one command: lower-case method name and parsed parameters in, its outcome out."""


def lower_keys(params: Mapping[Any, Any]) -> dict[str, Any]:
    """Top-level keys without regard to case (protocol §3.1: ``cmd`` = ``CMD``); a later key wins."""
    lowered: dict[str, Any] = {}
    for key, value in params.items():
        lowered[str(key).lower()] = value
    return lowered


def commands_of(params: Mapping[Any, Any]) -> list[tuple[str, Any]]:
    """The ``cmd`` entries in order, keyed as PHP would key them (a list gets ``0..n-1``)."""
    cmd = lower_keys(params).get("cmd")
    if isinstance(cmd, Mapping):
        return [(str(key), value) for key, value in cmd.items()]
    if isinstance(cmd, list):
        return [(str(index), value) for index, value in enumerate(cmd)]
    return []


def run_batch(params: Mapping[Any, Any], call: Call, max_input_vars: int | None = None) -> dict[str, Any]:
    """Run a batch's commands through ``call`` and return the value of its ``result``."""
    halt = truthy(lower_keys(params).get("halt"))
    store = ResultStore()
    results, errors = store.maps["result"], store.maps["error"]
    for index, (key, command) in enumerate(commands_of(params)):
        if index >= MAX_BATCH:
            outcome = Outcome(error=LENGTH_EXCEEDED)
        elif not isinstance(command, str):
            continue  # protocol §2.2 (1): skipped, no entry anywhere, but it counted toward 50
        else:
            outcome = _run_command(command, store, call, max_input_vars)
        if outcome.error is not None:
            errors[key] = dict(outcome.error)
            if halt:
                break  # protocol §5.4: later commands are absent from all five maps
            continue
        results[key] = outcome.result
        if outcome.total is not None:
            store.maps["total"][key] = int(outcome.total)
        if outcome.next is not None:
            store.maps["next"][key] = int(outcome.next)
        if outcome.time is not None:
            store.maps["time"][key] = dict(outcome.time)
    return {
        "result": php_array({key: php_json_value(value) for key, value in results.items()}),
        "result_error": php_array(errors),
        "result_total": php_array(store.maps["total"]),
        "result_next": php_array(store.maps["next"]),
        "result_time": php_array(store.maps["time"]),
    }


def _run_command(command: str, store: ResultStore, call: Call, max_input_vars: int | None) -> Outcome:
    url = parse_url(command)
    method = ((url.path if url is not None else None) or "").lower()
    if method in NOT_IN_BATCH:
        return Outcome(error=NOT_ALLOWED)
    query = url.query if url is not None else None
    parsed = parse_str(query, max_input_vars) if query else {}
    # protocol §4.2: parse_str first, substitution second
    command_params = substitute(parsed, store)
    for auth_key in AUTH_KEYS:
        # protocol §3.1: a command cannot carry its own auth
        command_params.pop(auth_key, None)
    return call(method, command_params)
