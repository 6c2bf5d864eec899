"""What a load, a plan or a run makes is freed once dropped, in a process that goes on.

A load and a plan pause the cyclic collector and freeze what they made, so the run's collections do
not scan it again and again. A freeze that outlived the run kept every cycle of the load (templates,
closures, the sandbox) for the rest of the process: a service applying a pipeline every minute grew
without end. The tests start with nothing frozen, as a fresh process does.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import requests

from b24sync import apply, plan
from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.pipeline.loader import load_pipeline
from b24sync.pipeline.template import Renderer
from b24sync.run.executor import Progress

PIPELINE = """\
version: 1
name: freed
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: "Acme"}}
  - id: contact
    for_each: {file: rows.json}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields: {name: "{{ item.name | upper }}", companyId: "{{ steps.company.item.id }}"}
"""


@pytest.fixture
def nothing_frozen() -> Iterator[None]:
    gc.unfreeze()
    gc.collect()
    yield
    gc.unfreeze()


def _project(folder: Path) -> Path:
    rows = ",".join(f'{{"id": "r{i}", "name": "Name {i}"}}' for i in range(120))
    (folder / "rows.json").write_text(f"[{rows}]", encoding="utf-8")
    (folder / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    return folder / "p.yaml"


def _renderers(besides: Iterable[Renderer] = ()) -> list[Renderer]:
    """The renderers alive but ``besides`` (those of earlier tests that something still holds).

    Frozen objects are not in gc.get_objects(): a renderer listed here is an ordinary object."""
    known = {id(each) for each in besides}
    return [each for each in gc.get_objects() if isinstance(each, Renderer) and id(each) not in known]


def _client() -> B24Hook:
    emu = Emulator(wall_clock=lambda: 1_800_000_000.0)
    return B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)


@pytest.mark.usefixtures("nothing_frozen")
def test_a_loaded_pipeline_is_freed_once_dropped(tmp_path: Path) -> None:
    earlier = _renderers()
    pipeline = load_pipeline(str(_project(tmp_path)))
    assert gc.get_freeze_count() == 0
    made = [weakref.ref(each) for each in _renderers(earlier)]
    del earlier
    assert made, "the load's renderer should be an ordinary object"
    # and one the young collections do not scan again: the load's objects went to the oldest
    oldest = gc.get_objects(generation=2)
    assert all(any(ref() is each for each in oldest) for ref in made)
    del oldest
    del pipeline
    gc.collect()
    assert all(ref() is None for ref in made)


@pytest.mark.usefixtures("nothing_frozen")
def test_a_run_keeps_the_plan_frozen_then_frees_it(tmp_path: Path) -> None:
    path = _project(tmp_path)
    during: list[int] = []

    def progress(_: Progress) -> None:
        during.append(gc.get_freeze_count())

    earlier = _renderers()
    for _ in range(3):
        done = apply(str(path), _client(), contract=False, on_progress=progress)
        assert done.status == "succeeded"
        assert gc.get_freeze_count() == 0
        del done
        gc.collect()
        assert _renderers(earlier) == []
    assert during and min(during) > 0  # the run's collections skipped what the load and plan made


@pytest.mark.usefixtures("nothing_frozen")
def test_a_plan_frees_what_it_made(tmp_path: Path) -> None:
    path = _project(tmp_path)
    earlier = _renderers()
    planned = plan(str(path), contract=False)
    assert len(planned.batches) == 3
    assert gc.get_freeze_count() == 0
    del planned
    gc.collect()
    assert _renderers(earlier) == []


@pytest.mark.usefixtures("nothing_frozen")
def test_a_callers_own_freeze_is_left_as_it_was(tmp_path: Path) -> None:
    path = _project(tmp_path)
    kept = [{"the caller's": [n]} for n in range(100)]
    gc.freeze()  # as a pre-fork server does before it forks its workers
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert apply(str(path), _client(), contract=False).status == "succeeded"
    assert gc.get_freeze_count() == frozen
    assert kept
