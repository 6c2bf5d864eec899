"""The smart-process example: orders upserted by xmlId with their product rows, run twice."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from b24sync.cli import main
from b24sync.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pipelines" / "smart-process-orders.yaml"
STATE = ROOT / "tests" / "cases" / "pipelines" / "smart-process-orders.state.json"
ORDERS = 1038


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--webhook", url], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_orders_become_items_with_their_rows_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "portal.json"
    shutil.copy(STATE, state)
    emu = Emulator(state_path=state)
    with emu.serve() as url:
        code, out, err = run(url, "apply", str(EXAMPLE), "--report", str(tmp_path / "r1.json"))
        assert code == 0, out + err
        items = {item["xmlId"]: item for item in emu.store.items(ORDERS)}
        assert sorted(items) == ["shop-A-1001", "shop-A-1002"]
        first = items["shop-A-1001"]
        assert first["title"] == "Order A-1001" and first["stageId"] == "DT1038_1:NEW"
        rows = emu.store.extras.product_rows[f"{ORDERS}:{first['id']}"]
        assert [(r["productName"], r["price"], r["quantity"]) for r in rows] == [
            ("Espresso machine", 349.0, 1.0),
            ("Coffee beans 1 kg", 18.5, 4.0),
        ]
        # the amount follows the rows: it is not entered by hand
        assert first["opportunity"] == 349.0 + 4 * 18.5
        before = dict(emu.stats()["by_method"])
        code, _, _ = run(url, "apply", str(EXAMPLE), "--report", str(tmp_path / "r2.json"))
        assert code == 0
        sent = {m: n - before.get(m, 0) for m, n in emu.stats()["by_method"].items() if n != before.get(m, 0)}
        # no item is created or updated again; only the two row sets, which replace rows alike
        assert "crm.item.add" not in sent and "crm.item.update" not in sent
        assert sent["crm.item.productrow.set"] == 2
        assert len(emu.store.items(ORDERS)) == 2
        assert (
            emu.store.extras.product_rows[f"{ORDERS}:{first['id']}"][0]["productName"] == "Espresso machine"
        )


def test_the_example_is_refused_where_the_smart_process_does_not_exist() -> None:
    emu = Emulator()
    with emu.serve() as url:
        code, _, err = run(url, "plan", str(EXAMPLE))
    assert code == 2
    assert "steps[0].upsert.entityTypeId: the portal has no entity type 1038" in err
