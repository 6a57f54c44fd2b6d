"""Resolve stage: names in the AST to things in the workspace.

Symbol references become :class:`Symbol`, graph references graph names, feature
references checked indexes. An unknown or ambiguous name is reported with its
position in the query text, the closest names ("did you mean") or the candidates.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kgalign.errors import AmbiguousNameError, KgalignError, UnknownNameError
from kgalign.query.ast import FeatureRef, GraphRef, Span, SymbolRef
from kgalign.symbolic.symbols import Symbol
from kgalign.symbolic.vocab import graph_name

if TYPE_CHECKING:
    from kgalign.query.context import QueryContext


def _at(span: Span) -> str:
    return f"line {span.start_line}, column {span.start_column}: " if span.start_line else ""


def _relocate(e: KgalignError, span: Span) -> KgalignError:
    """The same error, its message prefixed with where in the query the name stands."""
    if isinstance(e, UnknownNameError):
        out: KgalignError = UnknownNameError(e.kind, e.name, e.suggestions)
    elif isinstance(e, AmbiguousNameError):
        out = AmbiguousNameError(e.name, e.candidates)
    else:
        return e
    out.args = (_at(span) + str(out),)
    out.line, out.column = span.start_line, span.start_column  # type: ignore[attr-defined]
    return out


#: Graph names per symbol table: the workspace rebuilds its table on every load or drop, so a
#: name list kept beside it is as fresh as the symbols (and saves a SPARQL query per name).
_GRAPH_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class Resolver:
    ws: QueryContext

    def graph_names(self) -> list[str]:
        table = self.ws.symbol_table
        names = _GRAPH_NAMES.get(table)
        if names is None:
            names = _GRAPH_NAMES[table] = self.ws.graph_names()
        return names

    def graph(self, ref: GraphRef) -> str:
        name = graph_name(ref.name) if ref.kind == "iri" else ref.name
        names = self.graph_names()
        if name not in names:
            raise _relocate(UnknownNameError.among("graph", name, names), ref.span) from None
        return name

    def symbol(self, ref: SymbolRef, *, results_filter: bool = True) -> Symbol:
        """The one symbol ``ref`` names; ``results_filter``: the question also takes 'symbols in graph G'."""
        graph = self.graph(ref.graph) if ref.graph is not None else None
        name = f"<{ref.name}>" if ref.kind == "iri" else ref.name
        try:
            return self.ws.resolve_one(name, graph)
        except UnknownNameError as e:
            elsewhere = sorted({s.graph for s in self.ws.resolve(name)}) if graph is not None else []
            if not elsewhere:
                raise _relocate(e, ref.span) from None
            # 'in graph G' right after a name qualifies the name, not the results: say so
            out = _relocate(UnknownNameError("symbol", f"{ref.name} in graph {graph}",
                                             [f"{ref.name} in graph {g}" for g in elsewhere]), ref.span)
            if results_filter:
                out.args = (f"{out.args[0]} ('in graph' right after a name says where the name is; to keep only "
                            f"results from {graph}, put it after 'symbols': 'symbols in graph {graph} ...')",)
            raise out from None
        except KgalignError as e:
            raise _relocate(e, ref.span) from None

    def feature(self, ref: FeatureRef) -> int:
        try:
            return self.ws.space.check_feature(ref.index)
        except KgalignError as e:
            raise _relocate(e, ref.span) from None
