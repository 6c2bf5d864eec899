"""The redactor of one run: the webhook code and the value of every secret the run knows.

Everything b24sync shows passes it: the command line's output and errors, the plan file, and the run
report (and so JUnit and Markdown, which are rendered from it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from b24sync.client.redaction import Redactor
from b24sync.client.webhook import WEBHOOK_VARIABLE, webhook_code
from b24sync.planning.model import Plan
from b24sync.run.executor import required_secrets


def run_redactor(
    environ: Mapping[str, str],
    *,
    plan: Plan | None = None,
    webhooks: Iterable[str | None] = (),
    base: Redactor | None = None,
) -> Redactor:
    """A redactor for the webhook codes of ``webhooks`` and of ``$B24_WEBHOOK_URL``, and the values of
    the secrets ``plan`` sends (``base``'s secrets too)."""
    codes = [webhook_code(url) for url in (*webhooks, environ.get(WEBHOOK_VARIABLE))]
    values = [environ.get(name) for name in required_secrets(plan)] if plan is not None else []
    return (base or Redactor()).adding([*codes, *values])
