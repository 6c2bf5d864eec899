"""Targets: named portals in ``b24sync.toml`` (or ``[tool.b24sync]`` of pyproject.toml), and which one a
command talks to.

::

    default_target = "staging"          # optional; without it the default is the built-in emulator

    [targets.prod]
    webhook_env = "B24_PROD_WEBHOOK"    # the environment variable holding the webhook URL
    plan = "enterprise"                 # the portal's Bitrix24 plan: its rate limit

    [targets.local]
    emulator = true
    emulator_state = ".b24sync/portal.json"

A webhook URL is a password, so a target names the variable that holds it, never the URL. The order a
command picks its portal in (``choose``): ``--emulator``/``--emulator-state``, ``--webhook URL``,
``--target NAME``, ``$B24_WEBHOOK_URL``, the config's ``default_target``, and last the built-in
emulator, so commands work out of the box. Paths in a config file are relative to its folder.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictStr, ValidationError, model_validator

from b24sync.bitrix.limits import PLAN_RATES
from b24sync.client.ratelimit import RateLimit
from b24sync.client.tls import Tls
from b24sync.errors import UsageError, format_path
from b24sync.pipeline.models import Frozen
from b24sync.run.portal import Portal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "b24sync.toml"
PYPROJECT = "pyproject.toml"
WEBHOOK_ENV = "B24_WEBHOOK_URL"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
TARGET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

Plan = Literal["free", "basic", "standard", "professional", "enterprise"]


class TargetSpec(Frozen):
    """One named portal: a webhook from the environment, or the built-in emulator."""

    webhook_env: StrictStr | None = Field(default=None, pattern=ENV_NAME)
    emulator: StrictBool = False
    emulator_state: StrictStr | None = None
    plan: Plan | None = None
    rate_limit: StrictStr | None = None
    ca_bundle: StrictStr | None = None
    insecure: StrictBool = False
    allow_insecure_remote: StrictBool = False
    allow_http: StrictBool = False

    @model_validator(mode="after")
    def _one_portal(self) -> TargetSpec:
        if (self.webhook_env is None) == (not self.emulator):
            raise ValueError('a target needs exactly one of webhook_env = "NAME" and emulator = true')
        if self.emulator_state is not None and not self.emulator:
            raise ValueError("emulator_state is for emulator targets")
        if self.plan is not None and self.rate_limit is not None:
            raise ValueError("give plan or rate_limit, not both")
        return self


class Config(Frozen):
    """The ``b24sync.toml`` file (or the ``[tool.b24sync]`` table)."""

    default_target: StrictStr | None = None
    targets: dict[str, TargetSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> Config:
        for name in self.targets:
            if not re.fullmatch(TARGET_NAME, name):
                raise ValueError(f"target name {name!r} must be letters, digits, '_', '.' or '-'")
        if self.default_target is not None and self.default_target not in self.targets:
            raise ValueError(f"default_target {self.default_target!r} is not one of [targets]")
        return self


@dataclass(frozen=True)
class LoadedConfig:
    """A config and the file it came from (paths in it are relative to that file's folder)."""

    path: Path
    config: Config

    @property
    def folder(self) -> Path:
        """The folder of the config file."""
        return self.path.parent


@dataclass(frozen=True)
class Choice:
    """The portal a command will use, and why: what ``open_portal`` opens."""

    kind: Literal["webhook", "emulator"]
    reason: str
    """What picked it, for messages: ``--target prod``, ``$B24_WEBHOOK_URL``, ``the default``."""
    url: str | None = field(default=None, repr=False)
    state_path: str | None = None
    rate_limit: str | RateLimit | None = None
    tls: Tls = field(default_factory=Tls)
    allow_http: bool = False
    target: str | None = None
    implicit: bool = False
    """True when nothing named a portal and the built-in emulator was taken."""
    timeout: float | None = None
    """Seconds one call to the portal may take with its retries (``--timeout``); ``None``: the default."""


def find_config(start: str | os.PathLike[str]) -> Path | None:
    """The nearest ``b24sync.toml``, or pyproject.toml with ``[tool.b24sync]``, in ``start`` or above."""
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / CONFIG_FILE
        if own.is_file():
            return own
        pyproject = candidate / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read and check a config file; every problem is one ``UsageError`` naming the file and the key."""
    where = Path(path)
    data = _tool_table(where) if where.name == PYPROJECT else _read_toml(where)
    table = "tool.b24sync." if where.name == PYPROJECT else ""
    try:
        config = Config.model_validate(data or {})
    except ValidationError as error:
        raise UsageError(f"{where}: {_first_problem(error, table)}") from None
    return LoadedConfig(where, config)


def choose(
    loaded: LoadedConfig | None,
    environ: Mapping[str, str],
    *,
    target: str | None = None,
    webhook: str | None = None,
    emulator: bool = False,
    emulator_state: str | None = None,
    rate_limit: str | None = None,
    tls: Tls | None = None,
    allow_http: bool | None = None,
) -> Choice:
    """The portal the options, the environment and the config name, in the documented order.

    ``rate_limit``, ``tls`` and ``allow_http`` given here (from the command line) override a target's own.
    """
    use_emulator = emulator or emulator_state is not None
    named = [name for name, given in (("--emulator", use_emulator), ("--webhook", webhook)) if given]
    if target is not None:
        named.append("--target")
    if len(named) > 1:
        raise UsageError(f"{' and '.join(named)} both name the portal: choose one")
    overrides = _Overrides(rate_limit, tls, allow_http)
    if use_emulator:
        what = "--emulator" if emulator else "--emulator-state"
        return overrides.apply(Choice("emulator", what, state_path=emulator_state))
    if webhook:
        return overrides.apply(Choice("webhook", "--webhook", url=webhook))
    if target is not None:
        return _target_choice(loaded, target, environ, overrides, f"--target {target}")
    if WEBHOOK_ENV in environ:
        url = environ[WEBHOOK_ENV]
        if not url.strip():
            raise UsageError(
                f"${WEBHOOK_ENV} is set but empty (is the CI secret missing?): put the webhook URL in it, "
                f"or unset it to use a target or the built-in emulator"
            )
        return overrides.apply(Choice("webhook", f"${WEBHOOK_ENV}", url=url))
    if loaded is not None and loaded.config.default_target is not None:
        name = loaded.config.default_target
        return _target_choice(loaded, name, environ, overrides, f"default_target {name} of {loaded.path}")
    return overrides.apply(Choice("emulator", "the default (no target given)", implicit=True))


def open_portal(choice: Choice) -> Portal:
    """Open the portal of a ``Choice``."""
    if choice.kind == "emulator":
        return Portal.emulator_portal(state_path=choice.state_path, rate_limit=choice.rate_limit)
    assert choice.url is not None
    return Portal.webhook(
        choice.url,
        rate_limit=choice.rate_limit,
        tls=choice.tls,
        allow_http=choice.allow_http,
        timeout=choice.timeout,
    )


def describe(choice: Choice) -> str:
    """One line for people: which portal, and what picked it (never the webhook URL)."""
    if choice.kind == "emulator":
        where = f" with state {choice.state_path}" if choice.state_path else ""
        return f"the built-in emulator{where} ({choice.reason})"
    return f"the webhook of {choice.reason}"


@dataclass(frozen=True)
class _Overrides:
    rate_limit: str | None
    tls: Tls | None
    allow_http: bool | None

    def apply(self, choice: Choice) -> Choice:
        from dataclasses import replace

        changes: dict[str, Any] = {}
        if self.rate_limit is not None:
            changes["rate_limit"] = self.rate_limit
        if self.tls is not None and self.tls != Tls():
            changes["tls"] = self.tls
        if self.allow_http:
            changes["allow_http"] = True
        return replace(choice, **changes) if changes else choice


def _target_choice(
    loaded: LoadedConfig | None, name: str, environ: Mapping[str, str], overrides: _Overrides, reason: str
) -> Choice:
    if loaded is None:
        raise UsageError(
            f"no target {name!r}: there is no {CONFIG_FILE} (or [tool.b24sync] in {PYPROJECT}) here or "
            f"in a folder above; add one with [targets.{name}]"
        )
    targets = loaded.config.targets
    spec = targets.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(targets), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(targets)) or "none"
        raise UsageError(f"{loaded.path}: no target {name!r}{hint}; targets: {known}")
    rate: str | RateLimit | None = spec.rate_limit
    if spec.plan is not None:
        rate = RateLimit(*PLAN_RATES[spec.plan])
    tls = Tls(
        ca_bundle=_relative(loaded, spec.ca_bundle),
        insecure=spec.insecure,
        allow_insecure_remote=spec.allow_insecure_remote,
    )
    if spec.emulator:
        choice = Choice(
            "emulator",
            reason,
            state_path=_relative(loaded, spec.emulator_state),
            rate_limit=rate,
            target=name,
        )
        return overrides.apply(choice)
    assert spec.webhook_env is not None
    url = environ.get(spec.webhook_env, "")
    if not url.strip():
        state = "is empty" if spec.webhook_env in environ else "is not set"
        raise UsageError(
            f"target {name}: ${spec.webhook_env} {state}: export the webhook URL in it "
            "(in CI, from the secret store)"
        )
    choice = Choice(
        "webhook", reason, url=url, rate_limit=rate, tls=tls, allow_http=spec.allow_http, target=name
    )
    return overrides.apply(choice)


def _relative(loaded: LoadedConfig, path: str | None) -> str | None:
    if path is None:
        return None
    return path if os.path.isabs(path) else str(loaded.folder / path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: not valid TOML: {error}") from None


def _has_tool_table(pyproject: Path) -> bool:
    """Whether a pyproject.toml holds ``[tool.b24sync]``; one that cannot be read is some other tool's."""
    try:
        return _tool_table(pyproject) is not None
    except UsageError:
        return False


def _tool_table(pyproject: Path) -> dict[str, Any] | None:
    tool = _read_toml(pyproject).get("tool")
    table = tool.get("b24sync") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None


def _first_problem(error: ValidationError, prefix: str) -> str:
    problems = []
    for detail in error.errors(include_url=False):
        loc = tuple(
            part for part in detail["loc"] if not (isinstance(part, str) and part.startswith("function"))
        )
        where = prefix + format_path(loc) if loc else prefix.rstrip(".")
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden" and loc:
            model = TargetSpec if len(loc) == 3 and loc[0] == "targets" else Config
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
            message = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)
