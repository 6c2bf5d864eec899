"""The plan: what will be sent, batch by batch (design section 5).

A ``Plan`` is a frozen value. ``b24sync plan --format json`` prints it and ``b24sync apply PLAN.json``
runs exactly it, so it carries everything the executor needs and nothing secret.

Markers inside ``Command.params`` (plain text in string values):

- ``$result[<command key>][<path>]...``: a link. Its ``Link`` entry says whether the portal resolves it
  inside the batch (``server``) or the executor substitutes it from an earlier batch's stored result
  before sending (``client``). The text is exactly what the portal would parse (reference section 4).
- ``$secret[<NAME>]``: a secret from the environment, substituted by the executor just before sending
  and shown as ``***`` everywhere else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

PLAN_SCHEMA_VERSION: Literal[1] = 1
MAX_BATCH = 50

PathStep = str | int


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Frozen):
    """A value of one command that comes from the result of another."""

    marker: str
    target: str
    path: tuple[PathStep, ...]
    resolution: Literal["server", "client"]
    reason: str


class Command(_Frozen):
    """One command of a batch: a step instance with its method and parameters."""

    key: str
    step: str
    instance: str | None = None
    method: str
    params: JsonValue
    query: str
    links: tuple[Link, ...] = ()
    depends_on: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()


class Batch(_Frozen):
    """The commands of one HTTP request, in the order they run."""

    index: int
    halt: bool
    commands: tuple[Command, ...]


class PipelineInfo(_Frozen):
    """Where a plan came from."""

    path: str
    sha256: str


class Plan(_Frozen):
    """Ordered batches of at most ``batch_size`` commands."""

    schema_version: Literal[1] = PLAN_SCHEMA_VERSION
    pipeline: PipelineInfo
    batch_size: int = MAX_BATCH
    halt_on_error: bool = True
    batches: tuple[Batch, ...]

    def commands(self) -> list[Command]:
        """Every command of the plan, in sending order."""
        return [command for batch in self.batches for command in batch.commands]
