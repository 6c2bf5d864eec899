"""YAML loading that remembers where every value came from and refuses duplicate keys.

A pipeline error must point at its source (``file:line:col``), so loading keeps, for every node, the
1-based line and column of the value and (inside mappings) of its key. Only plain YAML data is
accepted: mappings with scalar keys, sequences, and the core scalar types.

A file is measured before it is built (``pipeline.limits``): nesting, the values it expands to and
their text, aliases counted at every use. An alias bomb or a file nested thousands of levels deep is
refused with one problem at the line where it goes over, before libyaml's recursive composer or the
builder could exhaust the stack or the memory. The same holds under keys the models do not know and in
``.yaml`` data files, which load through here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    ScalarEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from b24sync.errors import Location, PipelineError, Problem, format_path
from b24sync.pipeline.limits import MAX_ALIASED, MAX_DEPTH, MAX_DIGITS, MAX_NODES, MAX_TEXT

Path = Location
Position = tuple[int, int]

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null")}
# YAML 1.1 would turn `2024-01-01` into a date object, which is not JSON data: keep the text.
_TEXT_TAGS = {_TAG + "timestamp"}
_NUMBER_TAGS = {_TAG + "int", _TAG + "float"}

# libyaml's parser is several times faster; both keep the same marks.
_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDocument:
    """A loaded YAML document: its value plus the position of every value and key in it."""

    file: str
    value: object
    values: Mapping[Path, Position] = field(repr=False)
    keys: Mapping[Path, Position] = field(repr=False)

    def position(self, path: Path, *, key: bool = False) -> Position:
        """Where ``path`` is, or the nearest enclosing value that exists."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return (1, 1)

    def problem(self, path: Path, message: str, *, key: bool = False, code: str = "invalid") -> Problem:
        """A problem located at ``path`` in this document."""
        line, col = self.position(path, key=key)
        return Problem(self.file, line, col, format_path(path), message, code)


def _mark(node: Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node tree into plain data, recording positions and problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[Path, Position] = {}
        self.keys: dict[Path, Position] = {}
        self.problems: list[Problem] = []
        self.constructor = SafeConstructor()
        self.active: set[int] = set()

    def fail(self, node: Node, path: Path, message: str) -> None:
        line, col = _mark(node)
        self.problems.append(Problem(self.file, line, col, format_path(path), message, "yaml"))

    def build(self, node: Node, path: Path) -> object:
        self.values[path] = _mark(node)
        if id(node) in self.active:
            self.fail(node, path, "a YAML alias refers to itself; use plain data")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(child, (*path, index)) for index, child in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
        finally:
            self.active.discard(id(node))
        self.fail(node, path, "unsupported YAML node")
        return None

    def scalar(self, node: ScalarNode, path: Path) -> object:
        if node.tag in _TEXT_TAGS:
            return str(node.value)
        if node.tag not in _PLAIN_TAGS:
            self.fail(node, path, f"unsupported YAML tag {node.tag}; use plain strings, numbers and lists")
            return None
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_DIGITS:
            self.fail(
                node,
                path,
                f"a number of {len(node.value)} characters; at most {MAX_DIGITS} digits are read "
                "(quote it to keep it as text)",
            )
            return None
        return self.constructor.construct_object(node)

    def mapping(self, node: MappingNode, path: Path) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                self.fail(key_node, path, "YAML merge keys (<<) are not supported")
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _PLAIN_TAGS | _TEXT_TAGS:
                self.fail(key_node, path, "a mapping key must be a plain scalar")
                continue
            key = str(key_node.value) if key_node.tag == _TAG + "str" else str(self.scalar(key_node, path))
            child = (*path, key)
            if key in result:
                first = self.keys[child]
                self.fail(key_node, child, f"duplicate key {key!r} (first defined at line {first[0]})")
                continue
            self.keys[child] = _mark(key_node)
            result[key] = self.build(value_node, child)
        return result


def _measure(text: str, file: str) -> None:
    """Refuse a document over the limits of ``pipeline.limits``, reading its events only (no nodes)."""
    open_at: list[tuple[str | None, int, int]] = []  # anchor, values and text before the collection
    sizes: dict[str, tuple[int, int]] = {}
    values = chars = aliased = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, CollectionStartEvent):
            values += 1
            if len(open_at) >= MAX_DEPTH:
                _over(file, event, f"the YAML nests deeper than {MAX_DEPTH} levels")
            open_at.append((event.anchor, values - 1, chars))
        elif isinstance(event, CollectionEndEvent):
            anchor, values_before, chars_before = open_at.pop()
            if anchor is not None:
                sizes[anchor] = (values - values_before, chars - chars_before)
        elif isinstance(event, ScalarEvent):
            values += 1
            chars += len(event.value)
            if event.anchor is not None:
                sizes[event.anchor] = (1, len(event.value))
        elif isinstance(event, AliasEvent):
            # an alias to a collection still open refers to itself: the builder reports it
            more_values, more_chars = sizes.get(event.anchor or "", (1, 0))
            values += more_values
            chars += more_chars
            aliased += more_values
            if aliased > MAX_ALIASED:
                _over(
                    file,
                    event,
                    f"the YAML's aliases expand to more than {MAX_ALIASED:,} values (an alias bomb?): "
                    "write the repeated data out, or read it from a data file",
                )
        else:
            continue
        if values > MAX_NODES or chars > MAX_TEXT:
            what = f"{MAX_NODES:,} values" if values > MAX_NODES else f"{MAX_TEXT // 2**20} MiB of text"
            _over(file, event, f"the YAML expands to more than {what} (aliases count at every use)")


def _over(file: str, event: Event, message: str) -> NoReturn:
    mark = event.start_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    raise PipelineError([Problem(file, line, col, "", message, "yaml")])


def load_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; raise ``PipelineError`` with every problem found."""
    try:
        _measure(text, file)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = error.problem or str(error)
        if "maximum nesting depth" in what:
            # newer libyaml stops deep flow collections itself, before the events reach _measure
            raise PipelineError(
                [Problem(file, line, col, "", f"the YAML nests deeper than {MAX_DEPTH} levels", "yaml")]
            ) from None
        context = f" ({error.context})" if error.context and error.problem else ""
        problem = Problem(file, line, col, "", f"YAML syntax error: {what}{context}", "yaml-syntax")
        raise PipelineError([problem]) from None
    except yaml.YAMLError as error:
        raise PipelineError([Problem(file, 1, 1, "", f"YAML error: {error}", "yaml-syntax")]) from None
    if node is None:
        return YamlDocument(file, None, {(): (1, 1)}, {})
    builder = _Builder(file)
    value = builder.build(node, ())
    if builder.problems:
        raise PipelineError(builder.problems)
    return YamlDocument(file, value, builder.values, builder.keys)
