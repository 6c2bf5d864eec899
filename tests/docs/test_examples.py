"""Every shipped example in ``pipelines/`` validates, plans and applies on the emulator, creating what it says.

Each file runs through the command line as a user would (``validate``, ``plan``, ``apply --emulator``);
the emulator's state is kept in a file so the test can read back what the run created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.client import B24Hook
from b24sync.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "pipelines").glob("*.yaml"))
COMPANY, CONTACT, DEAL, LEAD = 4, 3, 2, 1


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    # customers-from-sqlite reads the database this variable names (relative to the pipeline file)
    monkeypatch.setenv("SHOP_DB", "sqlite:///data/shop.db")


class Portal:
    """Read-only view of an emulator state file through the client, as a user's script would see it."""

    def __init__(self, state: Path) -> None:
        emulator = Emulator(state_path=state)
        self.hook = B24Hook(emulator.webhook_url, session=emulator.mount(requests.Session()), rate_limit=None)

    def items(self, entity_type_id: int) -> list[dict[str, Any]]:
        result = self.hook.call_fast_list_method(
            "crm.item.list", {"entityTypeId": entity_type_id}, id_key="id", items_key="items"
        )
        assert result.is_success, result.get_error_messages()
        rows: list[dict[str, Any]] = result.get_data()
        return rows

    def call(self, method: str, params: dict[str, Any]) -> Any:
        answer = self.hook.call_method(method, params)
        assert answer.is_success, answer.get_error_messages()
        return answer.get_data()


def _portal_state(example: Path, tmp_path: Path) -> Path:
    """The emulator state an example runs on: a copy of the one beside its golden plans (a portal
    with a smart process, say), else none yet."""
    state = tmp_path / "state.json"
    given = ROOT / "tests" / "cases" / "pipelines" / f"{example.stem}.state.json"
    if given.exists() and not state.exists():
        state.write_bytes(given.read_bytes())
    return state


def _apply(example: Path, tmp_path: Path, *, after_others: bool = False) -> tuple[dict[str, Any], Portal]:
    state, report = _portal_state(example, tmp_path), tmp_path / "report.json"
    for before in BEFORE.get(example.stem, ()) if after_others else ():
        _apply(ROOT / "pipelines" / f"{before}.yaml", tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "apply",
            str(example.relative_to(ROOT)),
            "--emulator",
            "--emulator-state",
            str(state),
            "--report",
            str(report),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(report.read_text(encoding="utf-8")), Portal(state)


def test_the_examples_are_the_ones_the_docs_name() -> None:
    names = {path.stem for path in EXAMPLES}
    assert {
        "quickstart",
        "deal-with-tasks",
        "contacts-from-csv",
        "onboard-acme",
        "shop-orders",
        "sync-contacts",
    } <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_says_what_it_shows(example: Path) -> None:
    header = example.read_text(encoding="utf-8").splitlines()[:2]
    assert any(line.startswith("# ") and len(line) > 20 for line in header), "start with a comment header"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_validates_plans_and_applies(example: Path, tmp_path: Path) -> None:
    relative = str(example.relative_to(ROOT))
    validated = CliRunner().invoke(main, ["validate", relative])
    assert validated.exit_code == 0, validated.stderr
    # --emulator: upsert examples compare with a portal (a fresh one: everything is created)
    state = _portal_state(example, tmp_path)
    with_state = ["--emulator-state", str(state)] if state.exists() else []
    planned = CliRunner().invoke(main, ["plan", relative, "--format", "json", "--emulator", *with_state])
    assert planned.exit_code == 0, planned.stderr
    commands = sum(len(batch["commands"]) for batch in json.loads(planned.stdout)["batches"])
    report, _ = _apply(example, tmp_path)
    assert report["status"] == "succeeded"
    assert report["totals"]["succeeded"] == commands == len(report["steps"])
    assert report["totals"]["requests"] == len(report["batches"])


def _quickstart(portal: Portal) -> None:
    [company] = portal.items(COMPANY)
    contacts = portal.items(CONTACT)
    [deal] = portal.items(DEAL)
    assert company["title"] == "Acme Ltd"
    assert sorted(c["name"] for c in contacts) == ["Ann Lee", "Bob Stone"]
    assert {c["companyId"] for c in contacts} == {company["id"]}
    ann = next(c for c in contacts if c["name"] == "Ann Lee")
    assert (deal["title"], deal["companyId"], deal["contactId"]) == ("First order", company["id"], ann["id"])


def _deal_with_tasks(portal: Portal) -> None:
    [deal] = portal.items(DEAL)
    assert deal["title"] == "Website redesign"
    tasks = portal.call("tasks.task.list", {"select": ["ID", "TITLE", "UF_CRM_TASK"]})["tasks"]
    assert sorted(t["title"] for t in tasks) == ["Agree on the brief", "Launch the site", "Send the mock-ups"]
    assert all(t["ufCrmTask"] == [f"D_{deal['id']}"] for t in tasks)


def _contacts_from_csv(portal: Portal) -> None:
    companies = {c["title"]: c["id"] for c in portal.items(COMPANY)}
    assert set(companies) == {"Acme Ltd", "Globex"}
    contacts = {c["name"]: c for c in portal.items(CONTACT)}
    assert set(contacts) == {"Ann", "Bob", "Dee"}  # Cy has no e-mail: dropped by `when`
    assert [contacts[n]["companyId"] for n in ("Ann", "Bob", "Dee")] == [
        companies["Acme Ltd"],
        companies["Acme Ltd"],
        companies["Globex"],
    ]
    emails = portal.call("crm.duplicate.findbycomm", {"type": "EMAIL", "values": ["dee@globex.example"]})
    assert emails == {"CONTACT": [contacts["Dee"]["id"]]}


def _onboard_acme(portal: Portal) -> None:
    [company] = portal.items(COMPANY)
    contacts = portal.items(CONTACT)
    deals = portal.items(DEAL)
    assert company["title"] == "Acme"
    assert sorted(c["name"] for c in contacts) == ["Ann Lee", "Bob Stone"]
    assert sorted(d["contactId"] for d in deals) == sorted(c["id"] for c in contacts)


def _shop_orders(portal: Portal) -> None:
    contacts = portal.items(CONTACT)
    deals = portal.items(DEAL)
    assert sorted(c["originId"] for c in contacts) == ["c-17", "c-18"]
    assert sorted(d["title"] for d in deals) == ["Order A-1001", "Order A-1002"]
    assert sorted(d["contactId"] for d in deals) == sorted(c["id"] for c in contacts)


# One check per shipped example of what it leaves in the portal; a new example adds its own here.
def _sync_contacts(portal: Portal) -> None:
    contacts = {c["originId"]: c for c in portal.items(CONTACT)}
    assert {k: (c["name"], c["originatorId"]) for k, c in contacts.items()} == {
        "1001": ("Ann", "shop"),
        "1002": ("Bob", "shop"),
        "1003": ("Dee", "shop"),
    }
    deals = {d["originId"]: d for d in portal.items(DEAL)}
    assert {k: (d["contactId"], d["opportunity"]) for k, d in deals.items()} == {
        "order-1001": (contacts["1001"]["id"], 1200.5),
        "order-1002": (contacts["1002"]["id"], 99),
        "order-1003": (contacts["1003"]["id"], 450),
    }


def _smart_process_orders(portal: Portal) -> None:
    orders = {o["xmlId"]: o for o in portal.items(1038)}
    assert {k: o["title"] for k, o in orders.items()} == {
        "shop-A-1001": "Order A-1001",
        "shop-A-1002": "Order A-1002",
    }
    rows = portal.call(
        "crm.item.productrow.list",
        {"filter": {"=ownerType": "T40e", "=ownerId": orders["shop-A-1002"]["id"]}},
    )["productRows"]
    assert [(r["productName"], r["price"], r["quantity"]) for r in rows] == [("Milk frother", 59.9, 2)]
    assert orders["shop-A-1002"]["opportunity"] == 119.8


def _orders_from_excel(portal: Portal) -> None:
    deals = {d["title"]: d for d in portal.items(DEAL)}
    assert sorted(deals) == [
        "Order A-1001 for Acme Ltd",
        "Order A-1002 for Globex",
        "Order A-1004 for Umbrella",
    ]
    first = deals["Order A-1001 for Acme Ltd"]
    assert (first["opportunity"], first["closedate"][:10]) == (1200.5, "2024-05-01")


def _clients_from_russian_csv(portal: Portal) -> None:
    contacts = {(c["name"], c["lastName"]): c["comments"] for c in portal.items(CONTACT)}
    assert contacts == {
        ("Анна", "Петрова"): "Москва",
        ("Борис", "Иванов"): "Санкт-Петербург",
        ("Ёлка", "Сидорова"): "Казань; центр",
    }


def _customers_from_sqlite(portal: Portal) -> None:
    contacts = {c["originId"]: (c["name"], c["lastName"], c["originatorId"]) for c in portal.items(CONTACT)}
    assert contacts == {
        "1": ("Ann", "Lee", "shop-db"),
        "2": ("Bob", "Stone", "shop-db"),
        "4": ("Dee", "Park", "shop-db"),
    }


def _advance_new_deals(portal: Portal) -> None:
    [deal] = portal.items(DEAL)  # made by quickstart, applied first
    assert (deal["title"], deal["stageId"], deal["comments"]) == (
        "First order",
        "PREPARATION",
        "Moved from NEW by b24sync",
    )


def _assign_by_email(portal: Portal) -> None:
    users = {u["EMAIL"]: int(u["ID"]) for u in portal.call("user.get", {})}
    leads = {lead["title"]: lead["assignedById"] for lead in portal.items(LEAD)}
    assert leads == {
        "Acme Ltd": users["anna@example.com"],
        "Globex": users["boris@example.com"],
        "Initech": users["anna@example.com"],
    }


# Examples that act on what another example made: those are applied first, on the same portal.
BEFORE: dict[str, tuple[str, ...]] = {"advance-new-deals": ("quickstart",)}

CREATED: dict[str, Callable[[Portal], None]] = {
    "orders-from-excel": _orders_from_excel,
    "clients-from-russian-csv": _clients_from_russian_csv,
    "customers-from-sqlite": _customers_from_sqlite,
    "advance-new-deals": _advance_new_deals,
    "assign-by-email": _assign_by_email,
    "smart-process-orders": _smart_process_orders,
    "sync-contacts": _sync_contacts,
    "quickstart": _quickstart,
    "deal-with-tasks": _deal_with_tasks,
    "contacts-from-csv": _contacts_from_csv,
    "onboard-acme": _onboard_acme,
    "shop-orders": _shop_orders,
}


@pytest.mark.parametrize("name", sorted(CREATED))
def test_example_creates_what_it_says(name: str, tmp_path: Path) -> None:
    _, portal = _apply(ROOT / "pipelines" / f"{name}.yaml", tmp_path, after_others=True)
    CREATED[name](portal)


def test_every_example_has_a_check_of_what_it_creates() -> None:
    assert sorted(path.stem for path in EXAMPLES) == sorted(CREATED)
