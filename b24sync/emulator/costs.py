"""A portal's server time: what each command costs, by method class, and named profiles of it.

A real portal spends tens to hundreds of milliseconds on every command; that time is what
``result_time`` reports and what the operating limit counts (protocol §7.2). The emulator answers in
microseconds, so without a model every throughput figure measures Python. A ``CostModel`` gives
each command a server time from its method's class (plus, for list methods that count, a cost per
counted record, and for ``crm.item.batchImport`` one per element), each HTTP request a fixed
overhead and a network latency, and the portal a bounded number of workers. Where each figure of
the ``cloud`` profile comes from is in docs/emulator.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

CLASSES = ("add", "update", "delete", "get", "list", "import", "fields", "other")
"""Method classes, each with its own seconds per command."""

# the parts of a model besides the classes that --cost may set
_EXTRA = ("request", "count")


def method_class(method: str) -> str:
    """The class of a lower-case method name: ``crm.item.add`` -> ``add``, ``user.get`` -> ``list``."""
    if method in ("crm.item.batchimport", "crm.item.import"):
        return "import"
    if method in ("user.get", "crm.duplicate.findbycomm"):
        return "list"  # both search the portal and answer many records
    last = method.rsplit(".", 1)[-1]
    if last in ("add", "update", "delete", "get", "list", "fields"):
        return last
    if last == "set":
        return "update"
    return "other"


@dataclass(frozen=True)
class CostModel:
    """Seconds of server time per command by class, per request and per counted record; workers."""

    name: str
    seconds: Mapping[str, float] = field(default_factory=dict)
    request: float = 0.0
    """Server time of every HTTP request besides its commands (the docs' ``duration - processing``)."""
    count: float = 0.0
    """Server time per record counted by a list read with ``start >= 0`` (protocol §8.2)."""
    latency: float = 0.0
    """Seconds of network latency added to every request; it holds no worker and is not charged."""
    workers: int | None = None
    """HTTP requests the portal serves at once; None for no bound."""

    @property
    def modelled(self) -> bool:
        """True when the model spends time at all (the ``instant`` profile does not)."""
        return bool(self.request or self.count or self.latency or any(self.seconds.values()))

    def command(self, method: str, result: Any = None, total: int | None = None) -> float:
        """Server time of one executed command, from its method and what it answered."""
        kind = method_class(method)
        seconds = self.seconds.get(kind, 0.0)
        if method == "crm.item.batchimport":
            # one element costs what one crm.item.import does; the call itself costs nothing more
            items = result.get("items") if isinstance(result, Mapping) else None
            seconds *= len(items) if isinstance(items, list) else 1
        if total:
            seconds += self.count * total
        return seconds

    def with_costs(self, costs: Mapping[str, float]) -> CostModel:
        """This model with some figures replaced: class names, ``request`` or ``count``, in seconds."""
        unknown = sorted(set(costs) - set(CLASSES) - set(_EXTRA))
        if unknown:
            raise ValueError(f"unknown cost {', '.join(unknown)}: use one of {', '.join(CLASSES + _EXTRA)}")
        if any(value < 0 for value in costs.values()):
            raise ValueError("a cost cannot be negative")
        seconds = {**self.seconds, **{k: float(v) for k, v in costs.items() if k in CLASSES}}
        return replace(
            self,
            seconds=seconds,
            request=float(costs.get("request", self.request)),
            count=float(costs.get("count", self.count)),
        )


INSTANT = CostModel("instant")
"""No server time at all: the emulator answers as fast as it can (the default)."""

CLOUD = CostModel(
    "cloud",
    seconds={
        "add": 0.100,
        "update": 0.100,
        "delete": 0.100,
        "import": 0.065,
        "get": 0.050,
        "list": 0.070,
        "fields": 0.050,
        "other": 0.010,
    },
    request=0.030,
    count=0.000021,
    latency=0.030,
    workers=10,
)
"""A Bitrix24 cloud portal as its docs show it; every figure's source is in docs/emulator.md."""

PROFILES: dict[str, CostModel] = {model.name: model for model in (INSTANT, CLOUD)}


def profile(name: str) -> CostModel:
    """A named profile; ValueError naming the known ones otherwise."""
    model = PROFILES.get(name.strip().lower())
    if model is None:
        raise ValueError(f"unknown emulator profile {name!r}: use one of {', '.join(PROFILES)}")
    return model


def parse_costs(specs: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``["add=150", "list=40"]`` (milliseconds, as the CLI takes them) -> seconds by name."""
    costs: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        try:
            milliseconds = float(value)
        except ValueError:
            milliseconds = -1.0
        if not sep or milliseconds < 0 or milliseconds != milliseconds:
            raise ValueError(f"cost {spec!r} is not CLASS=MILLISECONDS (for example add=150)")
        costs[name.strip().lower()] = milliseconds / 1000.0
    return costs
