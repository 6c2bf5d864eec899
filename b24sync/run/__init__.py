"""Running plans: the ``plan``/``apply`` workflow (``workflow``), the portal it talks to (``portal``),
the executor (``executor``), strict links (``links``) and ``--resume`` (``resume``)."""

from b24sync.run.executor import Execution, Executor, Progress, execute
from b24sync.run.portal import Portal, PortalLike
from b24sync.run.resume import Assume, resume_state
from b24sync.run.workflow import Applied, apply, load_plan, plan, plan_json

__all__ = [
    "Applied",
    "Assume",
    "Execution",
    "Executor",
    "Portal",
    "PortalLike",
    "Progress",
    "apply",
    "execute",
    "load_plan",
    "plan",
    "plan_json",
    "resume_state",
]
