"""The :class:`Store` protocol every backend implements, and the values it trades in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kgalign.errors import WorkspaceError
from kgalign.store.terms import Quad, QueryResult, Solution, Solutions, Term, Triple, Triples


class StoreError(WorkspaceError):
    """The store could not do what was asked (a server unreachable, refusing, or too slow)."""

#: A SPARQL extension function: kgalign terms in, a term (or None: unbound) out.
ExtensionFunction = Callable[..., Term | None]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers ask instead of checking the class."""

    #: ``kga:`` functions run inside the query engine (else kgalign refuses queries naming them).
    supports_extension_functions: bool
    #: One update request (several operations) is applied atomically.
    supports_transactions: bool
    #: Bulk uploads go through the SPARQL 1.1 Graph Store HTTP Protocol.
    supports_graph_store_protocol: bool
    #: The store is inside this process (a directory of the workspace).
    embedded: bool


@dataclass(frozen=True)
class GraphInfo:
    """Provenance of one loaded artefact."""

    name: str
    iri: str
    source: str
    format: str
    sha256: str
    loaded_at: str
    triples: int
    #: The base IRI relative IRIs were resolved against.
    base_iri: str | None = None
    #: For N-Quads/TriG/JSON-LD: the named graphs of the file, merged into the artefact's graph.
    source_graphs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["source_graphs"] = list(self.source_graphs)
        return d


@dataclass(frozen=True)
class StoreSnapshot:
    """Every quad and every named graph (empty ones too, where the backend keeps them), as text."""

    quads: frozenset[tuple[str, str, str, str]]
    graphs: frozenset[str] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.quads)


@dataclass(frozen=True)
class ParsedGraph:
    """An artefact as the loaders hand it to a store: a checked file (or bytes) in a standard RDF
    syntax (``media_type``; OBO and OWL/XML already converted to N-Triples), plus its provenance.

    The store only stores it: the embedded store streams it into its bulk loader, a remote one
    uploads it (as N-Triples) to the server.
    """

    name: str
    source: str
    format_name: str
    media_type: str
    sha256: str
    path: Path | None = None
    data: bytes | None = None
    base_iri: str | None = None
    prefixes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("give either data or path")

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path is not None else len(self.data or b"")

    @property
    def is_dataset(self) -> bool:
        return self.media_type in ("application/n-quads", "application/trig", "application/ld+json")


@runtime_checkable
class Store(Protocol):
    """The store kgalign talks to: one named graph per artefact, a provenance graph, and the neural
    and mapping graphs later stages add. Every result is in :mod:`kgalign.store.terms`."""

    backend: str
    read_only: bool

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def location(self) -> str:
        """Where the data is (a directory or the endpoint URL), for messages."""
        ...

    # reading
    def query(
        self,
        sparql: str,
        *,
        prefixes: dict[str, str] | None = None,
        custom_functions: Mapping[str, ExtensionFunction] | None = None,
        union_default_graph: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
    ) -> QueryResult: ...

    def select(self, sparql: str, **kw: Any) -> Solutions: ...

    def select_iter(self, sparql: str, **kw: Any) -> Iterator[Solution]:
        """A SELECT over the store's own dataset whose rows are yielded as they are read (the result
        set is never held: memory bounded by the row, not by the result)."""
        ...

    def ask(self, sparql: str, **kw: Any) -> bool: ...

    def construct(self, sparql: str, **kw: Any) -> Triples: ...

    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              graph: str | None = None) -> Iterator[Quad]: ...

    def count(self, graph: str) -> int: ...

    def has_graph(self, iri: str) -> bool: ...

    def named_graphs(self) -> list[str]: ...

    def graphs(self) -> list[GraphInfo]: ...

    def graph_info(self, name: str) -> GraphInfo | None: ...

    def prefixes(self, name: str) -> dict[str, str]: ...

    def snapshot(self) -> StoreSnapshot: ...

    # writing
    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None) -> None: ...

    def load_graph(self, graph: ParsedGraph) -> GraphInfo: ...

    def replace_graph(self, iri: str, triples: Iterable[Triple | Quad]) -> int: ...

    def replace_graph_text(self, iri: str, lines: Iterable[str]) -> int: ...

    def drop_artefact(self, name: str) -> None: ...

    def recover(self) -> list[str]: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def escape_iri(iri: str) -> str:
    """An IRI made safe to splice between ``<`` and ``>`` in SPARQL text.

    User-given names never reach SPARQL text unescaped; characters SPARQL forbids
    in IRIREF are percent-encoded.

    >>> escape_iri("x> } DROP ALL ; #")
    'x%3E%20%7D%20DROP%20ALL%20;%20#'
    """
    bad = '<>"{}|^`\\ \t\n\r'
    return "".join(f"%{ord(c):02X}" if c in bad or ord(c) < 0x20 else c for c in iri)


def literal(value: str) -> str:
    """A string as a SPARQL string literal, escaped.

    >>> print(literal('say "hi"\\n'))
    "say \\"hi\\"\\n"
    """
    esc = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{esc}"'


def provenance_update(info: GraphInfo, prefixes: Mapping[str, str], provenance_graph: str, kga: str,
                      xsd: str) -> str:
    """SPARQL UPDATE text replacing the provenance of one artefact."""
    g = f"<{escape_iri(info.iri)}>"
    extra = "".join(f" ; <{kga}prefixDeclaration> {literal(p + ' ' + ns)}" for p, ns in sorted(prefixes.items()))
    if info.base_iri:
        extra += f" ; <{kga}baseIri> {literal(info.base_iri)}"
    extra += "".join(f" ; <{kga}sourceGraph> {literal(sg)}" for sg in info.source_graphs)
    return f"""DELETE WHERE {{ GRAPH <{provenance_graph}> {{ {g} ?p ?o }} }} ;
        INSERT DATA {{ GRAPH <{provenance_graph}> {{
            {g} a <{kga}Artefact> ; <{kga}name> {literal(info.name)} ;
               <{kga}source> {literal(info.source)} ; <{kga}format> {literal(info.format)} ;
               <{kga}sha256> {literal(info.sha256)} ;
               <{kga}loadedAt> "{info.loaded_at}"^^<{xsd}dateTime> ;
               <{kga}tripleCount> {info.triples} {extra} }} }}"""


def graphs_query(provenance_graph: str) -> str:
    return f"""SELECT ?g ?name ?source ?format ?sha ?at ?n ?base
        (GROUP_CONCAT(STR(?sg); separator="\\n") AS ?sgs) WHERE {{ GRAPH <{provenance_graph}> {{
        ?g a kga:Artefact ; kga:name ?name ; kga:source ?source ; kga:format ?format ;
           kga:sha256 ?sha ; kga:loadedAt ?at ; kga:tripleCount ?n .
        OPTIONAL {{ ?g kga:baseIri ?base }} OPTIONAL {{ ?g kga:sourceGraph ?sg }} }} }}
        GROUP BY ?g ?name ?source ?format ?sha ?at ?n ?base ORDER BY ?name"""


def graph_infos(rows: Solutions) -> list[GraphInfo]:
    return [
        GraphInfo(
            name=r["name"].value,
            iri=r["g"].value,
            source=r["source"].value,
            format=r["format"].value,
            sha256=r["sha"].value,
            loaded_at=r["at"].value,
            triples=int(r["n"].value),
            base_iri=r["base"].value if r["base"] is not None else None,
            source_graphs=tuple(sorted(x for x in r["sgs"].value.split("\n") if x)) if r["sgs"] else (),
        )
        for r in rows
    ]
