"""The frozen models of a pipeline file as written, and its JSON Schema.

Every model forbids unknown keys and is immutable once validated; ``b24sync.pipeline.loader`` turns
a validated ``PipelineSpec`` into the rendered ``Pipeline`` the planner reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    model_validator,
)

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.bitrix.methods import ENTITY_TYPES

STEP_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
METHOD_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$"


class Frozen(BaseModel):
    """The base of every file model of b24sync: unknown keys refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


_Model = TypeVar("_Model", bound=BaseModel)
_FIELDS_SET: dict[type[BaseModel], set[str]] = {}


def built(cls: type[_Model], values: dict[str, Any]) -> _Model:
    """A model of values b24sync built itself from validated data: neither validated nor defaulted.

    ``values`` must name every field. ``model_construct`` resolves each default through
    ``inspect.signature`` and gives each instance its own set of field names; planning 100,000
    commands spent most of its time there, and the executor's report entries as much. The set is
    shared: a frozen model never changes it, and ``model_copy`` copies it before adding to it. What
    is read from a file is validated as before. Models of a ``shared_keys`` class keep their values
    under the keys the class's instances share.
    """
    fields = _FIELDS_SET.get(cls)
    if fields is None:
        fields = _FIELDS_SET[cls] = set(cls.model_fields)
    model = cls.__new__(cls)
    if cls in _SHARED:
        # the pairs, not the dict: dict.update copies a dict's own table instead of filling the shared one
        model.__dict__.update(values.items())
    else:
        object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", fields)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


_SHARED: set[type[BaseModel]] = set()


def shared_keys(cls: type[_Model]) -> type[_Model]:
    """A class decorator: ``built`` models of ``cls`` share their field names (PEP 412).

    For the model b24sync builds once a command of a plan (``Command``): handed a dict of its own,
    each instance keeps that dict's table, 552 bytes a command on Python 3.11; filled in place it
    keeps only its values, 273 bytes (265 on 3.12, 424 on 3.13, no change on 3.10): 280 MB of a
    million-command plan, for 0.6 us more a command. Not for small models: on 3.13 a shared layout
    takes more room than a dict of five keys. The first instance lays the keys out, here at import,
    before pydantic, validating a plan file, makes instances that use up the room kept for them.
    """
    _SHARED.add(cls)
    built(cls, dict.fromkeys(cls.model_fields))
    return cls


ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
LOOKUP_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class FileSource(Frozen):
    """Rows read from a data file next to the pipeline file."""

    file: StrictStr = Field(
        description="Path relative to the pipeline file: .csv (header row), .xlsx, .json, .jsonl or .yaml.",
        examples=["data/contacts.csv"],
    )
    delimiter: StrictStr | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="CSV only: the field delimiter (default: detected among , ; tab |).",
        examples=[";"],
    )
    encoding: StrictStr | None = Field(
        None,
        min_length=1,
        description="CSV only: the text encoding (default: detected: UTF-8 with or without BOM, "
        "UTF-16 with BOM, Windows-1251).",
        examples=["cp1251"],
    )
    sheet: StrictStr | None = Field(
        None,
        min_length=1,
        description="Excel only: the sheet to read (default: the first).",
        examples=["Orders"],
    )
    header_row: StrictInt | None = Field(
        None, ge=1, description="Excel only: the row holding the column names (default: 1).", examples=[3]
    )


class SqlQuery(Frozen):
    """A query of a SQL database whose URL is in an environment variable."""

    url_env: StrictStr = Field(
        pattern=ENV_NAME_PATTERN,
        description="The environment variable holding the SQLAlchemy database URL (never written anywhere).",
        examples=["DATABASE_URL"],
    )
    query: StrictStr = Field(
        min_length=1,
        description="The SELECT to run; one row per result row, keys from the column names.",
        examples=["select id, email from customers"],
    )
    params: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Values bound to :name placeholders of the query; strings may be templates over vars.",
        examples=[{"since": "{{ vars.since }}"}],
    )


class SqlSource(Frozen):
    """Rows of a SQL query, read through SQLAlchemy (the extra b24sync[sql])."""

    sql: SqlQuery


class PortalQuery(Frozen):
    """A list method of the portal, read when planning."""

    method: StrictStr = Field(
        pattern=METHOD_PATTERN,
        description="A list method that only reads, e.g. crm.item.list or user.get.",
        examples=["crm.item.list"],
    )
    params: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="The method's parameters (filter, select, ...); strings may be templates over vars.",
        examples=[{"entityTypeId": 2, "filter": {"stageId": "NEW"}, "select": ["id", "title"]}],
    )
    limit: StrictInt | None = Field(
        None, ge=0, description="Read at most this many rows (default: all).", examples=[10000]
    )


class PortalSource(Frozen):
    """Rows of a list method of the portal, read when planning (needs --webhook or --emulator)."""

    portal: PortalQuery


Source = FileSource | SqlSource | PortalSource
"""Where rows come from: a file, a SQL query or the portal."""

# Discriminator tags of the unions below. pydantic puts them into an error's ``loc``; they are written
# so that they cannot be mistaken for the keys of the file (``validation`` skips them).
UNION_TAGS: frozenset[str] = frozenset({"<list>", "<template>", "<file>", "<sql>", "<portal>"})


def _source_kind(value: Any) -> str:
    if isinstance(value, SqlSource) or (isinstance(value, dict) and "sql" in value and "file" not in value):
        return "<sql>"
    if isinstance(value, PortalSource) or (
        isinstance(value, dict) and "portal" in value and "file" not in value
    ):
        return "<portal>"
    return "<file>"


def _for_each_kind(value: Any) -> str | None:
    if isinstance(value, list):
        return "<list>"
    if isinstance(value, str):
        return "<template>"
    if isinstance(value, (dict, FileSource, SqlSource, PortalSource)):
        return _source_kind(value)
    return None


ForEach = Annotated[
    Annotated[list[JsonValue], Tag("<list>")]
    | Annotated[StrictStr, Tag("<template>")]
    | Annotated[FileSource, Tag("<file>")]
    | Annotated[SqlSource, Tag("<sql>")]
    | Annotated[PortalSource, Tag("<portal>")],
    Discriminator(
        _for_each_kind,
        custom_error_type="for_each_kind",
        custom_error_message="for_each must be a list, a template that renders to a list, "
        "{file: PATH}, {sql: {...}} or {portal: {...}}",
    ),
]

KEY_DESCRIPTION = "Template naming each row of the lookup, over row (the row) and vars."


class FileLookup(FileSource):
    """A lookup read from a data file."""

    key: StrictStr = Field(description=KEY_DESCRIPTION, examples=["{{ row.email }}"])


class SqlLookup(SqlSource):
    """A lookup read from a SQL query."""

    key: StrictStr = Field(description=KEY_DESCRIPTION, examples=["{{ row.email }}"])


class PortalLookup(PortalSource):
    """A lookup read from the portal."""

    key: StrictStr = Field(description=KEY_DESCRIPTION, examples=["{{ row.EMAIL }}"])


def _lookup_kind(value: Any) -> str | None:
    if isinstance(value, SqlLookup):
        return "<sql>"
    if isinstance(value, PortalLookup):
        return "<portal>"
    if isinstance(value, dict) and not {"file", "sql", "portal"} & set(value):
        return None
    return _source_kind(value)


Lookup = Annotated[
    Annotated[FileLookup, Tag("<file>")]
    | Annotated[SqlLookup, Tag("<sql>")]
    | Annotated[PortalLookup, Tag("<portal>")],
    Discriminator(
        _lookup_kind,
        custom_error_type="lookup_kind",
        custom_error_message="a lookup needs a source (file, sql or portal) and a key",
    ),
]


class Defaults(Frozen):
    """Settings for the whole pipeline."""

    batch_size: StrictInt = Field(
        MAX_BATCH, ge=1, le=MAX_BATCH, description="Commands per batch request (1-50)."
    )
    halt_on_error: StrictBool = Field(True, description="Stop the run at the first failed command.")


# An upsert step is planned as crm.item.add, crm.item.update or nothing, record by record.
UPSERT_METHOD = "crm.item.add"


class UpsertSpec(Frozen):
    """Make a CRM record match ``fields``, creating it when no record matches ``match``."""

    entity: Literal["lead", "deal", "contact", "company"] | None = Field(
        None, description="The CRM entity (crm.item entityTypeId 1-4); or give entityTypeId."
    )
    entityTypeId: StrictInt | None = Field(
        None, ge=1, description="crm.item entityTypeId (e.g. a smart process); or give entity."
    )
    match: dict[str, JsonValue] = Field(
        min_length=1,
        description="Fields that identify the record (camelCase), e.g. originatorId and originId; "
        "email and phone find leads, contacts and companies by a communication.",
        examples=[{"originatorId": "shop", "originId": "{{ item.id }}"}, {"email": "{{ item.email }}"}],
    )
    fields: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="The record's desired state (camelCase crm.item fields); fm lists communications "
        "that must be present.",
    )
    on_conflict: Literal["fail", "skip", "oldest"] = Field(
        "fail",
        description="When several records match: fail the instance, skip it, or update the oldest "
        "(lowest id).",
    )
    fm_mode: Literal["add", "replace"] = Field(
        "add",
        description="add: send the fm entries the record lacks; replace: also delete its other entries "
        "of the types fm names.",
    )

    @model_validator(mode="after")
    def _one_entity(self) -> UpsertSpec:
        if (self.entity is None) == (self.entityTypeId is None):
            raise ValueError(
                "upsert needs exactly one of entity (lead, deal, contact, company) or entityTypeId"
            )
        return self

    @property
    def entity_type_id(self) -> int:
        """The crm.item entityTypeId of the records."""
        return self.entityTypeId if self.entityTypeId is not None else ENTITY_TYPES[self.entity or ""]


class StepSpec(Frozen):
    """One step as written: a Bitrix24 method called once, or once per ``for_each`` item."""

    id: StrictStr = Field(pattern=STEP_ID_PATTERN, description="Unique step id.", examples=["contact"])
    method: StrictStr = Field(
        pattern=METHOD_PATTERN, description="The Bitrix24 REST method.", examples=["crm.item.add"]
    )
    params: dict[str, JsonValue] = Field(
        default_factory=dict, description="The method's parameters; strings may be templates."
    )
    depends_on: tuple[StrictStr, ...] = Field(
        (), description="Step ids that must run first, even without a link."
    )
    for_each: ForEach | None = Field(
        None,
        description="A list, a template rendering to a list, {file: PATH}, {sql: {...}} or {portal: {...}}: "
        "one instance per item.",
    )
    key: StrictStr | None = Field(
        None,
        description="Template naming each for_each instance (default: its index).",
        examples=["{{ item.email }}"],
    )
    when: StrictStr | StrictBool | None = Field(
        None, description="Template; a false result drops the instance.", examples=["{{ item.email != '' }}"]
    )
    description: StrictStr | None = Field(None, description="Free text for people.")
    upsert: UpsertSpec | None = Field(
        None, description="Instead of method and params: create or update a CRM record matched by key."
    )
    delete_missing: StrictBool = Field(
        False,
        description="With upsert: delete records carrying the same fixed match values (e.g. originatorId) "
        "that are absent from the source; applied only with apply --allow-delete.",
    )
    mode: Literal["import"] | None = Field(
        None,
        description="import: send the crm.item.add instances (of an upsert step: its creates) of this "
        "for_each step as crm.item.batchImport, 20 records a command (840 a request); automation rules "
        "and workflows do not run for them.",
    )

    @model_validator(mode="before")
    @classmethod
    def _upsert_has_no_method(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("upsert") is None:
            return data
        if "method" in data:
            raise ValueError("a step has either method or upsert, not both")
        if "params" in data:
            raise ValueError("an upsert step takes its values under upsert (match, fields), not params")
        return {**data, "method": UPSERT_METHOD}

    @model_validator(mode="after")
    def _delete_needs_upsert(self) -> StepSpec:
        if self.delete_missing and self.upsert is None:
            raise ValueError("delete_missing works with upsert steps only")
        return self

    @model_validator(mode="after")
    def _import_is_a_plain_create(self) -> StepSpec:
        # protocol §9.8b: crm.item.batchImport creates CRM items only, from field sets
        if self.mode == "import":
            if self.upsert is None and self.method.lower() != "crm.item.add":
                raise ValueError("mode: import works with crm.item.add and upsert steps only")
            if self.for_each is None:
                raise ValueError("mode: import needs a for_each: it packs many records into one command")
            if self.depends_on:
                raise ValueError("a mode: import step cannot have depends_on: its records are sent first")
        return self


def _method_optional(schema: dict[str, Any]) -> None:
    # An upsert step has no method: the schema must not demand one.
    schema["required"] = [name for name in schema.get("required", []) if name != "method"]


StepSpec.model_config["json_schema_extra"] = _method_optional
StepSpec.model_rebuild(force=True)


class PipelineSpec(Frozen):
    """A pipeline file as written."""

    version: Literal[1] = Field(description="Format version; always 1.")
    name: StrictStr = Field(min_length=1, description="Name of the pipeline.")
    description: StrictStr | None = Field(None, description="Free text for people.")
    vars: dict[str, JsonValue] = Field(
        default_factory=dict, description="Values for templates (vars.NAME); --var NAME=VALUE overrides."
    )
    defaults: Defaults = Field(default_factory=Defaults)
    lookups: dict[Annotated[str, Field(pattern=LOOKUP_NAME_PATTERN)], Lookup] = Field(
        default_factory=dict,
        description="Tables read once before planning: lookups.NAME[KEY] is the row whose key is KEY.",
    )
    steps: tuple[StepSpec, ...] = Field(min_length=1, description="The steps, in file order.")


MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "pipeline": tuple(PipelineSpec.model_fields),
    "step": tuple(StepSpec.model_fields),
    "defaults": tuple(Defaults.model_fields),
    "for_each": (*FileSource.model_fields, "sql", "portal"),
    "sql": tuple(SqlQuery.model_fields),
    "portal": tuple(PortalQuery.model_fields),
    "lookup": (*FileLookup.model_fields, "sql", "portal"),
}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a pipeline file."""
    schema = PipelineSpec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "b24sync pipeline",
        **schema,
    }
