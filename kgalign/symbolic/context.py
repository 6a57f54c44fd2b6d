"""The narrow context the layers above the store are given: the store and the symbol table.

A :class:`typing.Protocol`, so that no lower layer imports the facade (:class:`kgalign.api.Workspace`
satisfies it, as does anything else that offers these few members).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kgalign.symbolic.resolve import SymbolTable
    from kgalign.symbolic.store import GraphInfo
    from kgalign.symbolic.symbols import Symbol


class SymbolContext(Protocol):
    """The store, its graphs and the symbol table over them."""

    #: the triple store (SPARQL query and update, graphs, prefixes)
    store: Any

    @property
    def symbol_table(self) -> SymbolTable: ...

    def graphs(self) -> list[GraphInfo]: ...

    def graph_names(self) -> list[str]: ...

    def require_graph(self, graph: str) -> str: ...

    def symbols(self, graph: str | None = None, kind: str | None = None) -> list[Symbol]: ...

    def resolve(self, name: str, graph: str | None = None) -> list[Symbol]: ...

    def resolve_one(self, name: str, graph: str | None = None) -> Symbol: ...

    def symbol(self, iri: str, graph: str | None = None) -> Symbol: ...
