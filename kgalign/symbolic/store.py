"""The triple store behind one small interface.

:class:`OxigraphStore` is the default: pyoxigraph on disk, one named graph per
artefact, a provenance graph, and (added by later stages) the neural and mapping
graphs. Writes that replace a graph are atomic: a load goes into a staging graph
first and is switched in with one SPARQL ``MOVE`` (one transaction), so a reader or a
crash sees the old graph or the new one, never a mix. A pending-load journal in the
provenance graph lets :meth:`OxigraphStore.recover` clear what a killed load left.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox

from kgalign.errors import KgalignError, LoadError, QuerySyntaxError, WorkspaceError
from kgalign.symbolic.vocab import (
    GRAPH_PREFIX,
    KGA,
    PROVENANCE_GRAPH,
    STAGING_PREFIX,
    STANDARD_PREFIXES,
    XSD,
    graph_iri,
)

_PROV = ox.NamedNode(PROVENANCE_GRAPH)
_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def _k(local: str) -> ox.NamedNode:
    return ox.NamedNode(KGA + local)


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sparql_error(e: SyntaxError, text: str) -> QuerySyntaxError:
    """Turn pyoxigraph's SPARQL syntax error into ours, keeping its position."""
    msg = str(e)
    line = getattr(e, "lineno", None)
    col = getattr(e, "offset", None)
    return QuerySyntaxError(f"SPARQL: {msg}", text=text, line=line, column=col)


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
    """A string as a SPARQL string literal, escaped."""
    esc = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{esc}"'


class OxigraphStore:
    """The embedded store: pyoxigraph on disk at ``path`` (or in memory when ``path`` is None)."""

    backend = "oxigraph"

    _open_rw: dict[str, ox.Store] = {}
    _lock = threading.Lock()

    def __init__(self, path: str | Path | None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        if self.path is None:
            self._store = ox.Store()
            return
        key = str(self.path.resolve())
        with OxigraphStore._lock:
            shared = OxigraphStore._open_rw.get(key)
            if shared is not None:
                # One read-write handle per process and path; opening twice shares it.
                self._store = shared
            elif read_only:
                if not (self.path / "CURRENT").exists():
                    raise WorkspaceError(f"no store at {self.path}: run 'kgalign load' first")
                try:
                    self._store = ox.Store.read_only(str(self.path))
                except OSError as e:
                    raise WorkspaceError(f"cannot open the store at {self.path} for reading: {e}") from None
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                try:
                    self._store = ox.Store(str(self.path))
                except OSError as e:
                    raise WorkspaceError(
                        f"cannot open the store at {self.path} for writing (is another kgalign process "
                        f"writing to it?): {e}"
                    ) from None
                OxigraphStore._open_rw[key] = self._store
        if not read_only:
            self.recover()

    # -- reading ---------------------------------------------------------------------------

    @property
    def raw(self) -> ox.Store:
        """The underlying pyoxigraph store (for the index and query layers)."""
        return self._store

    def query(
        self,
        sparql: str,
        *,
        prefixes: dict[str, str] | None = None,
        custom_functions: dict[ox.NamedNode, Callable[..., Any]] | None = None,
        union_default_graph: bool = True,
    ) -> Any:
        """Run a SPARQL query; syntax errors become :class:`QuerySyntaxError` with the position."""
        merged = {**STANDARD_PREFIXES, **(prefixes or {})}
        try:
            return self._store.query(
                sparql,
                prefixes=merged,
                use_default_graph_as_union=union_default_graph,
                custom_functions=custom_functions,
            )
        except SyntaxError as e:
            raise sparql_error(e, sparql) from None
        except OSError as e:
            raise KgalignError(f"SPARQL evaluation failed: {e}") from None

    def select(self, sparql: str, **kw: Any) -> list[dict[str, Any]]:
        """Run a SELECT and return rows as dicts of variable name -> term (or None)."""
        res = self.query(sparql, **kw)
        names = [v.value for v in res.variables]
        return [{n: row[n] for n in names} for row in res]

    def quads(self, s=None, p=None, o=None, graph: str | None = None) -> Iterator[ox.Quad]:
        g = ox.NamedNode(graph) if graph else None
        return self._store.quads_for_pattern(s, p, o, g)

    def count(self, graph: str) -> int:
        res = self.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{escape_iri(graph)}> {{ ?s ?p ?o }} }}")
        return int(next(iter(res))["n"].value)

    def prefixes(self, name: str) -> dict[str, str]:
        """The prefixes the artefact ``name`` declared in its source file."""
        out: dict[str, str] = {}
        for q in self.quads(ox.NamedNode(graph_iri(name)), _k("prefixDeclaration"), None, PROVENANCE_GRAPH):
            p, _, ns = q.object.value.partition(" ")
            out[p] = ns
        return out

    def has_graph(self, iri: str) -> bool:
        return self._store.contains_named_graph(ox.NamedNode(iri))

    def graphs(self) -> list[GraphInfo]:
        """Every loaded artefact with its provenance, by name."""
        rows = self.select(
            f"""SELECT ?g ?name ?source ?format ?sha ?at ?n WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{
                ?g a kga:Artefact ; kga:name ?name ; kga:source ?source ; kga:format ?format ;
                   kga:sha256 ?sha ; kga:loadedAt ?at ; kga:tripleCount ?n }} }} ORDER BY ?name"""
        )
        return [
            GraphInfo(
                name=r["name"].value,
                iri=r["g"].value,
                source=r["source"].value,
                format=r["format"].value,
                sha256=r["sha"].value,
                loaded_at=r["at"].value,
                triples=int(r["n"].value),
            )
            for r in rows
        ]

    # -- writing ---------------------------------------------------------------------------

    def _require_writable(self) -> None:
        if self.read_only:
            raise WorkspaceError("the workspace is open read-only")

    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None) -> None:
        """Run a SPARQL UPDATE (one transaction)."""
        self._require_writable()
        try:
            self._store.update(sparql, prefixes={**STANDARD_PREFIXES, **(prefixes or {})})
        except SyntaxError as e:
            raise sparql_error(e, sparql) from None
        except OSError as e:
            raise KgalignError(f"SPARQL update failed: {e}") from None

    def replace_graph_quads(self, graph: str, quads: Iterable[ox.Quad]) -> None:
        """Replace a graph's content with ``quads`` (all in graph ``graph``) atomically."""
        self._require_writable()
        staging = STAGING_PREFIX + uuid.uuid4().hex
        sg = ox.NamedNode(staging)
        self._store.extend(ox.Quad(q.subject, q.predicate, q.object, sg) for q in quads)
        self._switch(staging, graph)

    def _switch(self, staging: str, graph: str) -> None:
        if self.has_graph(staging):
            self._store.update(f"MOVE SILENT GRAPH <{staging}> TO GRAPH <{graph}>")
        else:  # an empty staging graph means an empty result
            self._store.update(f"DROP SILENT GRAPH <{graph}>")

    def load_artefact(
        self,
        name: str,
        data: bytes | IO[bytes],
        *,
        rdf_format: ox.RdfFormat,
        source: str,
        format_name: str,
        sha256: str,
        base_iri: str | None = None,
        prefixes: dict[str, str] | None = None,
    ) -> GraphInfo:
        """Parse ``data`` into the artefact graph ``name``, replacing any earlier version atomically.

        On any parse error nothing visible changes and :class:`LoadError` carries the position.
        """
        self._require_writable()
        target = graph_iri(name)
        staging = STAGING_PREFIX + uuid.uuid4().hex
        pending = ox.NamedNode(KGA + "pending/" + staging.rsplit(":", 1)[1])
        journal = [
            ox.Quad(pending, _RDF_TYPE, _k("PendingLoad"), _PROV),
            ox.Quad(pending, _k("stagingGraph"), ox.NamedNode(staging), _PROV),
            ox.Quad(pending, _k("targetGraph"), ox.NamedNode(target), _PROV),
        ]
        self._store.extend(journal)
        self._store.flush()
        try:
            try:
                self._store.bulk_load(
                    data,
                    format=rdf_format,
                    base_iri=base_iri,
                    to_graph=ox.NamedNode(staging),
                    **({} if rdf_format.supports_datasets else {}),
                )
            except SyntaxError as e:
                raise LoadError(_clean_parser_message(str(e)), path=source, line=e.lineno, column=e.offset) from None
            except (OSError, ValueError, UnicodeDecodeError) as e:
                raise LoadError(f"cannot parse as {format_name}: {e}", path=source) from None
            n = self.count(staging)
            if n == 0:
                raise LoadError(f"no triples: the {format_name} file parsed but holds nothing to load", path=source)
            info = GraphInfo(
                name=name,
                iri=target,
                source=source,
                format=format_name,
                sha256=sha256,
                loaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                triples=n,
            )
            prefix_data = "".join(
                f" ; <{KGA}prefixDeclaration> {literal(p + ' ' + ns)}" for p, ns in sorted((prefixes or {}).items())
            )
            # One transaction: swap the graph in, rewrite its provenance, close the journal entry.
            g = f"<{target}>"
            self._store.update(
                f"""MOVE SILENT GRAPH <{staging}> TO GRAPH {g} ;
                DELETE WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ {g} ?p ?o }} }} ;
                DELETE WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ <{pending.value}> ?p ?o }} }} ;
                INSERT DATA {{ GRAPH <{PROVENANCE_GRAPH}> {{
                    {g} a <{KGA}Artefact> ; <{KGA}name> {literal(info.name)} ;
                       <{KGA}source> {literal(info.source)} ; <{KGA}format> {literal(info.format)} ;
                       <{KGA}sha256> {literal(info.sha256)} ;
                       <{KGA}loadedAt> "{info.loaded_at}"^^<{XSD}dateTime> ;
                       <{KGA}tripleCount> {info.triples} {prefix_data} }} }}"""
            )
            self._store.flush()
            return info
        except BaseException:
            self._discard(staging, pending)
            raise

    def _discard(self, staging: str, pending: ox.NamedNode) -> None:
        self._store.update(
            f"DROP SILENT GRAPH <{staging}> ; DELETE WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ <{pending.value}> ?p ?o }} }}"
        )
        self._store.flush()

    def drop_artefact(self, name: str) -> None:
        """Remove an artefact's graph and provenance in one transaction."""
        self._require_writable()
        g = graph_iri(name)
        self.update(
            f"DROP SILENT GRAPH <{g}> ; DELETE WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ <{g}> ?p ?o }} }}"
        )

    def recover(self) -> list[str]:
        """Clear what interrupted loads left behind: staging graphs and their journal entries."""
        if self.read_only:
            return []
        cleared: list[str] = []
        live = {q.object.value for q in self.quads(None, _k("stagingGraph"), None, PROVENANCE_GRAPH)}
        for g in self._store.named_graphs():
            if isinstance(g, ox.NamedNode) and g.value.startswith(STAGING_PREFIX):
                live.add(g.value)
        for staging in sorted(live):
            pending = ox.NamedNode(KGA + "pending/" + staging.rsplit(":", 1)[1])
            self._discard(staging, pending)
            cleared.append(staging)
        return cleared

    def snapshot(self) -> set[tuple[str, str, str, str]]:
        """Every quad as text, for tests that check a failed operation changed nothing."""
        return {(str(q.subject), str(q.predicate), str(q.object), str(q.graph_name)) for q in self._store}

    def close(self) -> None:
        if self.path is not None and not self.read_only:
            self._store.flush()


def _clean_parser_message(msg: str) -> str:
    return msg.replace("Parser error ", "syntax error ").strip()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_artefact_graph(iri: str) -> bool:
    return iri.startswith(GRAPH_PREFIX)
