from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b24sync.bitrix.methods import is_read
from b24sync.bitrix.results import is_known_path
from b24sync.errors import PipelineError
from b24sync.pipeline import load_pipeline
from b24sync.planning.keys import command_keys
from b24sync.planning.model import Plan
from b24sync.planning.planner import plan_file

ROOT = Path(__file__).resolve().parents[2]
KEY = re.compile(r"\A[A-Za-z][A-Za-z0-9_]*\Z")


def write_pipeline(folder: Path, steps: list[dict[str, Any]], batch_size: int = 50) -> str:
    document = {"version": 1, "name": "t", "defaults": {"batch_size": batch_size}, "steps": steps}
    path = folder / "p.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return str(path)


def plan_steps(tmp_path: Path, steps: list[dict[str, Any]], batch_size: int = 50) -> Plan:
    return plan_file(write_pipeline(tmp_path, steps, batch_size))


def links_of(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    return {c.key: [(link.marker, link.resolution) for link in c.links] for c in plan.commands()}


def test_the_seed_example_keeps_its_read_link_inside_one_batch() -> None:
    plan = plan_file(str(ROOT / "tests/cases/valid/onboard-acme.yaml"))
    (batch,) = plan.batches
    assert batch.halt
    tasks = batch.commands[-1]
    assert tasks.params == {"filter": {"UF_CRM_TASK": "D_$result[last_deal][items][0][id]"}}
    assert tasks.query == (
        "tasks.task.list?filter%5BUF_CRM_TASK%5D=D_%24result%5Blast_deal%5D%5Bitems%5D%5B0%5D%5Bid%5D"
    )
    assert [(link.target, link.path, link.resolution) for link in tasks.links] == [
        ("last_deal", ("items", 0, "id"), "server")
    ]
    keys = [c.key for c in batch.commands]
    assert keys.index("last_deal") > max(
        keys.index("deal_ann_example_com"), keys.index("deal_bob_example_com")
    )
    last_deal = batch.commands[keys.index("last_deal")]
    assert last_deal.depends_on == ("deal_ann_example_com", "deal_bob_example_com")


def test_a_write_never_gets_the_portal_fallback_of_a_list_index(tmp_path: Path) -> None:
    plan = plan_steps(
        tmp_path,
        [
            {"id": "newest", "method": "crm.item.list", "params": {"entityTypeId": 2}},
            {"id": "touch", "method": "crm.item.update", "params": {"id": "{{ steps.newest.items[0].id }}"}},
        ],
    )
    assert [[c.key for c in b.commands] for b in plan.batches] == [["newest"], ["touch"]]
    (link,) = plan.batches[1].commands[0].links
    assert link.resolution == "client"
    assert "this command writes" in link.reason
    assert not plan.batches[1].halt


def test_text_right_after_a_link_is_resolved_by_b24sync(tmp_path: Path) -> None:
    plan = plan_steps(
        tmp_path,
        [
            {"id": "c", "method": "crm.item.add"},
            {"id": "ok", "method": "crm.item.add", "params": {"t": "Company {{ steps.c.item.id }} done"}},
            {"id": "bad", "method": "crm.item.add", "params": {"t": "{{ steps.c.item.id }}-x"}},
        ],
    )
    assert [[c.key for c in b.commands] for b in plan.batches] == [["c", "ok"], ["bad"]]
    assert links_of(plan)["ok"] == [("$result[c][item][id]", "server")]
    assert links_of(plan)["bad"] == [("$result[c][item][id]", "client")]


def test_batches_are_full_whatever_the_graph_when_links_are_safe(tmp_path: Path) -> None:
    steps: list[dict[str, Any]] = [{"id": "c", "method": "crm.item.add"}] + [
        {
            "id": f"s{i}",
            "method": "crm.item.add",
            "params": {"x": f"{{{{ steps.s{i - 1 if i else 0}.item.id }}}}"},
        }
        for i in range(1, 7)
    ]
    steps[1]["params"] = {"x": "{{ steps.c.item.id }}"}
    plan = plan_steps(tmp_path, steps, batch_size=3)
    assert [len(b.commands) for b in plan.batches] == [3, 3, 1]
    assert [b.halt for b in plan.batches] == [True, True, False]
    resolutions = [link.resolution for c in plan.commands() for link in c.links]
    assert resolutions == ["server", "server", "client", "server", "server", "client"]


def test_ties_keep_file_order_and_dependencies_come_first(tmp_path: Path) -> None:
    plan = plan_steps(
        tmp_path,
        [
            {"id": "deal", "method": "crm.item.add", "params": {"c": "{{ steps.contact.item.id }}"}},
            {"id": "other", "method": "crm.item.add"},
            {"id": "contact", "method": "crm.item.add"},
        ],
    )
    assert [c.key for c in plan.commands()] == ["other", "contact", "deal"]


def test_a_cycle_lists_its_steps_with_their_lines(tmp_path: Path) -> None:
    path = write_pipeline(
        tmp_path,
        [
            {"id": "a", "method": "crm.item.add", "depends_on": ["b"]},
            {"id": "b", "method": "crm.item.add", "params": {"x": "{{ steps.a.item.id }}"}},
        ],
    )
    lines = Path(path).read_text().splitlines()
    a, b = (lines.index(f"- id: {name}") + 1 for name in "ab")
    with pytest.raises(PipelineError) as caught:
        plan_file(path)
    (problem,) = caught.value.problems
    assert (
        problem.message
        == f"dependency cycle (each step needs the next): a (line {a}) -> b (line {b}) -> a (line {a})"
    )
    assert problem.line == a


def test_instances_of_one_step_may_link_to_each_other(tmp_path: Path) -> None:
    plan = plan_steps(
        tmp_path,
        [
            {
                "id": "page",
                "for_each": [0, 1, 2],
                "method": "crm.item.list",
                "params": {
                    "filter": {
                        ">id": "{% if loop.first %}0{% else %}"
                        "{{ steps.page[loop.index0 - 1].items[49].id }}{% endif %}"
                    }
                },
            }
        ],
    )
    assert [c.key for c in plan.commands()] == ["page_0", "page_1", "page_2"]
    assert links_of(plan)["page_2"] == [("$result[page_1][items][49][id]", "server")]


def test_command_keys_are_readable_unique_and_never_numeric(tmp_path: Path) -> None:
    path = write_pipeline(
        tmp_path,
        [
            {
                "id": "c",
                "for_each": ["a.b", "a b", "a_b", "", "ÿ", "c_x"],
                "key": "{{ item or 'z' }}",
                "method": "m.add",
            },
            {"id": "c_a_b", "method": "m.add"},
        ],
    )
    keys = list(command_keys(load_pipeline(path)).values())
    assert keys == ["c_a_b_2", "c_a_b_3", "c_a_b_4", "c_z", "c_4", "c_c_x", "c_a_b"]
    assert all(KEY.match(key) for key in keys)
    assert keys == list(command_keys(load_pipeline(path)).values())


def test_secrets_stay_markers_and_are_listed(tmp_path: Path) -> None:
    plan = plan_steps(
        tmp_path, [{"id": "a", "method": "m.add", "params": {"t": "Bearer {{ secret('TOKEN') }}"}}]
    )
    (command,) = plan.commands()
    assert command.params == {"t": "Bearer $secret[TOKEN]"}
    assert command.secrets == ("TOKEN",)


def test_parameters_the_portal_cannot_decode_are_pipeline_problems(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, [{"id": "a", "method": "m.add", "params": {"a b": 1}}])
    with pytest.raises(PipelineError, match=r"steps\[0\]\.params: parameter name 'a b' cannot be decoded"):
        plan_file(path)


# --- properties over random pipelines --------------------------------------------------------------

METHODS = ["crm.item.add", "crm.item.list", "crm.item.update", "crm.contact.add", "tasks.task.list"]
PATHS = {
    "crm.item.add": "item.id",
    "crm.item.list": "items[0].id",
    "crm.item.update": "item.id",
    "crm.contact.add": "",
    "tasks.task.list": "tasks[0].id",
}


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int]:
    count = draw(st.integers(1, 9))
    order = draw(st.permutations(range(count)))  # order[i]: rank of step i in the DAG
    steps: list[dict[str, Any]] = []
    methods = [draw(st.sampled_from(METHODS)) for _ in range(count)]
    sizes = [draw(st.sampled_from([None, 1, 2, 4])) for _ in range(count)]
    for index in range(count):
        earlier = [j for j in range(count) if order[j] < order[index]]
        params: dict[str, Any] = {"n": index}
        for number, target in enumerate(
            draw(st.lists(st.sampled_from(earlier), max_size=3)) if earlier else []
        ):
            size = sizes[target]
            pick = "" if size is None else f"[{draw(st.integers(0, size - 1))}]"
            path = PATHS[methods[target]]
            reference = f"steps.s{target}{pick}" + (f".{path}" if path and not path.startswith("[") else path)
            shape = draw(st.sampled_from(["{{ R }}", "x {{ R }}", "{{ R }} y", "{{ R }}-y"]))
            params[f"v{number}"] = shape.replace("R", reference)
        step: dict[str, Any] = {"id": f"s{index}", "method": methods[index], "params": params}
        own_size = sizes[index]
        if own_size is not None:
            step["for_each"] = list(range(own_size))
        ordered: bool = draw(st.booleans())
        if earlier and ordered:
            step["depends_on"] = [f"s{draw(st.sampled_from(earlier))}"]
        steps.append(step)
    return steps, draw(st.integers(1, 6))


def expected_client(command_method: str, target_method: str, marker_text: str, values: list[str]) -> bool:
    """Whether any use of the marker is unsafe for the portal (computed from the text alone)."""
    path = tuple(int(p) if p.isdigit() else p for p in re.findall(r"\[([^\]]*)\]", marker_text)[1:])
    if not is_read(command_method) and not is_known_path(target_method, path):
        return True
    for value in values:
        for found in re.finditer(re.escape(marker_text), value):
            end = found.end()
            # A longer marker of the same target is another link, not text after this one.
            if end < len(value) and not value[end].isspace() and value[end] != "[":
                return True
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines())
def test_plans_obey_the_planning_laws(case: tuple[list[dict[str, Any]], int]) -> None:
    steps, batch_size = case
    with tempfile.TemporaryDirectory() as folder:
        path = write_pipeline(Path(folder), steps, batch_size)
        plan = plan_file(path)
        again = plan_file(path)
    assert plan.model_dump_json() == again.model_dump_json()
    commands = plan.commands()
    position = {c.key: i for i, c in enumerate(commands)}
    batch_of = {c.key: b.index for b in plan.batches for c in b.commands}
    method_of = {c.key: c.method for c in commands}
    assert len(position) == len(commands) == sum(len(s.get("for_each", [0])) for s in steps)
    assert all(KEY.match(key) and not key.isdigit() for key in position)
    assert [b.index for b in plan.batches] == list(range(len(plan.batches)))
    assert all(1 <= len(b.commands) <= batch_size for b in plan.batches)
    strict = 0
    for batch in plan.batches:
        in_batch = False
        for command in batch.commands:
            for dependency in command.depends_on:
                assert position[dependency] < position[command.key]
                in_batch = in_batch or batch_of[dependency] == batch.index
            assert {link.target for link in command.links} <= set(command.depends_on)
            for link in command.links:
                values = _strings(command.params)
                must_be_client = expected_client(command.method, method_of[link.target], link.marker, values)
                strict += must_be_client
                if link.resolution == "server":
                    assert not must_be_client
                    assert batch_of[link.target] == batch.index
                    assert position[link.target] < position[command.key]
                else:
                    assert batch_of[link.target] < batch.index
                    assert must_be_client or batch_of[link.target] < batch.index
        assert batch.halt == in_batch
    if strict == 0:
        assert len(plan.batches) == math.ceil(len(commands) / batch_size)
    assert len(plan.batches) >= math.ceil(len(commands) / batch_size)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for child in value.values() for s in _strings(child)]
    if isinstance(value, list):
        return [s for child in value for s in _strings(child)]
    return []


@pytest.mark.parametrize(
    "case", sorted((ROOT / "tests/cases/valid").glob("*.yaml")) + sorted((ROOT / "pipelines").glob("*.yaml"))
)
def test_plans_are_valid_plan_values(case: Path) -> None:
    """The planner builds commands without re-validating them: the result must still validate."""
    plan = plan_file(str(case), environ={"SHOP_DB": "sqlite:///data/shop.db"})  # customers-from-sqlite
    assert Plan.model_validate_json(plan.model_dump_json()) == plan
    assert Plan.model_validate(plan.model_dump()) == plan


def test_depends_on_between_huge_for_each_steps_is_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("n\n" + "\n".join(str(i) for i in range(1500)) + "\n")
    path = write_pipeline(
        tmp_path,
        [
            {"id": "contact", "for_each": {"file": "rows.csv"}, "method": "crm.item.add"},
            {
                "id": "deal",
                "for_each": {"file": "rows.csv"},
                "method": "crm.item.add",
                "depends_on": ["contact"],
            },
        ],
    )
    with pytest.raises(PipelineError) as caught:
        plan_file(path)
    (problem,) = caught.value.problems
    assert problem.location == "steps[1].depends_on"
    assert "2250000 dependencies" in problem.message


def test_each_client_link_gives_its_own_reason(tmp_path: Path) -> None:
    plan = plan_steps(
        tmp_path,
        [
            {"id": "c", "method": "crm.item.add"},
            {"id": "e", "method": "crm.item.add"},
            {
                "id": "d",
                "method": "crm.item.add",
                "params": {
                    "a": "{{ steps.c.item.id }}",
                    "b": "{{ steps.c.item.title }}",
                    "t": "{{ steps.c.item.id }}-x",
                    "e": "{{ steps.e.item.id }}",
                },
            },
        ],
    )
    reasons = {link.marker: link.reason for link in plan.batches[1].commands[0].links}
    assert reasons["$result[e][item][id]"] == "the target runs in an earlier batch"
    assert reasons["$result[c][item][id]"].startswith("text follows the link")
    assert reasons["$result[c][item][title]"].startswith(
        "item.title may be missing from the result of crm.item.add"
    )


def test_an_encoding_problem_of_every_instance_is_reported_once(tmp_path: Path) -> None:
    path = write_pipeline(
        tmp_path, [{"id": "a", "for_each": [1, 2, 3], "method": "m.add", "params": {"a b": 1}}]
    )
    with pytest.raises(PipelineError) as caught:
        plan_file(path)
    assert len(caught.value.problems) == 1
