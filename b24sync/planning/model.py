"""The plan: what will be sent, batch by batch.

A ``Plan`` is a frozen value. ``b24sync plan --format json`` prints it and ``b24sync apply PLAN.json``
runs exactly it, so it carries everything the executor needs and nothing secret.

Markers inside ``Command.params`` (plain text in string values):

- ``$result[<command key>][<path>]...``: a link. Its ``Link`` entry says whether the portal resolves it
  inside the batch (``server``) or the executor substitutes it from an earlier batch's stored result
  before sending (``client``). The text is exactly what the portal would parse (protocol §4).
- ``$secret[<NAME>]``: a secret from the environment, substituted by the executor just before sending
  and shown as ``***`` everywhere else.

A ``client`` link is resolved strictly: the executor reads ``Link.path`` in the stored result of
``Link.target``; a missing path fails the command (its dependents are skipped) instead of sending
anything. A marker that is the whole value takes the result's value with its type; inside longer
text it takes the scalar as text. Markers never appear in keys (the pipeline loader refuses links in
keys). ``Command.links`` holds one entry per distinct marker of the command.

``Batch.halt`` is true when a command of the batch depends on an earlier command of the same batch
(a ``server`` link or a ``depends_on``), so the portal stops before a dependent of a failed command.
``Batch.index`` counts from 0 in sending order.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue, model_validator

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.bitrix.methods import is_read
from b24sync.client.webhook import WEBHOOK_VARIABLE
from b24sync.pipeline.models import Frozen, shared_keys
from b24sync.upsert.unsent import Unsent

PLAN_SCHEMA_VERSION: Literal[1] = 1

__all__ = [
    "PLAN_SCHEMA_VERSION",
    "Batch",
    "Command",
    "Imported",
    "LeftOut",
    "Link",
    "PipelineInfo",
    "Plan",
    "Source",
    "Unsent",
]

PathStep = str | int


class Link(Frozen):
    """A value of one command that comes from the result of another."""

    marker: str
    target: str
    path: tuple[PathStep, ...]
    resolution: Literal["server", "client"]
    reason: str


class Imported(Frozen):
    """One instance of a ``mode: import`` step inside a ``crm.item.batchImport`` command."""

    key: str
    """The command key the instance would have as a ``crm.item.add`` of its own; its report entry's key."""
    instance: str | None = None


@shared_keys
class Command(Frozen):
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
    action: Literal["call", "create", "update", "delete"] = "call"
    """For upsert steps: what the command does to its record; ``call`` for every other step."""
    record_id: int | None = None
    diff: dict[str, tuple[JsonValue, JsonValue]] = Field(default_factory=dict)
    """For an update: each changed field as (current value, new value)."""


class Batch(Frozen):
    """The commands of one HTTP request, in the order they run."""

    index: int
    halt: bool
    commands: tuple[Command, ...]


class Source(Frozen):
    """What one lookup or ``for_each`` source read when the plan was made.

    ``sha256`` is of the data file's bytes, or of the rows (one canonical JSON line each) for SQL and
    portal sources; portal sources also keep their ``rows``, so that a check at apply can read the
    portal again and compare.
    """

    where: str
    """``steps[1].for_each`` or ``lookups.managers``."""
    kind: Literal["csv", "xlsx", "json", "jsonl", "yaml", "sql", "portal"]
    name: str
    """The data file, the method, or the environment variable of the database (never its URL)."""
    count: int
    details: tuple[str, ...] = ()
    requests: int | None = None
    sha256: str
    rows: tuple[JsonValue, ...] | None = None

    def describe(self) -> str:
        """``read 1,234 rows from crm.item.list in 1 request``."""
        text = f"read {self.count:,} row" + ("" if self.count == 1 else "s") + f" from {self.name}"
        if self.requests is not None:
            text += f" in {self.requests:,} request" + ("" if self.requests == 1 else "s")
        return text + (f" ({', '.join(self.details)})" if self.details else "")


class PipelineInfo(Frozen):
    """Where a plan came from: the pipeline, its data and the portal it read."""

    path: str
    sha256: str
    data_sha256: str | None = None
    """The sha256 of the ``sha256`` of its file and SQL sources, one a line in reading order (portal
    sources are left out: a run's own writes change them); ``None`` in a plan made before it existed."""
    target: str | None = None
    """The portal the plan read (upsert state, portal sources, the field contract), its webhook code
    shown as ``***``; ``None`` when it read none."""


class LeftOut(Frozen):
    """A step a selection (``--select``/``--exclude``) left out, and how many commands it would send."""

    step: str
    commands: int


class Plan(Frozen):
    """Ordered batches of at most ``batch_size`` commands.

    A plan of a selection lists the steps it ``left_out``; links into them have ``client`` resolution
    and targets that are not in the plan: their values must come from a ``--resume`` report.
    """

    schema_version: Literal[1] = PLAN_SCHEMA_VERSION
    pipeline: PipelineInfo
    batch_size: int = MAX_BATCH
    halt_on_error: bool = True
    batches: tuple[Batch, ...]
    unsent: tuple[Unsent, ...] = ()
    sources: tuple[Source, ...] = ()
    """What each lookup and ``for_each`` source read, in the order they were read."""
    left_out: tuple[LeftOut, ...] = ()
    selected_by: str | None = None
    """The options that made the selection, such as ``--select contact+``; ``None`` for the whole pipeline."""
    imports: dict[str, tuple[Imported, ...]] = Field(default_factory=dict)
    """The ``crm.item.batchImport`` commands of ``mode: import`` steps, by key: their instances in the
    order of ``data`` (``b24sync.planning.importing``). A plan file leaves it out when empty."""
    created_matches: dict[str, dict[str, JsonValue]] = Field(default_factory=dict, exclude=True)
    """The match values of each create of an upsert step, by command key: after the run the portal is
    read for them again to find duplicates a concurrent writer made. Never in a plan file: a saved
    plan gets them when it is checked against the portal (``b24sync.run.workflow.check_fresh``)."""

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        """A plan read from a file (perhaps edited by hand) must be one the executor can run.

        The planner builds plans without validation (``model_construct``), so this costs nothing there.
        """
        keys: set[str] = set()
        for batch in self.batches:
            if not 0 < len(batch.commands) <= MAX_BATCH:
                raise ValueError(
                    f"batch {batch.index} holds {len(batch.commands)} commands (1 to {MAX_BATCH})"
                )
            for command in batch.commands:
                if command.key in keys:
                    raise ValueError(f"command key {command.key!r} is used twice")
                keys.add(command.key)
        left_out = {each.step for each in self.left_out}
        for command in self.commands():
            for target in (*(link.target for link in command.links), *command.depends_on):
                # a selection keeps links into the steps it left out: their results come from --resume
                if target not in keys and not _of_left_out(target, left_out):
                    raise ValueError(f"command {command.key} refers to {target!r}, which is not in the plan")
            if WEBHOOK_VARIABLE in command.secrets:
                raise ValueError(f"command {command.key} would send {WEBHOOK_VARIABLE} as a secret")
        return self

    def commands(self) -> list[Command]:
        """Every command of the plan, in sending order."""
        return [command for batch in self.batches for command in batch.commands]

    def outside_links(self) -> list[tuple[Command, Link]]:
        """Links whose target is a command of a left-out step, not in this plan."""
        if not self.left_out:
            return []
        keys = {command.key for command in self.commands()}
        return [
            (command, link)
            for command in self.commands()
            for link in command.links
            if link.target not in keys
        ]

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would write anything (a command that is not a read)."""
        return any(not is_read(command.method) for command in self.commands())

    @property
    def conflicts(self) -> tuple[Unsent, ...]:
        """Upsert instances that match several records and so cannot be planned."""
        return tuple(unsent for unsent in self.unsent if unsent.action == "conflict")


def _of_left_out(key: str, steps: set[str]) -> bool:
    """Whether a command key names an instance of one of ``steps`` (``contact`` or ``contact_...``)."""
    return any(key == step or key.startswith(step + "_") for step in steps)
