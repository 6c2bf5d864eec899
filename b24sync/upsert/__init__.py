"""Upsert steps: read the portal's records (``state``), decide create, update or unchanged per
instance (``decide``), and lower each instance into the plain command it becomes (``lowering``);
instances that send nothing are ``unsent``."""

from b24sync.upsert.decide import Decision, Wanted, decide, same_value
from b24sync.upsert.lowering import Lowered, UpsertState, lower
from b24sync.upsert.state import read_state
from b24sync.upsert.unsent import Unsent, unsent_result

__all__ = [
    "Decision",
    "Lowered",
    "Unsent",
    "UpsertState",
    "Wanted",
    "decide",
    "lower",
    "read_state",
    "same_value",
    "unsent_result",
]
