"""Keyset paging of list methods, chained inside batches (protocol §8.3, §8.5)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from b24sync.bitrix.limits import MAX_BATCH, PAGE_SIZE
from b24sync.bitrix.results import items_key as default_items_key
from b24sync.bitrix.results import row_id_key
from b24sync.client.encoding import encode_command
from b24sync.client.results import CommandError
from b24sync.errors import ListPageError, UsageError


def _pop_ci(params: dict[str, Any], name: str) -> Any:
    for key in list(params):
        if key.lower() == name:
            return params.pop(key)
    return None


class KeysetWalk:
    """The commands of each request of a list walk, and the reading of their pages."""

    def __init__(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        id_key: str,
        items_key: str | None,
        limit: int | None,
        first_pages: int = 1,
    ) -> None:
        if limit is not None and limit < 0:
            raise UsageError("limit must be a positive number of rows")
        self.method = method
        self.id_key = id_key
        self.items_key = items_key if items_key is not None else default_items_key(method)
        self.row_key = row_id_key(method, id_key)
        base = dict(params or {})
        row_filter = dict(_pop_ci(base, "filter") or {})
        self.last: Any = row_filter.pop(">" + id_key, 0)
        self.filter = row_filter
        _pop_ci(base, "order")
        _pop_ci(base, "start")
        select = base.get("select")
        if isinstance(select, list) and "*" not in select and id_key not in select:
            base["select"] = [*select, id_key]
        self.base = base
        self.remaining = limit
        self.pages_sent = 0
        self.first = True
        self.first_pages = max(1, min(first_pages, MAX_BATCH))
        self.finished = limit == 0

    def _params(self, last: Any) -> dict[str, Any]:
        row_filter = {**self.filter, ">" + self.id_key: last}
        return {**self.base, "order": {self.id_key: "ASC"}, "filter": row_filter, "start": -1}

    def next_commands(self) -> dict[str, str] | None:
        """The commands of the next request, or None when the walk is over."""
        if self.finished:
            return None
        # A first request of one page (the default) settles short lists in one round trip without
        # running 49 useless chained commands; afterwards every request carries a full chain. A
        # caller that expects long lists asks for a full chain from the start.
        count = self.first_pages if self.first else MAX_BATCH
        if self.remaining is not None:
            count = min(count, -(-self.remaining // PAGE_SIZE))
        path = f"[{self.items_key}]" if self.items_key else ""
        commands = {"p0": encode_command(self.method, self._params(self.last))}
        for i in range(1, count):
            link = f"$result[p{i - 1}]{path}[{PAGE_SIZE - 1}][{self.row_key}]"
            commands[f"p{i}"] = encode_command(self.method, self._params(link))
        self.first = False
        self.pages_sent = count
        return commands

    def rows(self, page: Any) -> list[Any]:
        """The rows of one page."""
        if page == [] or page is None:
            return []
        if self.items_key is not None:
            if isinstance(page, Mapping) and isinstance(page.get(self.items_key), list):
                return list(page[self.items_key])
            raise UsageError(f"{self.method} pages hold no list under {self.items_key!r}: check items_key")
        if isinstance(page, list):
            return page
        raise UsageError(f"{self.method} returns an object, not a list: pass items_key (e.g. 'items')")

    def read(self, results: Mapping[str, Any], errors: Mapping[str, CommandError]) -> Iterator[list[Any]]:
        """Yield the pages of one answer in order, up to the first short page."""
        for i in range(self.pages_sent):
            key = f"p{i}"
            if key in errors:
                self.finished = True
                raise ListPageError(key, errors[key].code, errors[key].description)
            if key not in results:
                self.finished = True
                raise ListPageError(key, "NOT_EXECUTED", "the portal did not run this page")
            rows = self.rows(results[key])
            full = len(rows) >= PAGE_SIZE
            if full:
                last_row = rows[-1]
                if not isinstance(last_row, Mapping) or self.row_key not in last_row:
                    raise UsageError(f"{self.method} rows carry no {self.row_key!r}: check id_key")
                self.last = last_row[self.row_key]
            if self.remaining is not None:
                rows = rows[: self.remaining]
                self.remaining -= len(rows)
            if rows:
                yield rows
            if not full or self.remaining == 0:
                self.finished = True
                return
