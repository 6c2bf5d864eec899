"""A small local runner of GitHub Actions workflows and composite actions, for testing them as written.

It runs every ``run:`` script with bash in the workspace, with the environment GitHub gives (``CI``,
``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``, ``RUNNER_TEMP``, ...), evaluates ``${{ }}`` expressions and
``if:`` conditions (contexts ``inputs``, ``secrets``, ``vars``, ``github``, ``runner``, ``steps``, ``env``;
``always()``, ``success()``, ``failure()``, ``format()``; ``==``, ``!=``, ``&&``, ``||``, ``!``), and stands
in for the few actions of others the recipes use: ``actions/checkout`` (the workspace is already there),
``actions/setup-python`` (the runner's ``bin`` folder is first on PATH) and ``actions/upload-artifact``
(the files are recorded, and must exist unless ``if-no-files-found: ignore``). ``uses:`` of any
``*/b24sync@*`` or ``./`` runs this repository's ``action.yml``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|'((?:[^']|'')*)'|(==|!=|&&|\|\||!|\(|\)|,)|([A-Za-z_][\w.\-]*))")


class WorkflowError(AssertionError):
    """The workflow cannot run here as written."""


def evaluate(expression: str, contexts: Mapping[str, Any], status: str = "success") -> Any:
    """The value of one expression, as GitHub computes it for the subset the recipes use."""
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = expression.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise WorkflowError(f"cannot read expression {expression!r} at {text[position:]!r}")
        number, string, operator, name = match.groups()
        if number is not None:
            tokens.append(("value", float(number)))
        elif string is not None:
            tokens.append(("value", string.replace("''", "'")))
        elif operator is not None:
            tokens.append(("op", operator))
        else:
            tokens.append(("name", name))
        position = match.end()
    parser = _Parser(tokens, contexts, status)
    value = parser.expression()
    if parser.position != len(tokens):
        raise WorkflowError(f"unexpected {tokens[parser.position]} in {expression!r}")
    return value


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], contexts: Mapping[str, Any], status: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.contexts = contexts
        self.status = status

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self) -> Any:
        left = self.conjunction()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.conjunction()
            left = left or right
        return left

    def conjunction(self) -> Any:
        left = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            left = left and right
        return left

    def comparison(self) -> Any:
        left = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            operator = self.take()[1]
            right = self.unary()
            same = _loose(left) == _loose(right)
            left = same if operator == "==" else not same
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "value":
            return value
        if (kind, value) == ("op", "("):
            inner = self.expression()
            self.take()
            return inner
        if kind != "name":
            raise WorkflowError(f"unexpected {value!r}")
        if self.peek() == ("op", "("):
            self.take()
            arguments: list[Any] = []
            while self.peek() != ("op", ")"):
                arguments.append(self.expression())
                if self.peek() == ("op", ","):
                    self.take()
            self.take()
            return self.call(value, arguments)
        if value in ("true", "false"):
            return value == "true"
        node: Any = self.contexts
        for part in value.split("."):
            node = node.get(part, "") if isinstance(node, Mapping) else ""
        return node

    def call(self, name: str, arguments: list[Any]) -> Any:
        if name == "always":
            return True
        if name == "success":
            return self.status == "success"
        if name == "failure":
            return self.status == "failure"
        if name == "format":
            template, *values = arguments
            return re.sub(r"\{(\d+)\}", lambda m: str(values[int(m[1])]), str(template))
        raise WorkflowError(f"the local runner knows no function {name}()")


def _loose(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _truthy(value: Any) -> bool:
    return bool(value) and value != 0


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """``text`` with every ``${{ ... }}`` replaced by its value."""

    def value(match: re.Match[str]) -> str:
        found = evaluate(match[1], contexts)
        if isinstance(found, bool):
            return "true" if found else "false"
        return "" if found is None else str(found)

    return _EXPRESSION.sub(value, text)


def condition(text: Any, contexts: Mapping[str, Any], status: str) -> bool:
    """Whether a step or job with ``if: text`` runs; without ``always()`` or ``failure()`` only on success."""
    if text is None:
        return status == "success"
    expression = str(text).strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    result = _truthy(evaluate(expression, contexts, status))
    if not re.search(r"\b(always|failure|success)\(", expression):
        result = result and status == "success"
    return result


@dataclass
class StepRun:
    """One step as it ran: its name, exit code and outputs (``None`` code: skipped)."""

    name: str
    code: int | None
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobRun:
    """A job as it ran: its steps, the job summary written, and the artifacts uploaded."""

    status: str
    steps: list[StepRun]
    summary: str
    artifacts: dict[str, list[Path]]

    def output(self) -> str:
        return "\n".join(step.stdout + step.stderr for step in self.steps)


@dataclass
class Runner:
    """Runs jobs in ``workspace`` with ``bin_dir`` first on PATH (the Python that ``setup-python`` gives)."""

    workspace: Path
    temp: Path
    bin_dir: Path
    secrets: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    event_name: str = "push"
    base_env: dict[str, str] = field(default_factory=dict)
    skip_steps: frozenset[str] = frozenset()
    """Names of action steps not to run (the install step, when ``bin_dir`` already has b24sync)."""
    action_root: Path = ROOT
    """The checkout ``uses: */b24sync@*`` runs (and installs b24sync from)."""

    def __post_init__(self) -> None:
        self.temp.mkdir(parents=True, exist_ok=True)
        self.summary_file = self.temp / "step-summary.md"
        self.summary_file.write_text("", encoding="utf-8")
        self.counter = 0

    def contexts(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {
            "secrets": self.secrets,
            "vars": self.variables,
            "github": {"event_name": self.event_name, "workspace": str(self.workspace)},
            "runner": {"temp": str(self.temp), "os": "Linux"},
        }
        found.update(extra or {})
        return found

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        path = f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        return {
            **self.base_env,
            "PATH": path,
            "HOME": os.environ.get("HOME", str(self.temp)),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_STEP_SUMMARY": str(self.summary_file),
            "RUNNER_TEMP": str(self.temp),
            **env,
        }

    def run_job(self, workflow: Mapping[str, Any], name: str) -> JobRun:
        job = workflow["jobs"][name]
        self.summary_file.write_text("", encoding="utf-8")
        env = {
            k: substitute(str(v), self.contexts())
            for k, v in {**workflow.get("env", {}), **job.get("env", {})}.items()
        }
        artifacts: dict[str, list[Path]] = {}
        runs: list[StepRun] = []
        status = "success"
        steps_context: dict[str, Any] = {}
        for index, step in enumerate(job["steps"]):
            contexts = self.contexts({"steps": steps_context, "env": env})
            title = step.get("name") or step.get("uses") or f"step {index}"
            if not condition(step.get("if"), contexts, status):
                runs.append(StepRun(title, None))
                continue
            run = self._step(step, contexts, env, artifacts, title)
            runs.append(run)
            if "id" in step:
                steps_context[step["id"]] = {"outputs": run.outputs}
            if run.code:
                status = "failure"
        return JobRun(status, runs, self.summary_file.read_text(encoding="utf-8"), artifacts)

    def _step(
        self,
        step: Mapping[str, Any],
        contexts: Mapping[str, Any],
        env: Mapping[str, str],
        artifacts: dict[str, list[Path]],
        title: str,
        action_path: Path | None = None,
    ) -> StepRun:
        step_env = {**env, **{k: substitute(str(v), contexts) for k, v in step.get("env", {}).items()}}
        if action_path is not None:
            step_env["GITHUB_ACTION_PATH"] = str(action_path)
        if "run" in step:
            return self._script(title, substitute(step["run"], contexts), step_env)
        uses = str(step["uses"])
        given = {k: substitute(str(v), contexts) for k, v in step.get("with", {}).items()}
        if uses.startswith(("actions/checkout@", "actions/setup-python@")):
            return StepRun(title, 0)
        if uses.startswith("actions/upload-artifact@"):
            return self._upload(title, given, artifacts)
        if uses == "./" or re.fullmatch(r"[^/]+/b24sync@.+", uses):
            return self.run_action(self.action_root, given, step_env, artifacts, title)
        raise WorkflowError(f"the local runner cannot stand in for {uses}")

    def run_action(
        self,
        folder: Path,
        given: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        artifacts: dict[str, list[Path]] | None = None,
        title: str = "b24sync",
    ) -> StepRun:
        """Run the composite action in ``folder`` with the inputs ``given``; its outputs are the run's."""
        action = yaml.safe_load((folder / "action.yml").read_text(encoding="utf-8"))
        inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
        unknown = set(given) - set(inputs)
        if unknown:
            raise WorkflowError(f"the action has no input {sorted(unknown)}")
        inputs.update(given)
        missing = [
            name for name, spec in action["inputs"].items() if spec.get("required") and not inputs[name]
        ]
        if missing:
            raise WorkflowError(f"the action needs the input {missing}")
        steps_context: dict[str, Any] = {}
        status = "success"
        outputs: list[StepRun] = []
        kept = artifacts if artifacts is not None else {}
        for index, step in enumerate(action["runs"]["steps"]):
            contexts = self.contexts(
                {"inputs": inputs, "steps": steps_context, "github": {
                    "event_name": self.event_name, "workspace": str(self.workspace), "action_path": str(folder)}}
            )  # fmt: skip
            name = step.get("name") or step.get("uses") or f"action step {index}"
            if "run" in step and step.get("shell") != "bash":
                raise WorkflowError(f"composite step {name!r} needs shell: bash")
            if name in self.skip_steps or not condition(step.get("if"), contexts, status):
                continue
            run = self._step(step, contexts, dict(env or {}), kept, name, action_path=folder)
            outputs.append(run)
            if "id" in step:
                steps_context[step["id"]] = {"outputs": run.outputs}
            if run.code:
                status = "failure"
        final = self.contexts({"inputs": inputs, "steps": steps_context})
        values = {
            name: substitute(str(spec["value"]), final) for name, spec in action.get("outputs", {}).items()
        }
        code = next((run.code for run in outputs if run.code), 0)
        return StepRun(
            title,
            code,
            values,
            "".join(run.stdout for run in outputs),
            "".join(run.stderr for run in outputs),
        )

    def _script(self, title: str, script: str, env: Mapping[str, str]) -> StepRun:
        self.counter += 1
        path = self.temp / f"step-{self.counter}.sh"
        output = self.temp / f"step-{self.counter}.output"
        path.write_text(script, encoding="utf-8")
        output.write_text("", encoding="utf-8")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
            cwd=self.workspace,
            env=self.environment({**env, "GITHUB_OUTPUT": str(output)}),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
        outputs = dict(
            line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if "=" in line
        )
        return StepRun(title, done.returncode, outputs, done.stdout, done.stderr)

    def _upload(self, title: str, given: Mapping[str, str], artifacts: dict[str, list[Path]]) -> StepRun:
        found: list[Path] = []
        for line in given.get("path", "").splitlines():
            if not line.strip():
                continue
            target = Path(line.strip())
            target = target if target.is_absolute() else self.workspace / target
            if target.is_dir():
                found.extend(sorted(p for p in target.rglob("*") if p.is_file()))
            elif target.exists():
                found.append(target)
        if not found and given.get("if-no-files-found", "warn") == "error":
            return StepRun(title, 1, stderr="no files to upload")
        artifacts[given.get("name", "artifact")] = found
        return StepRun(title, 0)


def launcher(folder: Path, root: Path = ROOT) -> Path:
    """A ``bin`` folder whose ``b24sync`` and ``python`` are this interpreter running this checkout."""
    import sys

    folder.mkdir(parents=True, exist_ok=True)
    for name, command in (
        ("b24sync", '"$B24SYNC_PYTHON" -m b24sync "$@"'),
        ("python", '"$B24SYNC_PYTHON" "$@"'),
    ):
        path = folder / name
        path.write_text(
            f'#!/bin/sh\nB24SYNC_PYTHON="{sys.executable}"\nPYTHONPATH="{root}" exec {command}\n',
            encoding="utf-8",
        )
        path.chmod(0o755)
    return folder
