"""b24sync: declarative data sync for the Bitrix24 REST API.

The public face, for Python code::

    import b24sync
    b24 = b24sync.B24Hook.from_webhook_url("https://example.bitrix24.com/rest/1/CODE/")
    pipeline = b24sync.load_pipeline("pipelines/quickstart.yaml")
    the_plan = b24sync.plan("pipelines/quickstart.yaml")
    result = b24sync.apply("pipelines/quickstart.yaml", b24sync.Emulator())

Everything else is reachable from the layer packages (``b24sync.client``, ``b24sync.pipeline``,
``b24sync.planning``, ``b24sync.run``, ...; docs/architecture.md). Names are imported on first use, so
``b24sync --version`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from b24sync.errors import B24SyncError
from b24sync.version import __version__

if TYPE_CHECKING:
    from b24sync.client.hook import B24Hook
    from b24sync.emulator import Emulator
    from b24sync.pipeline.loader import Pipeline, load_pipeline
    from b24sync.planning.model import Plan
    from b24sync.report.model import RunReport
    from b24sync.run.resume import Assume
    from b24sync.run.workflow import Applied, apply, plan

__all__ = [
    "Applied",
    "Assume",
    "B24Hook",
    "B24SyncError",
    "Emulator",
    "Pipeline",
    "Plan",
    "RunReport",
    "__version__",
    "apply",
    "load_pipeline",
    "plan",
]

_LAZY = {
    "Applied": "b24sync.run.workflow",
    "Assume": "b24sync.run.resume",
    "B24Hook": "b24sync.client.hook",
    "Emulator": "b24sync.emulator",
    "Pipeline": "b24sync.pipeline.loader",
    "Plan": "b24sync.planning.model",
    "RunReport": "b24sync.report.model",
    "apply": "b24sync.run.workflow",
    "load_pipeline": "b24sync.pipeline.loader",
    "plan": "b24sync.run.workflow",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'b24sync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
