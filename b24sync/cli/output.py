"""Everything the command line prints: redacted, and encodable whatever the portal sent.

One ``Output`` per command holds the run's redactor. It starts with the webhook code of ``--webhook``
and ``$B24_WEBHOOK_URL`` (valid or not), learns the secret values once the plan is known, and every
line a command prints, its errors included, passes it. Texts from a portal can hold a lone surrogate
(an escaped ``\\ud800`` in JSON), which no terminal encoding can write: it is shown as its escape.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

from b24sync.client.redaction import Redactor
from b24sync.planning.model import Plan
from b24sync.run.redacting import run_redactor

_KEY = "b24sync.output"


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates) written as backslash escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


class Output:
    """Prints through the run's redactor."""

    def __init__(self, environ: Mapping[str, str], webhook: str | None = None) -> None:
        self.environ = environ
        self.redact: Redactor = run_redactor(environ, webhooks=[webhook])

    def learn_webhook(self, url: str | None) -> None:
        """A webhook URL is in use (a target's ``webhook_env``, say): its code is redacted from now on."""
        self.redact = run_redactor(self.environ, webhooks=[url], base=self.redact)

    def learn(self, plan: Plan) -> None:
        """The plan is known: its secrets' values are redacted from now on."""
        self.redact = run_redactor(self.environ, plan=plan, base=self.redact)

    def echo(self, text: str, *, err: bool = False, nl: bool = True) -> None:
        """Print one text, redacted."""
        click.echo(printable(self.redact(text)), err=err, nl=nl)


def start_output(environ: Mapping[str, str], webhook: str | None) -> Output:
    """The ``Output`` of the command being run, kept on its click context."""
    output = Output(environ, webhook)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[_KEY] = output
    return output


def current_output(environ: Mapping[str, str]) -> Output:
    """The ``Output`` of the command being run (a fresh one outside a command)."""
    context = click.get_current_context(silent=True)
    found = context.meta.get(_KEY) if context is not None else None
    return found if isinstance(found, Output) else Output(environ)
