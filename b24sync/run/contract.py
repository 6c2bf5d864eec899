"""The field contract in a run: which snapshot a pipeline is checked against, and saving one.

With a portal at hand (``plan``, ``apply``, ``validate --webhook/--emulator``) the fields are read
from it, once per run and before anything else is sent; without one, the snapshot file beside the
pipeline (``b24sync.fields.json``, written by ``b24sync fields --save``) is used when it exists;
``contract=False`` (``--no-contract``) turns the check off. A problem stops the run before any
record is read or written.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

from b24sync.client import B24Hook
from b24sync.errors import PipelineError, PortalError, Problem
from b24sync.fields.check import check_pipeline
from b24sync.fields.model import FieldSnapshot
from b24sync.fields.read import read_fields
from b24sync.fields.snapshot import default_path, read_snapshot, write_snapshot
from b24sync.fields.targets import targets
from b24sync.pipeline.loader import Pipeline, load_pipeline
from b24sync.planning.planner import plan as plan_pipeline

Contract = Union[bool, str, "os.PathLike[str]", FieldSnapshot]
"""``True``: the portal's fields, else the snapshot beside the pipeline; ``False``: no check; a
path or a ``FieldSnapshot``: that snapshot."""


def needs_portal(pipeline: Pipeline, contract: Contract) -> bool:
    """Whether checking ``pipeline`` would read fields from a portal, if one is at hand."""
    return contract is True and bool(targets(pipeline))


def entities(pipelines: Iterable[Pipeline]) -> set[str]:
    """Every entity the pipelines write."""
    return {target.entity for pipeline in pipelines for target in targets(pipeline)}


def snapshot_for(pipeline: Pipeline, client: B24Hook | None, contract: Contract) -> FieldSnapshot | None:
    """The snapshot to check ``pipeline`` against, or None when there is nothing to check with."""
    if contract is False or not targets(pipeline):
        return None
    if isinstance(contract, FieldSnapshot):
        return contract
    if contract is not True:
        return read_snapshot(contract)
    if client is not None:
        try:
            return read_fields(client, entities([pipeline]), strict=False)
        except PortalError:
            # the run's own requests meet the same portal and report what it refused, as before
            return None
    beside = default_path(pipeline.path)
    return read_snapshot(beside) if os.path.isfile(beside) else None


def enforce(pipeline: Pipeline, client: B24Hook | None, contract: Contract) -> None:
    """Raise ``PipelineError`` with every field problem of ``pipeline`` (nothing else is sent first)."""
    snapshot = snapshot_for(pipeline, client, contract)
    if snapshot is None:
        return
    problems = check_pipeline(pipeline, snapshot)
    if problems:
        raise PipelineError(problems)


@dataclass(frozen=True)
class Saved:
    """A snapshot file written by ``save_fields``, and the pipelines it covers."""

    path: str
    snapshot: FieldSnapshot
    pipelines: tuple[str, ...]


def save_fields(
    sources: Sequence[str],
    client: B24Hook,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    out: str | None = None,
    save: bool = True,
) -> list[Saved]:
    """Read the fields of every entity ``sources`` write and write the snapshot beside them (one
    file per folder of pipelines), or to ``out``; with ``save=False`` only read them."""
    pipelines = [load_pipeline(source, variables=variables, environ=environ) for source in sources]
    groups: dict[str, list[Pipeline]] = {}
    for pipeline in pipelines:
        groups.setdefault(out or default_path(pipeline.path), []).append(pipeline)
    saved: list[Saved] = []
    for path, members in groups.items():
        snapshot = read_fields(client, entities(members))
        if save:
            if os.path.isfile(path):
                # entities other pipelines of the folder write stay; those read now are replaced
                kept = read_snapshot(path)
                snapshot = FieldSnapshot(
                    entities={**kept.entities, **snapshot.entities},
                    statuses={**kept.statuses, **snapshot.statuses},
                    absent=tuple(sorted(set(kept.absent) - set(snapshot.entities) | set(snapshot.absent))),
                )
            write_snapshot(snapshot, path)
        saved.append(Saved(path, snapshot, tuple(p.path for p in members)))
    return saved


def validate_files(
    sources: Sequence[str],
    client: B24Hook | None,
    contract: Contract = True,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_env: Collection[str] = (),
) -> list[tuple[str, tuple[Problem, ...]]]:
    """Each file with its problems (none: valid): its shape, its fields against the contract (read
    from ``client`` once for all files), and its plan."""
    loaded: list[tuple[str, Pipeline | None, tuple[Problem, ...]]] = []
    for source in sources:
        try:
            loaded.append(
                (source, load_pipeline(source, variables=variables, environ=environ, allow_env=allow_env), ())
            )
        except PipelineError as error:
            loaded.append((source, None, error.problems))
    valid = [pipeline for _, pipeline, _ in loaded if pipeline is not None]
    shared: Contract = contract
    if contract is True and client is not None and entities(valid):
        shared = read_fields(client, entities(valid), strict=False)
    results: list[tuple[str, tuple[Problem, ...]]] = []
    for source, pipeline, problems in loaded:
        if pipeline is not None:
            try:
                enforce(pipeline, None, shared)
                plan_pipeline(pipeline)
            except PipelineError as error:
                problems = error.problems
        results.append((source, problems))
    return results
