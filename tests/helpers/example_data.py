"""Makes the binary data files of the shipped examples: ``python -m tests.helpers.example_data``.

- ``pipelines/data/orders.xlsx``: a workbook whose second sheet, Orders, holds typed cells;
- ``pipelines/data/clients-cp1251.csv``: a CSV as Excel saves it in Russia (Windows-1251, ``;``);
- ``pipelines/data/shop.db``: a SQLite database of shop customers.

tests/docs/test_example_data.py checks that the committed files hold what this script writes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
from pathlib import Path

from tests.helpers.xlsx import Cell, write_xlsx

DATA = Path(__file__).resolve().parents[2] / "pipelines" / "data"

ORDERS: list[list[Cell]] = [
    ["order", "customer", "amount", "due", "paid"],
    ["A-1001", "Acme Ltd", 1200.5, dt.date(2024, 5, 1), True],
    ["A-1002", "Globex", 99, dt.date(2024, 5, 15), False],
    ["A-1003", "Initech", 0, dt.date(2024, 6, 1), False],
    ["A-1004", "Umbrella", 450, dt.date(2024, 6, 30), True],
]

CLIENTS = [
    ["Имя", "Фамилия", "Город", "Телефон"],
    ["Анна", "Петрова", "Москва", "+7 495 000-00-01"],
    ["Борис", "Иванов", "Санкт-Петербург", "+7 812 000-00-02"],
    ["Ёлка", "Сидорова", "Казань; центр", "+7 843 000-00-03"],
]

CUSTOMERS = [
    (1, "Ann", "Lee", "ann@shop.example", 1),
    (2, "Bob", "Stone", "bob@shop.example", 1),
    (3, "Cy", "Old", "cy@shop.example", 0),
    (4, "Dee", "Park", "dee@shop.example", 1),
]


def clients_csv() -> bytes:
    """The CSV as Excel writes it: every field quoted only when it holds the delimiter, CRLF lines."""
    lines = []
    for row in CLIENTS:
        lines.append(";".join(f'"{cell}"' if ";" in cell else cell for cell in row))
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


def write_all(folder: Path = DATA) -> list[Path]:
    """Write every file into ``folder``; the paths written."""
    orders = folder / "orders.xlsx"
    write_xlsx(
        orders, {"Notes": [["Exported from the shop for the orders-from-excel example"]], "Orders": ORDERS}
    )
    clients = folder / "clients-cp1251.csv"
    clients.write_bytes(clients_csv())
    shop = folder / "shop.db"
    shop.unlink(missing_ok=True)
    with sqlite3.connect(shop) as db:
        db.execute(
            "create table customers (id integer primary key, first_name text, last_name text, "
            "email text, active integer)"
        )
        db.executemany("insert into customers values (?, ?, ?, ?, ?)", CUSTOMERS)
    db.close()
    return [orders, clients, shop]


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA):
        print(path)
