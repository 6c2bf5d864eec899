"""The portal a run talks to: a webhook URL, a ``B24Hook``, or the built-in emulator.

``Portal`` owns what it opened: closing it releases the HTTP session and, for an emulator with a
state file, writes the state through the one output writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import requests

from b24sync.client.hook import B24Hook, RetryPolicy
from b24sync.client.ratelimit import RateLimit
from b24sync.client.tls import Tls
from b24sync.client.webhook import check_webhook_url
from b24sync.errors import UsageError
from b24sync.report.files import write_output

if TYPE_CHECKING:
    from b24sync.emulator import Emulator

PortalLike = Union["Portal", B24Hook, "Emulator", str]
"""What the workflow functions accept as a portal: a ``Portal``, a client, an emulator or a webhook URL."""


class Portal:
    """A client, and the emulator behind it when there is one."""

    def __init__(
        self,
        client: B24Hook,
        *,
        emulator: Emulator | None = None,
        state_path: str | None = None,
        owned: bool = True,
    ) -> None:
        self.client = client
        self.emulator = emulator
        self.state_path = state_path
        self._owned = owned

    @classmethod
    def webhook(
        cls,
        url: str,
        *,
        rate_limit: str | RateLimit | None = None,
        tls: Tls | None = None,
        allow_http: bool = False,
        timeout: float | None = None,
    ) -> Portal:
        """A real portal: the standard rate limit unless told otherwise.

        ``tls`` says how its certificate is checked (a CA bundle, or no check on loopback);
        ``allow_http`` lets a self-hosted portal be reached over plain http; ``timeout`` is the
        deadline of one call with its retries (``RetryPolicy.deadline``).
        """
        webhook = check_webhook_url(url, allow_http=allow_http)
        verify = (tls or Tls()).verify_for(webhook.host)
        retry = RetryPolicy(deadline=timeout) if timeout is not None else None
        return cls(B24Hook(webhook, rate_limit=_limit(rate_limit, "standard"), verify=verify, retry=retry))

    @classmethod
    def emulator_portal(
        cls,
        emulator: Emulator | None = None,
        *,
        state_path: str | None = None,
        rate_limit: str | RateLimit | None = None,
    ) -> Portal:
        """An in-process emulator (a new one, loading ``state_path`` when given); no rate limit by default."""
        if emulator is None:
            from b24sync.emulator import Emulator, EmulatorError

            try:
                emulator = Emulator(state_path=state_path)
            except EmulatorError as error:
                raise UsageError(str(error)) from None
        session = emulator.mount(requests.Session())
        client = B24Hook(emulator.webhook_url, session=session, rate_limit=_limit(rate_limit, "off"))
        return cls(client, emulator=emulator, state_path=state_path)

    @classmethod
    def of(cls, portal: PortalLike, *, rate_limit: str | RateLimit | None = None) -> Portal:
        """A ``Portal`` for anything ``PortalLike``; a ``Portal`` or client given is used as it is."""
        if isinstance(portal, Portal):
            return portal
        if isinstance(portal, B24Hook):
            return cls(portal, owned=False)
        if isinstance(portal, str):
            return cls.webhook(portal, rate_limit=rate_limit)
        if hasattr(portal, "mount") and hasattr(portal, "webhook_url"):
            return cls.emulator_portal(portal, rate_limit=rate_limit)
        raise UsageError(
            f"a portal must be a webhook URL, a B24Hook or an Emulator, not {type(portal).__name__}"
        )

    def close(self, *, save: bool = True) -> None:
        """Release what this portal opened; save the emulator's state when it has a state file.

        ``save=False`` leaves the state file as it was: a plan only reads, and never writes it.
        """
        if self._owned:
            self.client.close()
        if save and self.emulator is not None and self.state_path:
            write_output(
                self.state_path, self.emulator.state_text(), what="emulator state", make_parents=True
            )

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _limit(spec: str | RateLimit | None, default: str) -> RateLimit | None:
    return RateLimit.parse(spec if spec is not None else default)
