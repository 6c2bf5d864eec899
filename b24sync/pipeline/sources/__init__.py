"""Sources of rows: data files, SQL queries and the portal, behind one small interface.

A source is opened from its spec (``open_source``) and then iterated once: ``rows()`` yields every
row with where it came from, one at a time, so that a million-row file or query is never held twice.
Once the rows are read, ``summary()`` says what was read (how many rows, the CSV dialect detected,
the requests sent) and the digest of what was read, which the plan keeps.

Modules: ``base`` (the interface), ``files`` (paths of data files), ``csvfile``, ``excel``,
``structured`` (.json, .jsonl, .yaml), ``sql`` and ``portal``.
"""

from b24sync.pipeline.sources.base import (
    Place,
    PortalOpener,
    RowSource,
    SourceContext,
    SourceError,
    SourceRead,
    SourceRow,
    open_source,
)

__all__ = [
    "Place",
    "PortalOpener",
    "RowSource",
    "SourceContext",
    "SourceError",
    "SourceRead",
    "SourceRow",
    "open_source",
]
