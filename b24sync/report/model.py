"""The run report: one frozen model of what a run did, derived totals, and its schema.

``apply`` builds a ``RunReport`` with ``build_report`` (totals and the overall status are derived from the
step and batch entries, never counted twice) and writes it with ``b24sync.report.files.write_report`` in a
``finally`` so it exists after a failure or an interruption too; ``apply --resume`` reads it back with
``read_report`` and feeds ``recorded_results`` into links. The renderers in ``b24sync.report.render`` are
functions of the same model.

The renderers show every text as the report holds it. ``redacted`` is the one place secrets leave a
report: the workflow passes every report through it, with the run's redactor (the webhook code and every
secret value), before the report is written or returned, because error descriptions and results come from
the portal, which may echo them.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple, get_args, overload

from pydantic import ConfigDict, Field, JsonValue, TypeAdapter, field_validator, model_validator
from pydantic_core import to_json

from b24sync.bitrix.methods import change_kind
from b24sync.client.redaction import Redactor
from b24sync.errors import UsageError
from b24sync.pipeline.instances import instance_name, plain_key
from b24sync.pipeline.models import Frozen

REPORT_SCHEMA_VERSION: Literal[1] = 1
SUMMARY_LIMIT = 200

ReportResults = Literal["full", "ids", "none"]
"""How much of each command's outcome a report file keeps (``apply --report-results``)."""
LEAN_ABOVE = 10_000
"""Reports of more entries than this keep ``ids`` unless told otherwise: one entry per command, per
record of an import command and per upsert instance that sends nothing."""

StepStatus = Literal["succeeded", "failed", "skipped", "not_run", "unknown"]
RunStatus = Literal["succeeded", "failed", "interrupted"]
STEP_STATUSES: tuple[StepStatus, ...] = get_args(StepStatus)

_UTC_SUFFIXES = ("Z", "+00:00")


class _ReportModel(Frozen):
    # Every field is always written, so the schema of the file marks every field required.
    model_config = ConfigDict(**Frozen.model_config, json_schema_serialization_defaults_required=True)


def _check_utc(value: str) -> str:
    # Python 3.10's fromisoformat does not read a trailing "Z", so it is swapped for the offset first.
    if not value.endswith(_UTC_SUFFIXES):
        raise ValueError("must be an ISO 8601 time in UTC ending in Z or +00:00")
    try:
        datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise ValueError("must be an ISO 8601 time in UTC such as 2024-05-01T12:00:00Z") from None
    return value


def format_utc(moment: datetime) -> str:
    """An aware datetime as the report's ISO 8601 UTC text, to the millisecond (``...T12:00:00.000Z``)."""
    if moment.tzinfo is None:
        raise UsageError("format_utc needs an aware datetime: pass datetime.now(timezone.utc)")
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PipelineRef(_ReportModel):
    """The pipeline file a run came from."""

    path: str
    sha256: str
    git_commit: str | None = None
    data_sha256: str | None = None
    """The plan's ``pipeline.data_sha256``: its file and SQL data; ``None`` in older reports."""


class StepResult(_ReportModel):
    """The outcome of one step instance, i.e. one command of the plan."""

    step: str
    instance: str | None = None
    command_key: str
    method: str
    status: StepStatus
    batch_index: int = Field(ge=0)
    attempts: int = Field(default=0, ge=0)
    created_id: int | str | None = None
    summary: str | None = Field(default=None, max_length=SUMMARY_LIMIT)
    error_code: str | None = None
    error_description: str | None = None
    skip_reason: str | None = None
    result: JsonValue = None

    @property
    def name(self) -> str:
        """``step[instance]``, or the step id alone for a step without instances."""
        return instance_name(self.step, self.instance)

    @model_validator(mode="after")
    def _fields_fit_status(self) -> StepResult:
        # Renderers and --resume rely on these: a failure always says why, a success never carries one.
        if self.status in ("failed", "unknown") and self.error_code is None:
            raise ValueError(f"a {self.status} step needs an error_code (an empty string is a valid code)")
        if self.status == "skipped" and not self.skip_reason:
            raise ValueError("a skipped step needs a skip_reason")
        if self.status == "succeeded" and (
            self.error_code is not None or self.error_description is not None or self.skip_reason is not None
        ):
            raise ValueError("a succeeded step carries no error_code, error_description or skip_reason")
        return self


_FIELD_SETS: dict[frozenset[str], set[str]] = {}


def compact(step: StepResult) -> StepResult:
    """``step`` holding a set of its set fields shared with the entries given the same fields.

    pydantic keeps on every model the set of the fields it was given (``model_fields_set``), about
    730 bytes for an entry, more than the entry's values; a run of 100,000 commands keeps 100,000
    entries until the report is written, and they share a handful of such sets. The model is frozen,
    so pydantic never adds to the set; a copy (``model_copy``) copies it first.
    """
    given = frozenset(step.__pydantic_fields_set__)
    shared = _FIELD_SETS.setdefault(given, set(given))
    object.__setattr__(step, "__pydantic_fields_set__", shared)
    return step


def _plain(step: str, instance: str | None, command_key: str, created_id: int | str | None) -> bool:
    """Whether an entry with no result and no summary lives in ``Entries``' columns alone: an
    instance of a ``for_each`` step whose key its name gives, with no created id or a numeric one."""
    return (
        instance is not None  # a step without for_each: one entry, kept whole
        and (created_id is None or (isinstance(created_id, int) and -_NO_ID < created_id < _NO_ID))
        and command_key == plain_key(step, instance)
    )


class PlainSuccess(NamedTuple):
    """A succeeded entry with nothing but its step, instance and created id (``Entries.lightly``)."""

    step: str
    instance: str
    created_id: int | None


class Entries(Sequence[StepResult]):
    """Report entries kept in columns: about 60 bytes an entry instead of a ``StepResult``'s 730.

    A lean run (``ids`` or ``none``: no results, no summaries) of a million commands keeps a million
    entries until its report is written; as pydantic models they alone would take 730 MB. Here each
    is a few numbers and its instance name; texts (step, method, error code and description, skip
    reason) are kept once each, and an entry is made into a ``StepResult`` only when it is read. An
    entry with a result or a summary (never in a lean run) is kept as it is.
    """

    def __init__(self) -> None:
        self._texts: list[str | None] = [None]
        self._text_ids: dict[str | None, int] = {None: 0}
        self._names = bytearray()
        self._ends = array("Q")
        self._fields = array("I")
        """Per entry: step, method, error code, error description and skip reason (text ids)."""
        self._status = array("B")
        self._numbers = array("q")
        """Per entry: batch index, attempts and created id (``_NO_ID`` for none)."""
        self._special: dict[int, StepResult] = {}
        """Entries kept whole: of a step without ``for_each``, with a result, a summary, a text created
        id, or a key not made of its name alone."""
        self._counts: Counter[StepStatus] = Counter()

    def _text(self, value: str | None) -> int:
        found = self._text_ids.get(value)
        if found is None:
            found = self._text_ids[value] = len(self._texts)
            self._texts.append(value)
        return found

    def append(self, step: StepResult) -> None:
        """Add an entry at the end."""
        fields = (step.step, step.instance, step.command_key, step.method, step.status, step.batch_index)
        more = (step.attempts, step.created_id, step.error_code, step.error_description, step.skip_reason)
        if step.result is not None or step.summary is not None or not self.add(*fields, *more):
            self.add(*fields, *more, whole=step)

    def add(
        self,
        step: str,
        instance: str | None,
        command_key: str,
        method: str,
        status: StepStatus,
        batch_index: int,
        attempts: int,
        created_id: int | str | None,
        error_code: str | None,
        error_description: str | None,
        skip_reason: str | None,
        *,
        whole: StepResult | None = None,
    ) -> bool:
        """``append`` of an entry with no result and no summary, given by its fields: a plain one
        goes into the columns with no model made for it. False, with nothing added, for an entry
        that is not plain (``append`` its model). ``whole``: the entry's model, kept as it is
        (``append`` of an entry that is not plain)."""
        if whole is None and not _plain(step, instance, command_key, created_id):
            return False
        position = len(self._status)
        self._counts[status] += 1
        self._status.append(_STATUS_CODE[status])
        name = b"" if instance is None else instance.encode("utf-8", "surrogatepass")
        self._names += name
        self._ends.append(len(self._names))
        if whole is not None:
            self._special[position] = whole
        self._fields.extend(
            (
                self._text(step),
                self._text(method),
                self._text(error_code),
                self._text(error_description),
                self._text(skip_reason),
            )
        )
        number = created_id if whole is None and isinstance(created_id, int) else _NO_ID
        self._numbers.extend((batch_index, attempts, number))
        return True

    def extend(self, steps: Iterable[StepResult]) -> None:
        """Add entries at the end."""
        for step in steps:
            self.append(step)

    def counts(self) -> Counter[StepStatus]:
        """How many entries have each status."""
        return Counter(self._counts)

    def finds(self, found: Callable[[str], bool]) -> bool:
        """Whether ``found`` (``Redactor.finds``) sees a secret in any entry, read off the columns: the
        texts and names are searched as they are and as JSON, the entries kept whole as JSON."""
        texts = "\n".join(text for text in self._texts if text is not None)
        names = self._names.decode("utf-8", "surrogatepass")
        for text in (texts, names):
            if found(text) or found(json.dumps(text, ensure_ascii=False)):
                return True
        special = tuple(self._special.values())
        return any(
            found(
                _ENTRIES.dump_json(special[start : start + _REDACT_CHUNK]).decode("utf-8", "backslashreplace")
            )
            for start in range(0, len(special), _REDACT_CHUNK)
        )

    def methods(self) -> dict[str, str]:
        """``step_methods`` of the entries, from the columns."""
        methods: dict[str, str] = {}
        fields, texts = self._fields, self._texts
        for position in range(len(self)):
            step = texts[fields[5 * position]]
            if step is not None and step not in methods:
                method = texts[fields[5 * position + 1]]
                assert method is not None
                methods[step] = method
        return methods

    def having(self, *statuses: StepStatus) -> list[StepResult]:
        """The entries with one of ``statuses``, in order: only they are made into models
        (``step_results``)."""
        wanted = [_STATUS_CODE[status] for status in statuses if self._counts[status]]
        if not wanted:
            return []
        return [self._entry(position) for position, code in enumerate(self._status) if code in wanted]

    def lightly(self) -> Iterator[StepResult | PlainSuccess]:
        """Every entry in order, a plain succeeded one (``append``: no result, no summary, a numeric
        or no created id) as a ``PlainSuccess`` read off the columns, the others as models: what a
        renderer of every entry walks (``report.render.iter_junit``)."""
        names, ends, fields, numbers, texts = (
            self._names,
            self._ends,
            self._fields,
            self._numbers,
            self._texts,
        )
        code = _STATUS_CODE["succeeded"]
        start = 0
        for position, status in enumerate(self._status):
            end = ends[position]
            if status != code or position in self._special:
                yield self._entry(position)
            else:
                step, created = texts[fields[5 * position]], numbers[3 * position + 2]
                assert step is not None
                instance = names[start:end].decode("utf-8", "surrogatepass")
                yield PlainSuccess(step, instance, None if created == _NO_ID else created)
            start = end

    def succeeded(self) -> Iterator[tuple[str, str, int | str | None]]:
        """Step, method and created id of each succeeded entry, in order, read off the columns
        (``step_changes``)."""
        if not self._counts["succeeded"]:
            return
        statuses, code = bytes(self._status), _STATUS_CODE["succeeded"]
        fields, numbers, texts = self._fields, self._numbers, self._texts
        position = statuses.find(code)
        while position >= 0:
            special = self._special.get(position)
            if special is not None:
                yield special.step, special.method, special.created_id
            else:
                step, method, created = (
                    texts[fields[5 * position]],
                    texts[fields[5 * position + 1]],
                    numbers[3 * position + 2],
                )
                assert step is not None and method is not None
                yield step, method, None if created == _NO_ID else created
            position = statuses.find(code, position + 1)

    def lean_lines(self, results: ReportResults, methods: Mapping[str, str] | None = None) -> Iterator[str]:
        """Each entry as ``lean_entry`` writes it, made from the columns (no model for a plain one)."""
        with_ids = "created_id" not in _LEAN_DROPPED[results]
        names, ends, fields, numbers = self._names, self._ends, self._fields, self._numbers
        texts = [None if text is None else to_json(text).decode() for text in self._texts]
        statuses = [to_json(status).decode() for status in STEP_STATUSES]
        start = 0
        for position in range(len(self)):
            end = ends[position]
            special = self._special.get(position)
            if special is not None:
                yield lean_entry(special, results, methods)
                start = end
                continue
            instance = names[start:end].decode("utf-8", "surrogatepass")
            start = end
            step, method, code, description, reason = fields[5 * position : 5 * position + 5]
            batch_index, attempts, created = numbers[3 * position : 3 * position + 3]
            step_text = self._texts[step]
            assert step_text is not None
            # a plain entry's command key is its name's (_key): always left out for the reader
            parts = ['{"step":', texts[step], ',"instance":', to_json(instance).decode()]
            if methods is None or methods.get(step_text) != self._texts[method]:
                parts += [',"method":', texts[method]]
            parts += [',"status":', statuses[self._status[position]], f',"batch_index":{batch_index}']
            if attempts:
                parts.append(f',"attempts":{attempts}')
            if with_ids and created != _NO_ID:
                parts.append(f',"created_id":{created}')
            for name, text in (
                ("error_code", code),
                ("error_description", description),
                ("skip_reason", reason),
            ):
                if text:
                    parts += [f',"{name}":', texts[text]]
            parts.append("}")
            yield "".join(parts)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._status)

    @overload
    def __getitem__(self, index: int) -> StepResult: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[StepResult, ...]: ...

    def __getitem__(self, index: int | slice) -> StepResult | tuple[StepResult, ...]:
        if isinstance(index, slice):
            return tuple(self._entry(i) for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("report entry out of range")
        return self._entry(index)

    def __iter__(self) -> Iterator[StepResult]:
        return (self._entry(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Entries, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _entry(self, position: int) -> StepResult:
        special = self._special.get(position)
        if special is not None:
            return special
        start = self._ends[position - 1] if position else 0
        instance = self._names[start : self._ends[position]].decode("utf-8", "surrogatepass")
        step, method, code, description, reason = (
            self._texts[i] for i in self._fields[5 * position : 5 * position + 5]
        )
        batch_index, attempts, created = self._numbers[3 * position : 3 * position + 3]
        assert step is not None and method is not None
        given = frozenset(
            _BASE_FIELDS | {name for name, value in _optional(created, code, description, reason) if value}
        )
        # every field given: model_construct then resolves no default (12 us an entry otherwise, 4.7 now)
        return StepResult.model_construct(
            _fields_set=_FIELD_SETS.setdefault(given, set(given)),
            step=step,
            instance=instance,
            command_key=_key(step, instance),
            method=method,
            status=STEP_STATUSES[self._status[position]],
            batch_index=batch_index,
            attempts=attempts,
            created_id=None if created == _NO_ID else created,
            summary=None,
            error_code=code,
            error_description=description,
            skip_reason=reason,
            result=None,
        )


_BASE_FIELDS = frozenset({"step", "instance", "command_key", "method", "status", "batch_index", "attempts"})


def _optional(
    created: int, code: str | None, description: str | None, reason: str | None
) -> tuple[tuple[str, bool], ...]:
    return (
        ("created_id", created != _NO_ID),
        ("error_code", code is not None),
        ("error_description", description is not None),
        ("skip_reason", reason is not None),
    )


_NO_ID = 2**63 - 1
_STATUS_CODE: dict[str, int] = {status: code for code, status in enumerate(STEP_STATUSES)}


def _key(step: str, instance: str) -> str:
    """The command key of a plain entry (``plain_key``; an instance without one is kept whole)."""
    return plain_key(step, instance) or ""


class BatchResult(_ReportModel):
    """One batch of the plan that was sent: how many commands, how many HTTP requests, how long."""

    index: int = Field(ge=0)
    commands: int = Field(ge=0)
    attempts: int = Field(ge=1)
    duration_s: float = Field(ge=0)


class Totals(_ReportModel):
    """Counts over the whole run; built by ``build_totals``, never by hand."""

    steps: int = Field(ge=0)
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)
    not_run: int = Field(ge=0)
    unknown: int = Field(ge=0)
    commands: int = Field(ge=0)
    requests: int = Field(ge=0)
    """HTTP requests that sent the plan's batches."""
    retries: int = Field(ge=0)
    limit_wait_s: float = Field(ge=0)
    read_requests: int = Field(default=0, ge=0)
    """HTTP requests that read the portal's records before the run (upsert steps), apart from ``requests``."""


class HeldDelete(_ReportModel):
    """A delete of ``delete_missing`` that was planned but not sent (no ``--allow-delete``)."""

    step: str
    command_key: str
    record_id: int | None = None


class StepChanges(_ReportModel):
    """What one step did to the portal's records, derived from its entries (``step_changes``)."""

    step: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    deletes_skipped: int = 0
    created_ids: tuple[int | str, ...] = ()


class RunReport(_ReportModel):
    """What one ``apply`` run did, step instance by step instance."""

    schema_version: Literal[1] = REPORT_SCHEMA_VERSION
    run_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    pipeline: PipelineRef
    target: str
    started_at: str = Field(json_schema_extra={"format": "date-time"})
    finished_at: str = Field(json_schema_extra={"format": "date-time"})
    duration_s: float = Field(ge=0)
    status: RunStatus
    totals: Totals
    batches: tuple[BatchResult, ...] = ()
    methods: dict[str, str] = Field(default_factory=dict)
    """Of a lean report: the method of each step, which its entries leave out (``lean_entry``);
    written only then."""
    steps: tuple[StepResult, ...] = ()
    """Every entry in plan order; of a lean run (``ids``, ``none``) an ``Entries``, read the same way."""
    held_deletes: tuple[HeldDelete, ...] = ()
    results: ReportResults = "full"
    """``full``: every entry as recorded; ``ids``: outcome, created id and error only; ``none``: no ids."""
    error: str | None = None
    """Why the run failed before it had steps (reading the portal's state failed), or before a streamed
    run had planned them all (its data file changed during the run); status ``failed``."""

    @field_validator("started_at", "finished_at")
    @classmethod
    def _is_utc(cls, value: str) -> str:
        return _check_utc(value)

    @model_validator(mode="before")
    @classmethod
    def _whole_entries(cls, data: Any) -> Any:
        # a lean report's entries leave out what their step and instance give (lean_entry)
        if isinstance(data, dict) and data.get("results") in ("ids", "none") and "steps" in data:
            methods = data.get("methods")
            data = {
                **data,
                "steps": derived_fields(data["steps"], methods if isinstance(methods, dict) else {}),
            }
        return data

    @model_validator(mode="after")
    def _consistent(self) -> RunReport:
        if _parse_utc(self.finished_at) < _parse_utc(self.started_at):
            raise ValueError("finished_at is earlier than started_at")
        keys = Counter(step.command_key for step in self.steps)
        repeated = sorted(key for key, count in keys.items() if count > 1)
        if repeated:
            raise ValueError(f"command_key repeated across steps: {', '.join(repeated)}")
        derived = build_totals(
            self.steps,
            self.batches,
            retries=self.totals.retries,
            limit_wait_s=self.totals.limit_wait_s,
            read_requests=self.totals.read_requests,
        )
        if derived != self.totals:
            raise ValueError("totals do not match the steps and batches they count")
        if self.error is not None:
            if self.status != "failed":
                raise ValueError(f"status {self.status!r} of a run that stopped with an error")
        elif self.status != "interrupted" and self.status != run_status(self.steps, interrupted=False):
            raise ValueError(f"status {self.status!r} does not match the step statuses")
        return self

    def step_results(self, *statuses: StepStatus) -> list[StepResult]:
        """The step entries with one of ``statuses``, in report order."""
        if isinstance(self.steps, Entries):
            return self.steps.having(*statuses)
        return [step for step in self.steps if step.status in statuses]


def _parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)


def build_totals(
    steps: Iterable[StepResult],
    batches: Iterable[BatchResult],
    *,
    retries: int,
    limit_wait_s: float,
    read_requests: int = 0,
) -> Totals:
    """Totals derived from the entries: step counts per status, commands and requests from the batches.

    ``retries``, ``limit_wait_s`` and ``read_requests`` come from the client's own counters: none can be
    read off the entries (a batch's later attempts may be requeued commands after a halt rather than
    retries; records are read before the first batch).
    """
    per_status = steps.counts() if isinstance(steps, Entries) else Counter(step.status for step in steps)
    batch_list = list(batches)
    return Totals(
        steps=sum(per_status.values()),
        succeeded=per_status["succeeded"],
        failed=per_status["failed"],
        skipped=per_status["skipped"],
        not_run=per_status["not_run"],
        unknown=per_status["unknown"],
        commands=sum(batch.commands for batch in batch_list),
        requests=sum(batch.attempts for batch in batch_list),
        retries=retries,
        limit_wait_s=limit_wait_s,
        read_requests=read_requests,
    )


def run_status(steps: Iterable[StepResult], *, interrupted: bool) -> RunStatus:
    """``interrupted`` if interrupted, else ``succeeded`` iff every step succeeded, else ``failed``."""
    if interrupted:
        return "interrupted"
    return "succeeded" if all(step.status == "succeeded" for step in steps) else "failed"


def build_report(
    *,
    run_id: str,
    pipeline: PipelineRef,
    target: str,
    started_at: str,
    finished_at: str,
    duration_s: float,
    steps: Iterable[StepResult],
    batches: Iterable[BatchResult] = (),
    retries: int = 0,
    limit_wait_s: float = 0.0,
    interrupted: bool = False,
    read_requests: int = 0,
    held_deletes: Iterable[HeldDelete] = (),
    error: str | None = None,
) -> RunReport:
    """A report whose totals and status are derived from ``steps`` and ``batches`` (``failed`` with an
    ``error``: a run that stopped before it had steps)."""
    batch_list = tuple(batches)
    if isinstance(steps, Entries):
        # a lean run's entries, kept in columns: a validated model would make a million of them at once;
        # the totals and the status are derived here exactly as the validator derives them
        totals = build_totals(
            steps, batch_list, retries=retries, limit_wait_s=limit_wait_s, read_requests=read_requests
        )
        status: RunStatus = (
            "failed"
            if error is not None
            else "interrupted"
            if interrupted
            else "succeeded"
            if totals.succeeded == totals.steps
            else "failed"
        )
        return RunReport.model_construct(
            run_id=run_id,
            pipeline=pipeline,
            target=target,
            started_at=_check_utc(started_at),
            finished_at=_check_utc(finished_at),
            duration_s=duration_s,
            status=status,
            totals=totals,
            batches=batch_list,
            steps=steps,  # type: ignore[arg-type]  # a Sequence of StepResult, read like the tuple
            held_deletes=tuple(held_deletes),
            error=error,
        )
    step_list = tuple(steps)
    return RunReport(
        run_id=run_id,
        pipeline=pipeline,
        target=target,
        started_at=started_at,
        finished_at=finished_at,
        duration_s=duration_s,
        status="failed" if error is not None else run_status(step_list, interrupted=interrupted),
        totals=build_totals(
            step_list, batch_list, retries=retries, limit_wait_s=limit_wait_s, read_requests=read_requests
        ),
        batches=batch_list,
        steps=step_list,
        held_deletes=tuple(held_deletes),
        error=error,
    )


def summarize_result(result: JsonValue, limit: int = SUMMARY_LIMIT) -> str:
    """A command's result as compact JSON, cut to ``limit`` characters with a trailing ``…``."""
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def recorded_results(report: RunReport) -> dict[str, JsonValue]:
    """The recorded result of every succeeded step by command key: what ``--resume`` feeds into links."""
    return {step.command_key: step.result for step in report.steps if step.status == "succeeded"}


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of the report file, as documented in docs/report.md."""
    return RunReport.model_json_schema(mode="serialization")


def step_counts(report: RunReport) -> Mapping[StepStatus, int]:
    """Step counts per status in the fixed status order, for renderers."""
    return {status: int(getattr(report.totals, status)) for status in STEP_STATUSES}


UNCHANGED_METHOD = "upsert"
"""The method of a report entry for an upsert instance that sent nothing (``b24sync.upsert.unsent``)."""


def step_changes(report: RunReport) -> list[StepChanges]:
    """Per step, in report order: records created (with their ids), updated, unchanged, deleted, and
    deletes held back; only succeeded entries count as a change."""
    tallies: dict[str, dict[str, Any]] = {}

    def tally(step: str) -> dict[str, Any]:
        return tallies.setdefault(
            step, {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0, "deletes_skipped": 0, "ids": []}
        )

    steps = report.steps
    succeeded = (
        steps.succeeded()
        if isinstance(steps, Entries)
        else ((entry.step, entry.method, entry.created_id) for entry in steps if entry.status == "succeeded")
    )
    for step, method, created_id in succeeded:
        counts = tally(step)
        kind = "unchanged" if method == UNCHANGED_METHOD else change_kind(method)
        if kind is not None:
            counts[kind] += 1
        if created_id is not None:
            counts["ids"].append(created_id)
    for held in report.held_deletes:
        tally(held.step)["deletes_skipped"] += 1
    return [
        StepChanges(
            step=step,
            created=counts["created"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            deleted=counts["deleted"],
            deletes_skipped=counts["deletes_skipped"],
            created_ids=tuple(counts["ids"]),
        )
        for step, counts in tallies.items()
    ]


_REDACT_CHUNK = 2_000


def redacted(report: RunReport, redact: Redactor) -> RunReport:
    """The report with every secret of ``redact`` shown as ``***``; the report itself when it holds none.

    The entries are searched a chunk at a time, so a report of a million entries is never one text.
    """
    if not redact or not _holds_secret(report, redact):
        return report
    if isinstance(report.steps, Entries):
        report = report.model_copy(update={"steps": tuple(report.steps)})
    data = report.model_dump(mode="json")
    clean = redact.data(data)
    # b24sync's own figures hold no secret, and a short one ("abc") can appear in a random run id or
    # a sha256 by chance: those are kept as they are, so the report stays valid
    for key in _OWN_FIELDS:
        clean[key] = data[key]
    clean["pipeline"] = {**clean["pipeline"], **{k: data["pipeline"][k] for k in _OWN_PIPELINE_FIELDS}}
    return RunReport.model_validate(clean)


_OWN_FIELDS = ("schema_version", "run_id", "started_at", "finished_at", "duration_s", "totals", "batches")
_OWN_PIPELINE_FIELDS = ("sha256", "git_commit", "data_sha256")


def _holds_secret(report: RunReport, redact: Redactor) -> bool:
    if redact.finds(report.model_copy(update={"steps": ()}).model_dump_json()):
        return True
    steps = report.steps
    if isinstance(steps, Entries):
        return steps.finds(redact.finds)
    return any(
        redact.finds(
            _ENTRIES.dump_json(steps[start : start + _REDACT_CHUNK]).decode("utf-8", "backslashreplace")
        )
        for start in range(0, len(steps), _REDACT_CHUNK)
    )


_ENTRIES: TypeAdapter[tuple[StepResult, ...]] = TypeAdapter(tuple[StepResult, ...])


def results_kept(report: RunReport, results: ReportResults | None) -> ReportResults:
    """The ``results`` a report file is written with: as asked, else ``ids`` above ``LEAN_ABOVE`` entries."""
    if results is not None:
        return results
    return "ids" if len(report.steps) > LEAN_ABOVE else "full"


_LEAN_DROPPED: dict[ReportResults, set[str]] = {
    "full": set(),
    "ids": {"summary", "result"},
    "none": {"summary", "result", "created_id"},
}


def lean_entry(step: StepResult, results: ReportResults, methods: Mapping[str, str] | None = None) -> str:
    """One step entry as compact JSON for a lean report: fields at their default value are left out,
    and so are those a reader derives (``derived_fields``): the command key when it is the name's
    (``plain_key``), the method when it is its step's in ``methods`` (``step_methods``)."""
    dropped = _LEAN_DROPPED[results]
    derivable = step.instance is not None and step.command_key == plain_key(step.step, step.instance)
    same_method = methods is not None and methods.get(step.step) == step.method
    if derivable or same_method:
        dropped = dropped | ({"command_key"} if derivable else set()) | ({"method"} if same_method else set())
    return step.model_dump_json(exclude=dropped, exclude_defaults=True)


def step_methods(steps: Iterable[StepResult]) -> dict[str, str]:
    """The method of each step's first entry: what a lean report's entries of the step leave out."""
    methods: dict[str, str] = {}
    for step in steps:
        methods.setdefault(step.step, step.method)
    return methods


def derived_fields(entries: Any, methods: Mapping[str, str]) -> Any:
    """A lean report's entries (JSON values) with what ``lean_entry`` left out put back: each
    entry's ``command_key`` from its step and instance, its ``method`` from ``methods``."""
    if not isinstance(entries, list):
        return entries
    whole: list[Any] = []
    for entry in entries:
        if isinstance(entry, dict) and ("command_key" not in entry or "method" not in entry):
            entry = dict(entry)
            step, instance = entry.get("step"), entry.get("instance")
            if "command_key" not in entry and isinstance(step, str) and isinstance(instance, str):
                key = plain_key(step, instance)
                if key is not None:
                    entry["command_key"] = key
            if "method" not in entry and isinstance(step, str) and step in methods:
                entry["method"] = methods[step]
        whole.append(entry)
    return whole
