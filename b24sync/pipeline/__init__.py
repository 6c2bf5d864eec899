"""Pipeline files: YAML with positions, the frozen models, data files, templates and instances.

``load_pipeline`` reads a file and returns a ``Pipeline`` whose every step is valid and rendered into
instances, ready for the planner; every problem of the file is raised at once as ``PipelineError``.
Modules, bottom up: ``yamlio``, ``models`` (and ``validation`` of their errors), ``sources``,
``sandbox``, ``expressions`` and ``template`` (rendering), ``instances`` (``for_each`` expansion) and
``loader``.
"""

from b24sync.pipeline.loader import Pipeline, Step, load_pipeline
from b24sync.pipeline.models import PipelineSpec, StepSpec, json_schema

__all__ = ["Pipeline", "PipelineSpec", "Step", "StepSpec", "json_schema", "load_pipeline"]
