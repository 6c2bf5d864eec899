"""SQL queries through SQLAlchemy (the extra ``b24sync[sql]``), rows streamed from a server-side cursor.

The database URL is read from the environment variable the pipeline names and is never shown: not
in a plan, a report or a message (errors from the driver are cut to their first line and stripped of
the URL and its password). A relative SQLite path is relative to the pipeline file, like data files.
The query runs in a transaction that is rolled back, so a source never changes the database.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

from b24sync.errors import Problem
from b24sync.pipeline.models import SqlQuery
from b24sync.pipeline.sources.base import RowDigest, SourceContext, SourceError, SourceRead, SourceRow

INSTALL_HINT = "SQL sources need SQLAlchemy: pip install 'b24sync[sql]'"
# Rows fetched from the server per round trip; the cursor holds no more than this at a time.
FETCH_ROWS = 1000
_DRIVERS = {
    "postgresql": "psycopg (pip install 'psycopg[binary]')",
    "mysql": "PyMySQL (pip install pymysql)",
    "mssql": "pyodbc (pip install pyodbc)",
    "oracle": "oracledb (pip install oracledb)",
}


def sql_value(value: Any) -> Any:
    """A column value as pipeline data: decimals as numbers, dates and times as ISO text."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class SqlRows:
    """The rows of one query: a mapping of column names to values per row."""

    def __init__(self, spec: SqlQuery, context: SourceContext) -> None:
        self.spec = spec
        self.context = context
        self.location = context.where
        self.problems: list[Problem] = []
        self._count = 0
        self._digest = RowDigest()
        self._dialect = ""
        self._secrets: list[str] = []

    def _hide(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _engine(self) -> Any:
        try:
            import sqlalchemy
            from sqlalchemy.engine import make_url
        except ImportError:
            raise SourceError(INSTALL_HINT, ("sql",)) from None
        name = self.spec.url_env
        raw = self.context.environ.get(name)
        if not raw:
            raise SourceError(
                f"environment variable {name} is not set: it must hold the database URL "
                "(for example postgresql://user@host/db or sqlite:///shop.db)",
                ("sql", "url_env"),
            )
        self._secrets = [raw]
        try:
            url = make_url(raw)
        except Exception:  # the text itself must not be shown: it may hold a password
            raise SourceError(
                f"environment variable {name} does not hold a database URL "
                "(expected for example postgresql://user@host/db or sqlite:///shop.db)",
                ("sql", "url_env"),
            ) from None
        if url.password:
            password = str(url.password)
            self._secrets += [password, quote(password, safe=""), quote_plus(password)]
        self._dialect = url.get_backend_name()
        if self._dialect == "sqlite":
            url = self._sqlite(url, name)
        try:
            return sqlalchemy.create_engine(url)
        except ImportError as error:
            driver = _DRIVERS.get(self._dialect, "its driver")
            raise SourceError(
                f"the database in {name} needs a driver that is not installed ({error}): install {driver}",
                ("sql", "url_env"),
            ) from None
        except Exception as error:  # NoSuchModuleError for an unknown dialect, ArgumentError, ...
            raise SourceError(
                f"cannot use the database in {name}: {self._first_line(error)}", ("sql", "url_env")
            ) from None

    def _sqlite(self, url: Any, name: str) -> Any:
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return url
        if not os.path.isabs(database):
            database = os.path.join(self.context.folder, database) if self.context.folder else database
            url = url.set(database=database)
        if not os.path.isfile(database):
            # sqlite would create an empty database and the query would find no table.
            raise SourceError(
                f"the SQLite database that {name} names does not exist "
                "(a relative path is relative to the pipeline file)",
                ("sql", "url_env"),
            )
        return url

    def _first_line(self, error: BaseException) -> str:
        original = getattr(error, "orig", None) or error
        text = str(original).strip().splitlines()
        return self._hide(text[0] if text else type(original).__name__)

    def rows(self) -> Iterator[SourceRow]:
        """Every row of the query, fetched ``FETCH_ROWS`` at a time."""
        engine = self._engine()  # first: it turns a missing SQLAlchemy into the install hint
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        name = self.spec.url_env
        try:
            try:
                connection = engine.connect()
            except SQLAlchemyError as error:
                raise SourceError(
                    f"cannot connect to the database in {name}: {self._first_line(error)}",
                    ("sql", "url_env"),
                ) from None
            with connection:
                streaming = connection.execution_options(stream_results=True, yield_per=FETCH_ROWS)
                try:
                    result = streaming.execute(text(self.spec.query), dict(self.context.params))
                except SQLAlchemyError as error:
                    raise SourceError(
                        f"the query failed: {self._first_line(error)}", ("sql", "query")
                    ) from None
                if not result.returns_rows:
                    raise SourceError("the query returns no rows: use a SELECT", ("sql", "query"))
                keys = list(map(str, result.keys()))
                repeated = sorted({key for key in keys if keys.count(key) > 1})
                if repeated:
                    raise SourceError(
                        f"the query returns more than one column named {repeated[0]!r}: name them apart "
                        "with AS",
                        ("sql", "query"),
                    )
                try:
                    yield from self._rows(result, keys)
                except SQLAlchemyError as error:
                    raise SourceError(
                        f"reading the query's rows failed: {self._first_line(error)}", ("sql", "query")
                    ) from None
                connection.rollback()
        finally:
            engine.dispose()

    def _rows(self, result: Any, keys: list[str]) -> Iterator[SourceRow]:
        for number, record in enumerate(result, start=1):
            value: dict[str, Any] = {}
            for key, column in zip(keys, record, strict=True):
                if isinstance(column, (bytes, bytearray, memoryview)):
                    raise SourceError(
                        f"column {key!r} of row {number} holds binary data, which cannot be sent: "
                        "cast it to text in the query",
                        ("sql", "query"),
                    )
                value[key] = sql_value(column)
            self._count += 1
            self._digest.add(value)
            yield SourceRow(value, f"sql row {number}")

    def summary(self) -> SourceRead:
        """Rows read, and the kind of database (never its URL)."""
        return SourceRead(
            self.location,
            "sql",
            name_of(self.spec),
            self._count,
            (self._dialect,) if self._dialect else (),
            sha256=self._digest.hexdigest(),
        )


def name_of(spec: SqlQuery) -> str:
    """How the source is named in plans and messages: by its variable, never by its URL."""
    return f"the database in {spec.url_env}"
