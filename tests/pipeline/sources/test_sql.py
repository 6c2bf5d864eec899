from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from b24sync.pipeline.sources import SourceError
from b24sync.pipeline.sources.sql import FETCH_ROWS
from tests.helpers import postgres
from tests.helpers.sources import read_source


def sqlite_db(path: Path, rows: int = 3) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("create table customers (id integer primary key, email text, amount real, joined text)")
        db.executemany(
            "insert into customers values (?, ?, ?, ?)",
            [(i, f"c{i}@example.com", i * 1.5, "2024-04-19") for i in range(1, rows + 1)],
        )
    return path


def test_sqlite_rows_are_mappings_of_the_columns(tmp_path: Path) -> None:
    sqlite_db(tmp_path / "shop.db")
    spec = {
        "sql": {
            "url_env": "DB",
            "query": "select id, email, amount from customers where id < :top order by id",
            "params": {"top": 3},
        }
    }
    read = read_source(spec, folder=str(tmp_path), environ={"DB": "sqlite:///shop.db"})
    assert read.values == [
        {"id": 1, "email": "c1@example.com", "amount": 1.5},
        {"id": 2, "email": "c2@example.com", "amount": 3.0},
    ]
    assert [row.origin for row in read.rows] == ["sql row 1", "sql row 2"]
    assert (read.summary.kind, read.summary.name, read.summary.details) == (
        "sql",
        "the database in DB",
        ("sqlite",),
    )
    assert len(read.summary.sha256) == 64


def test_a_relative_sqlite_path_is_relative_to_the_pipeline_file_and_must_exist(tmp_path: Path) -> None:
    spec = {"sql": {"url_env": "DB", "query": "select 1"}}
    with pytest.raises(SourceError, match="the SQLite database that DB names does not exist") as caught:
        read_source(spec, folder=str(tmp_path), environ={"DB": "sqlite:///missing.db"})
    assert caught.value.key == ("sql", "url_env")
    assert not (tmp_path / "missing.db").exists()  # sqlite did not create an empty one


def test_the_url_comes_only_from_the_named_variable(tmp_path: Path) -> None:
    spec = {"sql": {"url_env": "SHOP_DB", "query": "select 1"}}
    with pytest.raises(SourceError, match="environment variable SHOP_DB is not set"):
        read_source(spec, environ={})
    with pytest.raises(SourceError, match="does not hold a database URL") as caught:
        read_source(spec, environ={"SHOP_DB": "not a url with s3cr3t"})
    assert "s3cr3t" not in str(caught.value)


def test_query_errors_name_the_query_key(tmp_path: Path) -> None:
    sqlite_db(tmp_path / "shop.db")
    environ = {"DB": f"sqlite:///{tmp_path}/shop.db"}
    with pytest.raises(SourceError, match="the query failed: no such table: customer") as caught:
        read_source({"sql": {"url_env": "DB", "query": "select * from customer"}}, environ=environ)
    assert caught.value.key == ("sql", "query")
    with pytest.raises(SourceError, match="more than one column named 'id'"):
        read_source({"sql": {"url_env": "DB", "query": "select id, id from customers"}}, environ=environ)


def test_the_query_never_changes_the_database(tmp_path: Path) -> None:
    sqlite_db(tmp_path / "shop.db")
    environ = {"DB": f"sqlite:///{tmp_path}/shop.db"}
    with pytest.raises(SourceError, match="returns no rows"):
        read_source({"sql": {"url_env": "DB", "query": "delete from customers"}}, environ=environ)
    with sqlite3.connect(tmp_path / "shop.db") as db:
        assert db.execute("select count(*) from customers").fetchone() == (3,)


def test_rows_stream_from_the_cursor(tmp_path: Path) -> None:
    sqlite_db(tmp_path / "shop.db", rows=FETCH_ROWS * 3)
    from b24sync.pipeline.models import SqlSource
    from b24sync.pipeline.sources import SourceContext, open_source

    spec = SqlSource.model_validate(
        {"sql": {"url_env": "DB", "query": "select id from customers order by id"}}
    )
    source = open_source(spec, SourceContext("loc", "", {"DB": f"sqlite:///{tmp_path}/shop.db"}))
    rows = source.rows()
    assert next(rows).value == {"id": 1}  # the first row comes before the last one is fetched
    assert sum(1 for _ in rows) == FETCH_ROWS * 3 - 1
    assert source.summary().rows == FETCH_ROWS * 3


# -- a real PostgreSQL server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = postgres.why_unavailable()
    if reason is not None:
        pytest.skip(f"no PostgreSQL server for the SQL source tests: {reason}")
    with postgres.postgres_server() as url:
        postgres.execute(
            url,
            "create table customers (id serial primary key, email text, amount numeric(10,2), "
            "joined date, active boolean, tags text[])",
            "insert into customers (email, amount, joined, active, tags) select "
            "'c' || g || '@example.com', g * 1.25, date '2024-04-19', g % 2 = 0, array['a', 'b'] "
            "from generate_series(1, 2500) g",
        )
        yield url


def test_postgresql_rows_keep_their_types(pg_url: str) -> None:
    spec = {
        "sql": {
            "url_env": "DATABASE_URL",
            "query": "select id, email, amount, joined, active, tags from customers where id <= 2 order by id",
        }
    }
    read = read_source(spec, environ={"DATABASE_URL": pg_url})
    assert read.values == [
        {
            "id": 1,
            "email": "c1@example.com",
            "amount": 1.25,
            "joined": "2024-04-19",
            "active": False,
            "tags": ["a", "b"],
        },
        {
            "id": 2,
            "email": "c2@example.com",
            "amount": 2.5,
            "joined": "2024-04-19",
            "active": True,
            "tags": ["a", "b"],
        },
    ]
    assert read.summary.details == ("postgresql",)


def test_postgresql_streams_every_row(pg_url: str) -> None:
    read = read_source(
        {"sql": {"url_env": "DATABASE_URL", "query": "select id from customers order by id"}},
        environ={"DATABASE_URL": pg_url},
    )
    assert [v["id"] for v in read.values] == list(range(1, 2501))


def test_postgresql_errors_never_show_the_url_or_its_password(pg_url: str) -> None:
    wrong = pg_url.replace("b24sync@", "b24sync:hunter2secret@").rsplit(":", 1)[0] + ":1/postgres"
    with pytest.raises(SourceError) as caught:
        read_source(
            {"sql": {"url_env": "DATABASE_URL", "query": "select 1"}}, environ={"DATABASE_URL": wrong}
        )
    message = str(caught.value)
    assert message.startswith("cannot connect to the database in DATABASE_URL: ")
    assert "hunter2secret" not in message and wrong not in message
    with pytest.raises(SourceError, match=r'the query failed: .*relation "nope" does not exist'):
        read_source(
            {"sql": {"url_env": "DATABASE_URL", "query": "select * from nope"}},
            environ={"DATABASE_URL": pg_url},
        )


def test_a_missing_extra_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(SourceError) as caught:
        read_source({"sql": {"url_env": "DB", "query": "select 1"}}, environ={"DB": "sqlite://"})
    assert str(caught.value) == "SQL sources need SQLAlchemy: pip install 'b24sync[sql]'"


def test_a_missing_driver_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(
        SourceError, match=r"needs a driver that is not installed .*install psycopg"
    ) as caught:
        read_source(
            {"sql": {"url_env": "DB", "query": "select 1"}},
            environ={"DB": "postgresql://u:pw1234@localhost/db"},
        )
    assert "pw1234" not in str(caught.value)
