"""The portal as a source: a list method read when planning, through the client.

Methods whose id filter and order work with ``start=-1`` (``bitrix.results.KEYSET_ID_KEYS``) are
read by the client's keyset walk, 50 pages chained per request (protocol §8.3, §8.5); other list
methods page by ``start``, the first page alone and then up to 50 pages per request (protocol §8.4),
ordered by id where b24sync knows how and with rows seen twice dropped. A row is one element of the
list the method returns: for ``crm.item.list`` an element of ``items``, for ``user.get`` a user.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from b24sync.bitrix.limits import MAX_BATCH, PAGE_SIZE
from b24sync.bitrix.methods import NOT_IN_BATCH, is_read
from b24sync.bitrix.results import KEYSET_ID_KEYS, OFFSET_ORDER, items_key
from b24sync.client.encoding import encode_command
from b24sync.client.listing import KeysetWalk
from b24sync.errors import ListPageError, Problem, UsageError
from b24sync.pipeline.models import PortalQuery
from b24sync.pipeline.sources.base import RowDigest, SourceContext, SourceError, SourceRead, SourceRow


def check_query(spec: PortalQuery) -> None:
    """What can be told without the portal: the method must be a list method that only reads."""
    name = spec.method.lower()
    if name in NOT_IN_BATCH or not is_read(name):
        raise SourceError(
            f"a portal source only reads: {spec.method!r} is not a list method such as crm.item.list",
            ("portal", "method"),
        )


def page_rows(method: str, result: Any) -> list[Any]:
    """The rows of one page: the list itself, or the one list an object holds (``items``, ``tasks``)."""
    if result is None or result == [] or result == {}:
        return []
    if isinstance(result, list):
        return result
    if isinstance(result, Mapping):
        key = items_key(method)
        if key is not None and isinstance(result.get(key), list):
            return list(result[key])
        lists = [value for value in result.values() if isinstance(value, list)]
        if len(result) == 1 and len(lists) == 1:
            return list(lists[0])
    raise SourceError(f"{method} does not answer with a list of rows", ("portal", "method"))


class PortalRows:
    """The rows of one list method, read page by page as they are iterated."""

    def __init__(self, spec: PortalQuery, context: SourceContext) -> None:
        check_query(spec)
        self.spec = spec
        self.context = context
        self.location = context.where
        self.problems: list[Problem] = []
        self._rows: list[Any] = []
        self._digest = RowDigest()
        self._requests = 0

    def rows(self) -> Iterator[SourceRow]:
        """Every row, in the order the portal gave them."""
        if self.context.portal is None:
            raise SourceError(
                "a portal source needs a portal: plan with --webhook or --emulator", ("portal",)
            )
        client = self.context.portal()
        method = self.spec.method
        pages = self._keyset(client) if method.lower() in KEYSET_ID_KEYS else self._offset(client)
        try:
            for page in pages:
                for row in page:
                    self._rows.append(row)
                    self._digest.add(row)
                    yield SourceRow(row, f"{method} row {len(self._rows)}")
        except ListPageError as error:
            # A command of the walk was refused: the query is at fault (a refused request, an
            # unreachable portal or bad credentials stay a PortalError for the caller).
            refusal = f"{error.code}: {error.description}" if error.description else error.code
            raise SourceError(f"the portal refused {method}: {refusal}", ("portal",)) from None
        except UsageError as error:
            raise SourceError(str(error), ("portal",)) from None

    def _send(self, client: Any, commands: dict[str, str]) -> Any:
        self._requests += 1
        return client.send_batch(
            commands, halt=True, methods=dict.fromkeys(commands, self.spec.method), safe=True
        )

    def _keyset(self, client: Any) -> Iterator[list[Any]]:
        method = self.spec.method
        # A source is read once, before planning, and is usually long: a full chain of 50 pages from
        # the first request reads up to 2,500 rows in one round trip (protocol §8.5).
        walk = KeysetWalk(
            method, self.spec_params(), KEYSET_ID_KEYS[method.lower()], None, self.spec.limit, MAX_BATCH
        )
        while (commands := walk.next_commands()) is not None:
            yield from walk.read(*_maps(self._send(client, commands)))

    def _offset(self, client: Any) -> Iterator[list[Any]]:
        method = self.spec.method
        base = self.spec_params()
        names = {str(key).lower() for key in base}
        for key, value in OFFSET_ORDER.get(method.lower(), {}).items():
            if key not in names:
                base[key] = value
        remaining = self.spec.limit
        seen: set[Any] = set()
        starts: list[int] = [0]
        total: int | None = None
        while starts and remaining != 0:
            chunk, starts = starts[:MAX_BATCH], starts[MAX_BATCH:]
            commands = {
                f"p{i}": encode_command(method, {**base, "start": start}) for i, start in enumerate(chunk)
            }
            reply = self._send(client, commands)
            for key in commands:
                if key in reply.errors:
                    raise ListPageError(key, reply.errors[key].code, reply.errors[key].description)
                rows = [row for row in page_rows(method, reply.results.get(key)) if self._new(row, seen)]
                if remaining is not None:
                    rows, remaining = rows[:remaining], remaining - len(rows[:remaining])
                if rows:
                    yield rows
            if total is None:
                total = _as_int(reply.totals.get("p0"))
                if total is not None and "p0" in reply.nexts:
                    starts = list(range(PAGE_SIZE, total, PAGE_SIZE))

    @staticmethod
    def _new(row: Any, seen: set[Any]) -> bool:
        if not isinstance(row, Mapping):
            return True
        row_id = row.get("ID", row.get("id"))
        if row_id is None:
            return True
        if row_id in seen:
            return False  # rows shift between pages while the data changes (protocol §8.4)
        seen.add(row_id)
        return True

    def spec_params(self) -> dict[str, Any]:
        """The method's parameters as rendered by the loader."""
        return dict(self.context.params)

    def summary(self) -> SourceRead:
        """Rows read and requests sent; the rows themselves are kept for the plan."""
        return SourceRead(
            self.location,
            "portal",
            self.spec.method,
            len(self._rows),
            requests=self._requests,
            sha256=self._digest.hexdigest(),
            data=tuple(self._rows),
        )


def _maps(reply: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    return reply.results, reply.errors


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
