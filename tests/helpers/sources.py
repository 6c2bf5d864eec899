"""Reading a source as the loader does, for the tests of each kind of source."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from b24sync.errors import Problem
from b24sync.pipeline.models import FileSource, PortalSource, SqlSource
from b24sync.pipeline.sources import PortalOpener, SourceContext, SourceRead, SourceRow, open_source


@dataclass
class Read:
    """The rows a source gave, its problems (as text) and its summary."""

    rows: list[SourceRow]
    problems: list[str]
    summary: SourceRead

    @property
    def values(self) -> list[Any]:
        return [row.value for row in self.rows]

    @property
    def lines(self) -> list[int]:
        return [row.place.line if row.place is not None else -1 for row in self.rows]


def read_source(
    spec: dict[str, Any],
    *,
    folder: str = "",
    environ: dict[str, str] | None = None,
    portal: PortalOpener | None = None,
    where: str = "loc",
) -> Read:
    """Open and read the source ``spec`` (a for_each mapping) to the end."""
    model: FileSource | SqlSource | PortalSource
    params: dict[str, Any] = {}
    if "sql" in spec:
        model = SqlSource.model_validate(spec)
        params = dict(model.sql.params)
    elif "portal" in spec:
        model = PortalSource.model_validate(spec)
        params = dict(model.portal.params)
    else:
        model = FileSource.model_validate(spec)
    context = SourceContext(where, folder, environ or dict(os.environ), portal, params)
    source = open_source(model, context)
    rows = list(source.rows())
    problems: list[Problem] = list(source.problems)
    return Read(rows, [str(p) for p in problems], source.summary())
