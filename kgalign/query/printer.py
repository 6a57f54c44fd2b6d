"""Print an AST back as canonical DSL text: ``parse(to_dsl(node)) == node`` for every parsed node.

Canonical means: lowercase keywords, one space between tokens, strings in double quotes,
thresholds as ``with field op value`` (``min``/``max`` become ``>=``/``<=``), modifiers in the
order ``in graph``, ``with``, ``where``, ``order by``, ``limit``, and parentheses only where
the precedence of ``and`` over ``or``/``except`` needs them.

>>> from kgalign.query.parser import parse
>>> to_dsl(parse("SYMBOLS similar TO 'duty of care'  MIN similarity 0.5 LIMIT 10"))
'symbols similar to "duty of care" with similarity >= 0.5 limit 10'

The results filter of a question that ends in a symbol is printed after ``symbols``, since
``in graph`` right after a symbol qualifies the symbol:

>>> to_dsl(parse("symbols similar to duty_of_care limit 5 in graph law"))
'symbols in graph law similar to duty_of_care limit 5'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kgalign.query.ast import (
    Align,
    BlindSpots,
    Bridges,
    Explain,
    ExplainFeature,
    FeatureRef,
    FeaturesOf,
    GraphRef,
    Modifiers,
    PruningCandidates,
    Query,
    RulesUsing,
    SetOp,
    SharingFeatures,
    SimilarTo,
    SparqlQuery,
    SparqlSource,
    SymbolRef,
    SymbolsActivating,
    UnstableSymbols,
)

__all__ = ["to_dsl", "to_dsl_script"]

# The same shapes as NAME, CURIE and IRI in grammars/kgalign.lark.
_NAME = re.compile(r"[^\W\d](?:[\w-]*\w)?")
_CURIE = re.compile(r"(?:[^\W\d](?:[\w.-]*[\w-])?)?:(?:[\w%-](?:[\w.:%-]*[\w:%-])?)?")
_IRI = re.compile(r'[^<>"{}|^`\\\x00-\x20]*')
_PRECEDENCE = {"or": 1, "except": 1, "and": 2}


def to_dsl(node: Query) -> str:
    """The canonical DSL text of ``node``."""
    if isinstance(node, Explain):
        return "explain " + to_dsl(node.query)
    if isinstance(node, SparqlQuery):
        return node.text
    if isinstance(node, SetOp):
        return _set_op(node)
    return _question(node)


def to_dsl_script(nodes: Iterable[Query]) -> str:
    """Statements one per line, each ended by ``;``."""
    return "".join(to_dsl(n) + ";\n" for n in nodes)


def _set_op(node: SetOp) -> str:
    level = _PRECEDENCE[node.op]
    left = to_dsl(node.left)
    if isinstance(node.left, SetOp) and _PRECEDENCE[node.left.op] < level:
        left = f"({left})"
    right = to_dsl(node.right)
    if isinstance(node.right, SetOp) and _PRECEDENCE[node.right.op] <= level:
        right = f"({right})"  # the operators are left-associative
    return f"{left} {node.op} {right}"


def _question(node: Query) -> str:
    m: Modifiers = node.modifiers  # type: ignore[union-attr]
    head = f" in graph {graph_ref(m.graph)}" if m.graph is not None else ""
    if isinstance(node, SharingFeatures):
        return f"symbols{head} sharing features with {symbol_ref(node.symbol)}{_modifiers(m)}"
    if isinstance(node, SimilarTo):
        return f"symbols{head} similar to {symbol_ref(node.symbol)}{_modifiers(m)}"
    if isinstance(node, RulesUsing):
        return f"rules{head} using {symbol_ref(node.symbol)}{_modifiers(m)}"
    # The other questions take the filter as their first modifier.
    tail = _modifiers(m, with_graph=True)
    if isinstance(node, FeaturesOf):
        return f"features of {symbol_ref(node.symbol)}{tail}"
    if isinstance(node, SymbolsActivating):
        return f"symbols activating {_features(node.features)}{tail}"
    if isinstance(node, ExplainFeature):
        return f"explain {_features(node.features)}{tail}"
    if isinstance(node, BlindSpots):
        return f"features with no symbolic counterpart{tail}"
    if isinstance(node, PruningCandidates):
        return f"symbols with no neural counterpart{tail}"
    if isinstance(node, UnstableSymbols):
        return f"unstable symbols{tail}"
    if isinstance(node, Align):
        return f"align {graph_ref(node.source)} with {graph_ref(node.target)}{tail}"
    if isinstance(node, Bridges):
        return f"bridges between {graph_ref(node.source)} and {graph_ref(node.target)}{tail}"
    if isinstance(node, SparqlSource):
        return f"symbols where {{{node.pattern.pattern_text}}}{tail}"
    raise TypeError(f"not a query node: {type(node).__name__}")


def _modifiers(m: Modifiers, *, with_graph: bool = False) -> str:
    parts = []
    if with_graph and m.graph is not None:
        parts.append(f"in graph {graph_ref(m.graph)}")
    if m.thresholds:
        parts.append("with " + ", ".join(f"{t.field} {t.op} {number(t.value)}" for t in m.thresholds))
    if m.where is not None:
        parts.append(f"where {{{m.where.pattern_text}}}")
    if m.order_by:
        parts.append("order by " + ", ".join(k.field + (" desc" if k.descending else "") for k in m.order_by))
    if m.limit is not None:
        parts.append(f"limit {m.limit}")
    return "".join(" " + p for p in parts)


def _features(features: tuple[FeatureRef, ...]) -> str:
    word = "feature" if len(features) == 1 else "features"
    return f"{word} " + ", ".join(str(f.index) for f in features)


def symbol_ref(ref: SymbolRef) -> str:
    """A symbol reference as written, with its ``in graph G`` qualification."""
    text = _ref(ref.name, ref.kind)
    return text if ref.graph is None else f"{text} in graph {graph_ref(ref.graph)}"


def graph_ref(ref: GraphRef) -> str:
    return _ref(ref.name, ref.kind)


def _ref(name: str, kind: str) -> str:
    if kind == "iri" and _IRI.fullmatch(name):
        return f"<{name}>"
    if (kind == "name" and _NAME.fullmatch(name)) or (kind == "curie" and _CURIE.fullmatch(name)):
        return name
    return quote(name)  # a hand-built reference that cannot be written bare


def quote(value: str) -> str:
    """``value`` as a double-quoted DSL string.

    >>> print(quote('x> } DROP ALL ; #"'))
    "x> } DROP ALL ; #\\""
    """
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif c in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[c])
        elif c.isprintable() or (c == " "):
            out.append(c)
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(f"\\U{ord(c):08X}")
    return '"' + "".join(out) + '"'


_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def number(value: float) -> str:
    """A threshold value as the grammar reads it back to the same number."""
    return str(value) if isinstance(value, int) else repr(float(value))
