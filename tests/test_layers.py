"""The layers of docs/architecture.md, enforced: imports point down, and the emulator stands apart.

Each module of ``b24sync/`` belongs to the layer named by its first path part (``b24sync/client/hook.py``
is in ``client``). A module may import its own layer and the layers below it, never one above;
``b24sync/emulator/`` imports nothing of b24sync but itself, so it cannot share the client's encoding
bugs; only ``run``, ``cli`` and the package's public face may import the emulator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "b24sync"
# Bottom up. The top of the package (``__init__``, ``__main__``) is the public face above them all.
LAYERS = (
    "errors",
    "version",
    "bitrix",
    "client",
    "pipeline",
    "report",
    "fields",
    "upsert",
    "planning",
    "run",
    "cli",
)
FACE = ("__init__", "__main__")
EMULATOR = "emulator"
EMULATOR_USERS = frozenset({"run", "cli", *FACE})


def _layer(module: str) -> str:
    """``b24sync.client.hook`` -> ``client``; ``b24sync`` itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    """Every b24sync module ``path`` imports (in functions and TYPE_CHECKING blocks too), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name == "b24sync" or name.startswith("b24sync.")]


def violations(root: Path) -> list[str]:
    """``file:line: why`` for every import that breaks the layer rules in the package at ``root``."""
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        module = ".".join(relative.parts)
        if relative.name == "__init__":
            module = module.rsplit(".", 1)[0]
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        own = _layer(module) if module.count(".") else "__init__"
        if relative.parts[1:2] == ("__main__",):
            own = "__main__"
        where = path.relative_to(root.parent)
        for line, imported in _imports(path, package):
            target = _layer(imported)
            if own == EMULATOR:
                if target != EMULATOR:
                    problems.append(
                        f"{where}:{line}: the emulator imports {imported}; it must import only itself"
                    )
                continue
            if target == EMULATOR:
                if own not in EMULATOR_USERS:
                    problems.append(f"{where}:{line}: {own} imports the emulator; only run and cli may")
                continue
            if own in FACE:
                continue
            if target in FACE or target not in LAYERS:
                problems.append(f"{where}:{line}: {own} imports {imported}, which is not a layer module")
                continue
            if own not in LAYERS:
                problems.append(f"{where}:{line}: {where} is in no layer (add it to LAYERS or move it)")
                continue
            if LAYERS.index(target) > LAYERS.index(own):
                problems.append(f"{where}:{line}: {own} imports {imported} from the {target} layer above it")
    return problems


def test_the_package_keeps_to_its_layers() -> None:
    assert violations(PACKAGE) == []


def test_the_top_of_the_package_holds_only_the_face_errors_and_version() -> None:
    modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py", "errors.py", "version.py"]
    packages = sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists())
    assert packages == sorted([*LAYERS[2:], EMULATOR])


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "b24sync"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"client/__init__.py": "", "client/hook.py": "from b24sync.run.executor import execute\n"},
            "b24sync/client/hook.py:1: client imports b24sync.run.executor from the run layer above it",
        ),
        (
            {"pipeline/__init__.py": "", "pipeline/x.py": "def f():\n    import b24sync.cli\n"},
            "b24sync/pipeline/x.py:2: pipeline imports b24sync.cli from the cli layer above it",
        ),
        (
            {"emulator/__init__.py": "", "emulator/app.py": "from b24sync.client import encoding\n"},
            "b24sync/emulator/app.py:1: the emulator imports b24sync.client; it must import only itself",
        ),
        (
            {"planning/__init__.py": "", "planning/x.py": "from b24sync.emulator import Emulator\n"},
            "b24sync/planning/x.py:1: planning imports the emulator; only run and cli may",
        ),
        (
            {"report/__init__.py": "", "report/x.py": "from ..upsert import lowering\n"},
            "b24sync/report/x.py:1: report imports b24sync.upsert from the upsert layer above it",
        ),
    ],
    ids=["upward", "upward-in-function", "emulator-out", "into-emulator", "relative-upward"],
)
def test_an_import_that_breaks_the_rules_is_reported(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert violations(_tree(tmp_path, files)) == [expected]


def test_downward_and_same_layer_imports_are_allowed(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "run/__init__.py": "from b24sync.run.executor import execute\n",
            "run/executor.py": "from b24sync.client.hook import B24Hook\nfrom b24sync.errors import UsageError\n",
            "__init__.py": "from b24sync.cli import main\n",
        },
    )
    assert violations(root) == []
