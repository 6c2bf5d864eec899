"""Facts about the Bitrix24 platform that the rest of b24sync builds on, in one place.

Nothing here sends a request or reads a file: these are the numbers, codes, method classes, result
paths and reference forms of the wire protocol (docs/protocol.md), each defined once.

- ``limits``: sizes and budgets (``MAX_BATCH``, page size, ``max_input_vars``, rate and operating limits).
- ``codes``: error codes that decide what a client does (limits, refused credentials).
- ``methods``: which methods only read, which are safe to send twice, which scope each needs.
- ``results``: where results keep what links read (``item.id``, list rows, created ids).
- ``references``: the ``$result[...]`` forms the portal substitutes inside a batch.
- ``hosts``: which hosts are Bitrix24 cloud portals (always https).
- ``advice``: one sentence of what to do about the refusals a new user meets first.
"""
