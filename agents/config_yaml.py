"""YAML parsing that remembers where every key and list item was written.

Validation errors must point at ``bad.yaml:12:5``; PyYAML's constructed objects have no
positions, so the node tree is walked once to record the mark of each mapping key and sequence
item by path before the document is constructed.

Two deliberate departures from plain ``yaml.safe_load``:

- ``${VAR}`` references may stand anywhere, also inside flow collections, where ``{``, ``}``
  and ``,`` are syntax: SPEC 2.1's own minimal config is ``{..., api_key: ${ANTHROPIC_API_KEY}}``.
  Before parsing, the indicator characters inside each reference are swapped for private-use
  characters (one for one, so line and column numbers do not move) and swapped back in every
  parsed string afterwards.
- Booleans are YAML 1.2's ``true``/``false`` only, and there are no implicit timestamps: a
  guardrail set named ``off`` or a value ``NO`` stays a string, ``2024-01-01`` stays text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["Marks", "Path", "YamlDocument", "YamlSyntaxError", "parse_yaml"]

Path = tuple[str | int, ...]
Marks = dict[Path, tuple[int, int]]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


_BOOL_TAG = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and without implicit timestamps."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP_TAG, _BOOL_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

# --- ${VAR} references inside flow collections ---------------------------------------------

_REFERENCE = re.compile(r"\$\$?\{[^}\n]*\}")
_INDICATORS = "${}[],:#&*!|>'\"%@`?-"
_SHIELD = {c: chr(0xE000 + i) for i, c in enumerate(_INDICATORS)}
_UNSHIELD = str.maketrans({v: k for k, v in _SHIELD.items()})
_SHIELD_TABLE = str.maketrans(_SHIELD)


def _shield(text: str) -> tuple[str, bool]:
    """Hide YAML indicators inside ``${...}`` (same length, so marks stay exact)."""
    if any(ch in text for ch in _SHIELD.values()):
        return text, False  # the text already uses our private characters: leave it alone
    shielded = _REFERENCE.sub(lambda m: m.group(0).translate(_SHIELD_TABLE), text)
    return shielded, shielded != text


def _unshield(value: Any) -> Any:
    if isinstance(value, str):
        return value.translate(_UNSHIELD)
    if isinstance(value, dict):
        return {_unshield(k): _unshield(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshield(v) for v in value]
    return value


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class YamlDocument:
    data: Any
    marks: Marks
    duplicate_keys: list[tuple[Path, tuple[int, int]]]


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


#: Upper bound on nodes visited, aliases expanded. Aliases are shared when constructed, but
#: everything after parsing (interpolation, validation) walks them expanded: without a bound a
#: "billion laughs" document would hang the loader (the Admin API accepts YAML).
MAX_NODES = 200_000


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NODES

    def spend(self, node: Node) -> None:
        self.left -= 1
        if self.left < 0:
            line, column = _mark(node)
            raise YamlSyntaxError(
                f"invalid YAML: document too large (more than {MAX_NODES} nodes once aliases "
                "are expanded)",
                line,
                column,
            )


def _walk(
    node: Node,
    path: Path,
    doc_marks: Marks,
    dupes: list[tuple[Path, tuple[int, int]]],
    active: set[int],
    budget: _Budget,
) -> None:
    budget.spend(node)
    if id(node) in active:  # recursive alias (&a [*a]); the constructor reports nothing useful
        return
    active.add(id(node))
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key_path = (*path, key_node.value)
            if key_node.value in seen:
                dupes.append((key_path, _mark(key_node)))
            seen.add(key_node.value)
            doc_marks.setdefault(key_path, _mark(key_node))
            _walk(value_node, key_path, doc_marks, dupes, active, budget)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            item_path = (*path, index)
            doc_marks.setdefault(item_path, _mark(item))
            _walk(item, item_path, doc_marks, dupes, active, budget)
    active.discard(id(node))


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document; ``YamlSyntaxError`` carries the 1-based position of the error.

    An empty document parses as ``{}`` (an empty config is valid).
    """
    text, shielded = _shield(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument({}, {}, [])
        marks: Marks = {(): _mark(node)}
        dupes: list[tuple[Path, tuple[int, int]]] = []
        _walk(node, (), marks, dupes, set(), _Budget())
        data = loader.construct_document(node)
        if shielded:
            data = _unshield(data)
            marks = {tuple(_unshield(p) for p in path): mark for path, mark in marks.items()}
            dupes = [(tuple(_unshield(p) for p in path), mark) for path, mark in dupes]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "syntax error"
        if exc.context and exc.problem:
            problem = f"{problem} ({exc.context})"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise YamlSyntaxError(f"invalid YAML: {problem}", line, column) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None, None) from None
    finally:
        loader.dispose()
    return YamlDocument(data if data is not None else {}, marks, dupes)
