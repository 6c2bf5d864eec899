"""Planning: what will be sent, batch by batch (the package is not named ``plan`` because
``b24sync.plan`` is the function of the public face). Pure: nothing here reads a file or talks HTTP.

``model`` is the frozen ``Plan`` (what ``plan --out`` writes and ``apply PLAN.json`` runs); ``keys``,
``graph``, ``linkrules`` and ``schedule`` are the steps of ``planner.plan``; ``text`` renders a plan
for people.
"""

from b24sync.planning.model import Batch, Command, Link, PipelineInfo, Plan
from b24sync.planning.planner import plan, plan_file
from b24sync.planning.text import render_changes, render_plan_text

__all__ = [
    "Batch",
    "Command",
    "Link",
    "PipelineInfo",
    "Plan",
    "plan",
    "plan_file",
    "render_changes",
    "render_plan_text",
]
