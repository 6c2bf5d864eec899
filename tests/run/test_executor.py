from __future__ import annotations

import random
from typing import Any

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.client.encoding import encode_command
from b24sync.errors import UsageError
from b24sync.planning.model import Batch, Command, Link, PipelineInfo, Plan
from b24sync.run.executor import execute
from tests.helpers.scripted import WEBHOOK, FakeTime, ScriptedAdapter, batch_ok, session_with


def command(
    key: str,
    method: str = "crm.item.add",
    params: Any = None,
    links: tuple[Link, ...] = (),
    depends_on: tuple[str, ...] = (),
    secrets: tuple[str, ...] = (),
) -> Command:
    params = params if params is not None else {"entityTypeId": 3, "fields": {"name": key}}
    deps = tuple(dict.fromkeys([*depends_on, *(link.target for link in links)]))
    return Command(
        key=key,
        step=key.rstrip("0123456789_") or key,
        method=method,
        params=params,
        query=encode_command(method, params),
        links=links,
        depends_on=deps,
        secrets=secrets,
    )


def link(target: str, *path: str | int, resolution: str = "server") -> Link:
    marker = f"$result[{target}]" + "".join(f"[{p}]" for p in path)
    return Link(marker=marker, target=target, path=path, resolution=resolution, reason="test")  # type: ignore[arg-type,unused-ignore]


def plan(*batches: list[Command]) -> Plan:
    return Plan(
        pipeline=PipelineInfo(path="p.yaml", sha256="0" * 64),
        batches=tuple(
            Batch(index=i, halt=any(c.links for c in cmds), commands=tuple(cmds))
            for i, cmds in enumerate(batches)
        ),
    )


def client(adapter: ScriptedAdapter) -> B24Hook:
    fake = FakeTime()
    return B24Hook.from_webhook_url(
        WEBHOOK,
        session=session_with(adapter),
        rate_limit=None,
        clock=fake.monotonic,
        wall_clock=fake.wall,
        sleep=fake.sleep,
        rng=random.Random(0),
    )


def statuses(execution: Any) -> dict[str, str]:
    return {s.command_key: s.status for s in execution.steps}


def item(i: int) -> dict[str, Any]:
    return {"item": {"id": i}}


def test_a_server_side_link_is_sent_as_a_marker_in_one_halting_batch() -> None:
    contact = command(
        "contact",
        params={"entityTypeId": 3, "fields": {"companyId": "$result[company][item][id]"}},
        links=(link("company", "item", "id"),),
    )
    adapter = ScriptedAdapter(batch_ok({"company": item(5), "contact": item(6)}))
    execution = execute(plan([command("company"), contact]), client(adapter))
    assert adapter.payload() == {
        "halt": 1,
        "cmd": {
            "company": "crm.item.add?entityTypeId=3&fields%5Bname%5D=company",
            "contact": "crm.item.add?entityTypeId=3&fields%5BcompanyId%5D=%24result%5Bcompany%5D%5Bitem%5D%5Bid%5D",
        },
    }
    assert statuses(execution) == {"company": "succeeded", "contact": "succeeded"}
    assert [s.created_id for s in execution.steps] == [5, 6]
    assert execution.requests == 1 and [b.attempts for b in execution.batches] == [1]


def test_a_link_to_an_earlier_batch_is_substituted_by_value() -> None:
    contact = command(
        "contact",
        params={
            "entityTypeId": 3,
            "fields": {
                "companyId": "$result[company][item][id]",
                "title": "of $result[company][item][id] co",
            },
        },
        links=(link("company", "item", "id", resolution="client"),),
    )
    adapter = ScriptedAdapter(batch_ok({"company": item(41)}), batch_ok({"contact": item(42)}))
    execution = execute(plan([command("company")], [contact]), client(adapter))
    assert adapter.payload(1)["cmd"] == {
        "contact": "crm.item.add?entityTypeId=3&fields%5BcompanyId%5D=41&fields%5Btitle%5D=of%2041%20co"
    }
    assert adapter.payload(1)["halt"] == 1  # halt_on_error defaults to on
    assert statuses(execution) == {"company": "succeeded", "contact": "succeeded"}


def test_a_missing_link_path_fails_the_step_strictly_and_skips_its_dependents() -> None:
    contact = command(
        "contact",
        params={"fields": {"companyId": "$result[company][item][id]"}},
        links=(link("company", "item", "id", resolution="client"),),
    )
    deal = command(
        "deal",
        params={"fields": {"contactId": "$result[contact][item][id]"}},
        links=(link("contact", "item", "id"),),
    )
    adapter = ScriptedAdapter(batch_ok({"company": {"item": {"title": "no id"}}}))
    execution = execute(plan([command("company")], [contact, deal]), client(adapter))
    assert len(adapter.sent) == 1
    steps = {s.command_key: s for s in execution.steps}
    assert steps["contact"].status == "failed" and steps["contact"].error_code == "LINK_MISSING"
    assert "$result[company][item][id]" in (steps["contact"].error_description or "")
    assert "[item][id] does not exist" in (steps["contact"].error_description or "")
    assert (
        steps["deal"].status == "skipped" and steps["deal"].skip_reason == "depends on contact, which failed"
    )


def halting_batch() -> list[Command]:
    return [
        command("a"),
        command("b"),
        command("c"),
        command("d", params={"fields": {"x": "$result[b][item][id]"}}, links=(link("b", "item", "id"),)),
    ]


def test_after_a_halt_independent_commands_are_resent_and_dependents_skipped() -> None:
    # protocol §5.4: halted commands are absent from every map
    adapter = ScriptedAdapter(
        batch_ok({"a": item(1)}, {"b": {"error": "CRM_FIELD_ERROR_REQUIRED", "error_description": "Title"}}),
        batch_ok({"c": item(3)}),
    )
    execution = execute(plan(halting_batch()), client(adapter), halt_on_error=False)
    assert adapter.payload(0)["halt"] == 1
    assert list(adapter.payload(1)["cmd"]) == ["c"]
    assert statuses(execution) == {"a": "succeeded", "b": "failed", "c": "succeeded", "d": "skipped"}
    assert execution.batches[0].attempts == 2


def test_halt_on_error_stops_the_run_and_leaves_the_rest_not_run() -> None:
    adapter = ScriptedAdapter(
        batch_ok({"a": item(1)}, {"b": {"error": "", "error_description": "Access denied."}})
    )
    execution = execute(plan(halting_batch(), [command("e")]), client(adapter), halt_on_error=True)
    assert len(adapter.sent) == 1
    assert statuses(execution) == {
        "a": "succeeded",
        "b": "failed",
        "c": "not_run",
        "d": "skipped",
        "e": "not_run",
    }
    assert {s.command_key: s.skip_reason for s in execution.steps}[
        "c"
    ] == "the run stopped after a failure (halt on error)"


def test_a_server_link_the_portal_could_not_resolve_is_reported_failed() -> None:
    d = command(
        "d",
        method="crm.item.list",
        params={"filter": {">id": "$result[l][items][0][id]"}},
        links=(link("l", "items", 0, "id"),),
    )
    adapter = ScriptedAdapter(batch_ok({"l": {"items": []}, "d": {"items": [{"id": 1}]}}))
    execution = execute(
        plan([command("l", method="crm.item.list", params={"entityTypeId": 2}), d]), client(adapter)
    )
    steps = {s.command_key: s for s in execution.steps}
    assert steps["d"].status == "failed" and steps["d"].error_code == "LINK_UNRESOLVED"
    assert "[items][0] does not exist" in (steps["d"].error_description or "")


def test_limit_errors_are_retried_for_those_commands_only() -> None:
    adapter = ScriptedAdapter(
        batch_ok(
            {"a": item(1), "c": item(3)},
            {"b": {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"}},
        ),
        batch_ok({"b": item(2)}),
    )
    execution = execute(
        plan([command("a"), command("b"), command("c")]), client(adapter), halt_on_error=False
    )
    assert list(adapter.payload(1)["cmd"]) == ["b"]
    assert statuses(execution) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert execution.waited_s == pytest.approx(10.0)


def test_a_lost_answer_marks_writes_unknown_and_sends_nothing_twice() -> None:
    adapter = ScriptedAdapter(batch_ok({"a": item(1)}), requests.exceptions.ReadTimeout("timed out"))
    execution = execute(
        plan(
            [command("a")],
            [command("b"), command("g", method="crm.item.get", params={"id": 1})],
            [command("c")],
        ),
        client(adapter),
    )
    assert len(adapter.sent) == 2
    steps = {s.command_key: s for s in execution.steps}
    assert steps["b"].status == "unknown" and steps["b"].error_code == "OUTCOME_UNKNOWN"
    assert "check the portal" in (steps["b"].error_description or "")
    assert steps["g"].status == "not_run" and steps["c"].status == "not_run"
    assert execution.fatal is None


def test_an_auth_failure_is_fatal_and_nothing_is_counted_as_done() -> None:
    adapter = ScriptedAdapter(
        (401, {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"})
    )
    execution = execute(plan([command("a"), command("b")]), client(adapter))
    assert execution.fatal is not None and execution.fatal.code == "INVALID_CREDENTIALS"  # type: ignore[attr-defined]
    assert statuses(execution) == {"a": "not_run", "b": "not_run"}


def test_resume_skips_recorded_successes_and_feeds_their_results_into_links() -> None:
    contact = command(
        "contact",
        params={"fields": {"companyId": "$result[company][item][id]"}},
        links=(link("company", "item", "id"),),
    )
    adapter = ScriptedAdapter(batch_ok({"contact": item(8)}))
    execution = execute(plan([command("company"), contact]), client(adapter), recorded={"company": item(77)})
    assert adapter.payload()["cmd"] == {"contact": "crm.item.add?fields%5BcompanyId%5D=77"}
    assert statuses(execution) == {"company": "succeeded", "contact": "succeeded"}


def test_an_interrupt_between_requests_leaves_the_rest_not_run() -> None:
    adapter = ScriptedAdapter(batch_ok({"a": item(1)}))
    calls = iter([False, True])
    execution = execute(
        plan([command("a")], [command("b")]), client(adapter), should_stop=lambda: next(calls)
    )
    assert execution.interrupted
    assert statuses(execution) == {"a": "succeeded", "b": "not_run"}


def test_secrets_are_substituted_when_sending_and_redacted_from_what_comes_back() -> None:
    cmd = command("a", params={"fields": {"token": "Bearer $secret[API_TOKEN]"}}, secrets=("API_TOKEN",))
    adapter = ScriptedAdapter(
        batch_ok({}, {"a": {"error": "ERROR_CORE", "error_description": "bad token Bearer t0pS3cret"}})
    )
    execution = execute(plan([cmd]), client(adapter), secrets={"API_TOKEN": "t0pS3cret"})
    assert adapter.payload()["cmd"]["a"].endswith("=Bearer%20t0pS3cret")
    assert execution.steps[0].error_description == "bad token Bearer ***"
    with pytest.raises(UsageError, match="secret API_TOKEN is not set"):
        execute(plan([cmd]), client(ScriptedAdapter()))


def test_the_first_ctrl_c_during_a_limit_wait_sends_nothing_more() -> None:
    # the portal refuses the whole request with a limit; the user presses Ctrl-C while the client waits
    adapter = ScriptedAdapter((503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many"}))
    stop = {"asked": False}
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        stop["asked"] = True

    hook = B24Hook.from_webhook_url(
        WEBHOOK,
        session=session_with(adapter),
        rate_limit=None,
        clock=fake.monotonic,
        wall_clock=fake.wall,
        sleep=sleep,
    )
    hook.stop_waits_when(lambda: stop["asked"])
    execution = execute(plan([command("a"), command("b")]), hook, should_stop=lambda: stop["asked"])
    assert len(adapter.sent) == 1
    assert statuses(execution) == {"a": "not_run", "b": "not_run"}
    assert execution.interrupted


def test_an_answer_that_lists_none_of_the_commands_is_resent_a_bounded_number_of_times() -> None:
    # HTTP 200 with empty maps, forever: a server that is not Bitrix24, or a broken proxy
    adapter = ScriptedAdapter(*[batch_ok() for _ in range(100)])
    execution = execute(
        plan([command("a"), command("r", method="crm.item.get", params={"entityTypeId": 3, "id": 1})]),
        client(adapter),
    )
    assert len(adapter.sent) == 3  # sent once, resent twice, then stopped
    assert statuses(execution) == {"a": "unknown", "r": "not_run"}  # the write may have been applied
    assert execution.fatal is not None and "protocol §5.4" in str(execution.fatal)
