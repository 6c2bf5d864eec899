"""Command keys: one per instance, stable across runs for the same files (protocol §3.2)."""

from __future__ import annotations

from b24sync.pipeline.instances import key_stem
from b24sync.pipeline.loader import Pipeline


def command_keys(pipeline: Pipeline) -> dict[tuple[int, str | None], str]:
    """A command key for every instance: the step id, or ``<step>_<instance>`` for ``for_each`` steps.

    Keys follow protocol §3.2 (``[A-Za-z][A-Za-z0-9_]*``, never purely numeric) and depend only on
    the pipeline, so the same files always give the same keys.
    """
    keys: dict[tuple[int, str | None], str] = {}
    used = {step.spec.id for step in pipeline.steps if step.spec.for_each is None}
    for step in pipeline.steps:
        if step.spec.for_each is None:
            for instance in step.expansion.instances:
                keys[(step.index, instance.name)] = step.spec.id
            continue
        for position, instance in enumerate(step.expansion.instances):
            name = instance.name or str(position)
            stem = key_stem(name, position)
            key = f"{step.spec.id}_{stem}"
            suffix = 2
            while key in used:
                key = f"{step.spec.id}_{stem}_{suffix}"
                suffix += 1
            used.add(key)
            keys[(step.index, instance.name)] = key
    return keys
