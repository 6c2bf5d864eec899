"""A seeded mutator of pipelines/*.yaml and their data files, and the check every mutant must pass.

Each mutant runs ``validate``, ``plan`` and ``apply --emulator`` in-process. It passes when every
command ends with an exit code from 0 to 3, prints no traceback and no internal error, and finishes
before its deadline (SIGALRM, so a hang fails the case instead of the suite).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

from b24sync.cli import main

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = sorted((ROOT / "pipelines").glob("*.yaml"))
DATA = ROOT / "pipelines" / "data"

HOSTILE = [
    "{{ 10**5000 }}",
    "{{ 'a' * 10**9 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ env('B24_WEBHOOK_URL') }}",
    "{{ secret('B24_WEBHOOK_URL') }}",
    "{{ vars.update({'x': 1}) }}",
    "{{ 1 if ''.__class__ else 2 }}",
    "{{ steps.nope.id }}",
    "{{ steps }}",
    "{{ item }}",
    "{{ lipsum(10**9) }}",
    "{{ 'x'|center(10**9) }}",
    "{{ '%0999999999d' % 1 }}",
    "$result[a][id]",
    "$secret[X]",
    "\\0",
    "\\ud800",
    "9" * 5000,
    "-1",
    "1e999",
    "[" * 600 + "]" * 600,
    "*undefined_alias",
    "&a [*a]",
    "!!python/object:os.system x",
    "{{ steps.company.item.id }}",
    "{{ ",
    "{% if %}",
    "",
    "null",
    "true",
    "[]",
    "{}",
    "'",
    '"',
]
ALIAS_BOMB = 'b0: &b0 ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"b{i}: &b{i} [" + ",".join([f"*b{i - 1}"] * 9) + "]\n" for i in range(1, 8)
)


class Hang(BaseException):
    """A case went past its deadline (a BaseException, so nothing in b24sync can swallow it)."""


@dataclass
class Findings:
    """What a fuzzing run saw."""

    cases: int = 0
    runs: int = 0
    exit_codes: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    """First mutant text of each distinct cause."""


def _mutate_text(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        if not lines:
            break
        at = rng.randrange(len(lines))
        choice = rng.randrange(9)
        if choice == 0:
            del lines[at]
        elif choice == 1:
            lines.insert(at, lines[rng.randrange(len(lines))])
        elif choice == 2 and ":" in lines[at]:
            key, _, _ = lines[at].partition(":")
            lines[at] = (
                f"{key}: {rng.choice(HOSTILE)!r}" if rng.random() < 0.5 else f"{key}: {rng.choice(HOSTILE)}"
            )
        elif choice == 3:
            value = rng.choice(HOSTILE)
            lines[at] = lines[at].replace("{{ item.", "{{ " + value.strip("{} ")[:40] + " ~ item.", 1)
        elif choice == 4:
            cut = rng.randrange(len(lines[at]) + 1)
            lines[at] = (
                lines[at][:cut]
                + rng.choice(["{", "}", "[", "]", ":", "-", "&x", "*x", "'", "\t", "  "])
                + lines[at][cut:]
            )
        elif choice == 5:
            lines[at] = " " * rng.randint(0, 6) + lines[at].lstrip()
        elif choice == 6:
            lines.insert(at, ALIAS_BOMB.rstrip("\n")) if at == 0 or not lines[at - 1].startswith(
                " "
            ) else None
        elif choice == 7:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[at] = lines[at].replace(
                "item.", rng.choice(["item.nope.", "item[0].", "loop.", "vars."]), 1
            )
    return "\n".join(lines) + ("\n" if rng.random() < 0.9 else "")


def _mutate_data(rng: random.Random, text: str, suffix: str) -> str:
    if suffix == ".jsonl" and rng.random() < 0.3:
        return text + rng.choice(
            ['{"n": ' + "9" * 5000 + "}\n", "[" * 100_000 + "]" * 100_000 + "\n", '{"a": NaN}\n']
        )
    if suffix in (".yaml", ".yml") and rng.random() < 0.3:
        return ALIAS_BOMB + "rows: *b7\n"
    if suffix == ".csv" and rng.random() < 0.3:
        return text + rng.choice(['"unterminated\n', "a,b,c,d,e,f,g\n", "\x00\n", ",,,\n"])
    return _mutate_text(rng, text)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _cause(output: str, exception: BaseException | None) -> str | None:
    if exception is not None and not isinstance(exception, SystemExit):
        return f"{type(exception).__name__}: {str(exception)[:80]}"
    for marker in ("Traceback", "internal error"):
        if marker in output:
            tail = output[output.index(marker) :].splitlines()[0]
            return tail[:120]
    return None


def run_case(workdir: Path, pipeline: str, findings: Findings, per_case: float) -> None:
    """Run the three commands on one mutant; record any cause of failure."""
    file = workdir / "p.yaml"
    file.write_text(pipeline, encoding="utf-8", errors="surrogateescape")
    findings.cases += 1
    commands = [
        ["validate", str(file)],
        ["plan", str(file), "--emulator"],
        ["apply", str(file), "--emulator", "--report", str(workdir / "r.json"), "--no-progress"],
    ]
    for args in commands:
        findings.runs += 1
        try:
            with deadline(per_case):
                result = CliRunner().invoke(
                    main, args, env={"B24_WEBHOOK_URL": None, "GITHUB_STEP_SUMMARY": ""}
                )
        except Hang as error:
            findings.failures.setdefault(f"hang in {args[0]}", pipeline)
            del error
            continue
        findings.exit_codes[result.exit_code] = findings.exit_codes.get(result.exit_code, 0) + 1
        cause = _cause(result.output, result.exception)
        if cause is None and result.exit_code not in (0, 1, 2, 3):
            cause = f"exit code {result.exit_code}"
        if cause is not None:
            findings.failures.setdefault(f"{args[0]}: {cause}", pipeline)
        if result.exit_code == 2 and args[0] == "validate":
            break  # an invalid file: plan and apply say the same


def _mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    """A few bytes flipped, a slice dropped or repeated, or the file cut short."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        where = rng.randrange(len(data))
        choice = rng.random()
        if choice < 0.5:
            data[where] = rng.randrange(256)
        elif choice < 0.7:
            del data[where : where + rng.randint(1, 64)]
        elif choice < 0.9:
            data[where:where] = data[where : where + rng.randint(1, 64)]
        else:
            del data[where:]
    return bytes(data)


def fuzz(
    workdir: Path,
    seed: int,
    *,
    cases: int | None = None,
    seconds: float | None = None,
    per_case: float = 10.0,
) -> Findings:
    """Mutate and run until ``cases`` mutants or ``seconds`` have passed."""
    rng = random.Random(seed)
    findings = Findings()
    sources = [(path, path.read_text(encoding="utf-8")) for path in PIPELINES]
    data_files = sorted(DATA.iterdir())
    started = time.monotonic()
    while (cases is None or findings.cases < cases) and (
        seconds is None or time.monotonic() - started < seconds
    ):
        data = workdir / "data"
        if data.exists():
            shutil.rmtree(data)
        shutil.copytree(DATA, data)
        _, text = rng.choice(sources)
        if rng.random() < 0.25:
            victim = rng.choice(data_files)
            raw = victim.read_bytes()
            try:
                original = raw.decode("utf-8")
            except UnicodeDecodeError:
                # a Windows-1251 CSV, a workbook, a database: mutated as bytes
                (data / victim.name).write_bytes(_mutate_bytes(rng, raw))
            else:
                mutated = _mutate_data(rng, original, victim.suffix)
                (data / victim.name).write_text(mutated, encoding="utf-8")
        else:
            text = _mutate_text(rng, text)
        run_case(workdir, text, findings, per_case)
    return findings
