"""The triple store behind one small interface.

:class:`OxigraphStore` is the default: pyoxigraph on disk, one named graph per
artefact, a provenance graph, and (added by later stages) the neural and mapping
graphs.

Writing a whole graph (:meth:`OxigraphStore.write_graph`, used by every load) is
atomic and survives ``kill -9``:

1. A *pending-write* journal entry is committed to the journal graph first. It
   names the graph being written; every read through this class hides that graph
   until the entry is closed, and :meth:`OxigraphStore.recover` (run whenever the
   store is opened for writing) drops it if the writer died.
2. A **first** write of a graph bulk-loads straight into it (as fast as pyoxigraph's
   own ``bulk_load``); one small transaction then records the provenance and closes
   the journal entry, which makes the graph visible.
3. A **replacement** bulk-loads into a hidden staging graph, then one transaction
   deletes the old quads the new version lacks, inserts the new quads the old one
   lacks, rewrites the provenance and closes the journal entry: readers and crashes
   see the old graph or the new one, never a mix. The staging graph is dropped after
   the commit (a leftover is dropped by :meth:`OxigraphStore.recover`).

The trade-off: a replacement costs a bulk load plus a transaction whose size is the
*difference* between the versions (pyoxigraph's transactional writes run at roughly a
tenth of bulk-load speed) plus dropping the staging graph; a first load costs a bulk
load and two tiny transactions.
"""

from __future__ import annotations

import atexit
import io
import itertools
import re
import threading
import traceback
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from kgalign.errors import KgalignError, LoadError, QuerySyntaxError, UsageError, WorkspaceError
from kgalign.faults import point
from kgalign.store.base import (
    Capabilities,
    ExtensionFunction,
    GraphInfo,
    ParsedGraph,
    StoreSnapshot,
    escape_iri,
    graph_infos,
    graphs_query,
    literal,  # noqa: F401  (re-exported)
    provenance_update,
)
from kgalign.store.rdfio import (  # noqa: F401  (MAX_SOURCE_GRAPHS, _clean_parser_message re-exported)
    MAX_SOURCE_GRAPHS,
    NATIVE_RESULT_FORMATS,
    _clean_parser_message,
    from_ox,
    quad_from_ox,
    rdf_format,
    result_from_ox,
    serialize_results,
    to_ox,
)
from kgalign.store.terms import Quad, QueryResult, Solution, Solutions, Term, Triple, Triples
from kgalign.symbolic.vocab import (
    GRAPH_PREFIX,
    JOURNAL_GRAPH,
    KGA,
    PROVENANCE_GRAPH,
    STAGING_PREFIX,
    STANDARD_PREFIXES,
    XSD,
    graph_iri,
)

_PROV = ox.NamedNode(PROVENANCE_GRAPH)
_JOURNAL = ox.NamedNode(JOURNAL_GRAPH)
_RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
#: Inputs smaller than this are loaded in one transaction instead of pyoxigraph's bulk loader.
SMALL_LOAD_BYTES = 256 << 10
SMALL_EXTEND_QUADS = 20_000


def _k(local: str) -> ox.NamedNode:
    return ox.NamedNode(KGA + local)


_WRITE_GRAPH = _k("writeGraph")
_TARGET_GRAPH = _k("targetGraph")


def sparql_error(e: SyntaxError, text: str) -> QuerySyntaxError:
    """Turn pyoxigraph's SPARQL syntax error into ours, keeping its position.

    pyoxigraph puts the position in the message (``error at 3:2: expected ...``), 1-based.

    >>> err = sparql_error(SyntaxError("error at 2:7: expected [_]"), "SELECT\\n  ?s { }")
    >>> (err.line, err.column, err.message)
    (2, 7, "SPARQL syntax error at '}'")
    """
    import re

    msg = str(e.args[0]) if e.args else str(e)
    line = getattr(e, "lineno", None)
    col = getattr(e, "offset", None)
    m = re.match(r"\s*error at (\d+):(\d+):\s*", msg)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        msg = msg[m.end():]
    from kgalign.symbolic.sparql_errors import readable

    return readable(msg, text, line, col)


_STRIP = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|#[^\n]*')
_REMOTE = re.compile(r"(?<![\w:])(SERVICE|LOAD)(?![\w:])", re.IGNORECASE)


def remote_operation(sparql: str) -> str | None:
    """``SERVICE`` or ``LOAD`` when a SPARQL text would fetch a remote URL, else None.

    Strings, IRIs and comments are ignored, so a literal mentioning SERVICE is fine.

    >>> remote_operation("SELECT * { SERVICE <http://x/sparql> { ?s ?p ?o } }")
    'SERVICE'
    >>> remote_operation('SELECT * { ?s ?p "SERVICE" } # LOAD')
    """
    m = _REMOTE.search(_STRIP.sub(" ", sparql))
    return m.group(1).upper() if m else None


def _refuse_remote(sparql: str, update: bool = False) -> None:
    """Every SPARQL text passes kgalign.symbolic.sparql_guard (SERVICE/LOAD, nesting, size)."""
    from kgalign.symbolic.sparql_guard import check_sparql

    check_sparql(sparql, update=update)


class _Handle:
    """One open pyoxigraph store shared by every :class:`OxigraphStore` of a process on one path."""

    def __init__(self, store: ox.Store) -> None:
        self.store: ox.Store | None = store
        self.users = 0
        self.lock = threading.RLock()
        #: opened read-only: a snapshot of the store as it was then
        self.snapshot = False
        _OPEN.add(self)


#: Every handle not yet garbage: closed at exit (below).
_OPEN: weakref.WeakSet[_Handle] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Let go of every store still open when the interpreter exits, before its teardown.

    A handle a caller never closed (or one held by a reference cycle the last collection does not
    reach) would otherwise stay open through interpreter teardown and ``exit()``, with RocksDB's
    background threads still running while C++ static objects are destroyed; dropping the last
    reference here closes each store the ordinary way (its write-ahead log is complete anyway).
    """
    for handle in list(_OPEN):
        handle.store = None
    OxigraphStore._handles.clear()


class _LineReader(io.RawIOBase):
    """A binary reader over text lines, encoded a few thousand lines at a time (memory bounded)."""

    def __init__(self, lines: Iterator[str], batch: int = 4096) -> None:
        self._lines, self._batch = lines, batch
        self._buf, self._pos = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._pos >= len(self._buf):
            chunk = "".join(itertools.islice(self._lines, self._batch))
            if not chunk:
                return 0
            self._buf, self._pos = chunk.encode(), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n


class OxigraphStore:
    """The embedded store: pyoxigraph on disk at ``path`` (or in memory when ``path`` is None).

    Opening the same path twice in one process shares one handle (RocksDB allows one writer
    per directory); other processes can open it read-only at the same time.

    >>> from kgalign.store.terms import Literal, NamedNode, Triple
    >>> store = OxigraphStore(None)
    >>> store.replace_graph("urn:kgalign:graph:demo", [Triple(NamedNode("http://e/a"), NamedNode("http://e/p"), Literal("x"))])
    1
    >>> store.count("urn:kgalign:graph:demo")
    1
    """

    backend = "oxigraph"

    _handles: dict[str, _Handle] = {}
    _registry_lock = threading.Lock()

    def __init__(self, path: str | Path | None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        self._hidden: frozenset[str] | None = None
        self._key: str | None = None
        self._closed = False
        if self.path is None:
            self._handle = _Handle(ox.Store())
            self._ensure_layout()
            return
        key = str(self.path.resolve())
        with OxigraphStore._registry_lock:
            shared = OxigraphStore._handles.get(key)
            if shared is None:
                shared = _Handle(self._open(read_only))
                shared.snapshot = read_only  # RocksDB read-only: sees no write made after opening
                if not read_only:
                    OxigraphStore._handles[key] = shared
                    self._key = key
            else:
                # One read-write handle per process and path; opening twice shares it.
                self._key = key
            shared.users += 1
        self._handle = shared
        if not read_only:
            self._ensure_layout()
            self.recover()

    def _open(self, read_only: bool) -> ox.Store:
        assert self.path is not None
        if read_only:
            if not (self.path / "CURRENT").exists():
                raise WorkspaceError(f"no store at {self.path}: run 'kgalign load' first")
            try:
                return ox.Store.read_only(str(self.path))
            except OSError as e:
                raise WorkspaceError(f"cannot open the store at {self.path} for reading: {e}") from None
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            return ox.Store(str(self.path))
        except OSError as e:
            raise WorkspaceError(
                f"cannot open the store at {self.path} for writing (is another kgalign process "
                f"writing to it?): {e}"
            ) from None

    def _ensure_layout(self) -> None:
        # The provenance graph always exists, so that a failed first load (whose journal entry
        # comes and goes) leaves the list of named graphs exactly as it was.
        for g in (_PROV, _JOURNAL):
            if not self._store.contains_named_graph(g):
                self._store.add_graph(g)

    @property
    def _store(self) -> ox.Store:
        store = self._handle.store
        if store is None or self._closed:
            raise WorkspaceError("the store is closed")
        return store

    # -- visibility ------------------------------------------------------------------------

    def hidden_graphs(self) -> set[str]:
        """Graphs that are being written or dropped (or were, by a killed process): never shown.

        A handle opened read-only is a snapshot of the store as it was then (RocksDB's read-only
        mode sees no later write), so its answer is computed once.
        """
        if self._handle.snapshot:
            if self._hidden is None:
                self._hidden = frozenset(self._hidden_graphs())
            return set(self._hidden)
        return self._hidden_graphs()

    def _hidden_graphs(self) -> set[str]:
        hidden = {q.object.value for q in self._store.quads_for_pattern(None, _WRITE_GRAPH, None, _JOURNAL)}
        if hidden:
            hidden.add(JOURNAL_GRAPH)
        for g in self._store.named_graphs():
            if isinstance(g, ox.NamedNode) and g.value.startswith(STAGING_PREFIX):
                hidden.add(g.value)
        return hidden

    def _dataset(self, union_default_graph: bool) -> dict[str, Any]:
        """The query dataset: every graph but the hidden ones."""
        hidden = self.hidden_graphs()
        if not hidden:
            return {"use_default_graph_as_union": union_default_graph}
        visible = [g for g in self._store.named_graphs() if not (isinstance(g, ox.NamedNode) and g.value in hidden)]
        kw: dict[str, Any] = {"named_graphs": visible}
        if union_default_graph:
            kw["default_graph"] = [ox.DefaultGraph(), *visible]
        return kw

    # -- reading ---------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            supports_extension_functions=True, supports_transactions=True,
            supports_graph_store_protocol=False, embedded=True,
        )

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else "(in memory)"

    def query(
        self,
        sparql: str,
        *,
        prefixes: dict[str, str] | None = None,
        custom_functions: dict[str, ExtensionFunction] | None = None,
        union_default_graph: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
    ) -> QueryResult:
        """Run a SPARQL query; syntax errors become :class:`QuerySyntaxError` with the position.

        The default graph is the union of every graph (unless ``union_default_graph`` is
        False, or ``default_graphs``/``named_graphs`` name the dataset); graphs still being
        written are invisible. ``custom_functions`` maps function IRIs to Python callables
        over kgalign terms. The result is read to the end, in kgalign's types.
        """
        res = self._execute(sparql, prefixes, custom_functions, union_default_graph, default_graphs, named_graphs)
        try:
            return result_from_ox(res)
        except (OSError, RuntimeError, ValueError) as e:
            raise KgalignError(f"SPARQL evaluation failed: {e}") from None

    def query_serialized(
        self,
        sparql: str,
        choose: Callable[[str], str],
        *,
        prefixes: dict[str, str] | None = None,
        custom_functions: dict[str, ExtensionFunction] | None = None,
        union_default_graph: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
    ) -> tuple[bytes, str]:
        """Run a SPARQL query and write its results as bytes: ``(body, media type)``.

        ``choose(kind)`` names the media type for the result's kind (``"solutions"`` for SELECT
        and ASK, ``"graph"`` for CONSTRUCT and DESCRIBE) and may raise. The same guard, dataset
        and errors as :meth:`query`; the results go straight from pyoxigraph's serialiser (JSON,
        XML, CSV and RDF formats) without kgalign's per-row terms.
        """
        res = self._execute(sparql, prefixes, custom_functions, union_default_graph, default_graphs, named_graphs)
        try:
            kind = "graph" if isinstance(res, ox.QueryTriples) else "solutions"
            mt = choose(kind)
            if kind == "graph":
                body = res.serialize(format=rdf_format(mt))
            elif mt in NATIVE_RESULT_FORMATS:
                body = res.serialize(format=NATIVE_RESULT_FORMATS[mt])
            else:
                body = serialize_results(result_from_ox(res), mt)  # type: ignore[arg-type]
        except BaseException as e:
            # pyoxigraph's results may only be dropped on the thread that made them: none may
            # leave this (worker) thread in a traceback's frames.
            del res
            traceback.clear_frames(e.__traceback__)
            if isinstance(e, (OSError, RuntimeError, ValueError)):
                raise KgalignError(f"SPARQL evaluation failed: {e}") from None
            raise
        return body, mt  # type: ignore[return-value]

    def _execute(
        self,
        sparql: str,
        prefixes: dict[str, str] | None,
        custom_functions: dict[str, ExtensionFunction] | None,
        union_default_graph: bool,
        default_graphs: list[str] | None,
        named_graphs: list[str] | None,
    ) -> Any:
        """The guard, the dataset (hidden graphs left out) and pyoxigraph's lazy result."""
        merged = {**STANDARD_PREFIXES, **(prefixes or {})}
        _refuse_remote(sparql)
        functions = (
            {ox.NamedNode(iri): _ox_function(fn) for iri, fn in custom_functions.items()}
            if custom_functions else None
        )
        if default_graphs is not None or named_graphs is not None:
            try:
                dataset: dict[str, Any] = {}
                if default_graphs is not None:
                    dataset["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
                if named_graphs is not None:
                    dataset["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
            except ValueError as e:
                raise UsageError(f"bad dataset IRI: {e}") from None
        else:
            dataset = self._dataset(union_default_graph)
        try:
            return self._store.query(sparql, prefixes=merged, custom_functions=functions, **dataset)
        except SyntaxError as e:
            raise sparql_error(e, sparql) from None
        except (OSError, RuntimeError, ValueError) as e:
            raise KgalignError(f"SPARQL evaluation failed: {e}") from None

    def select_iter(self, sparql: str, **kw: Any) -> Iterator[Solution]:
        """Run a SELECT and yield its rows as they are evaluated: the result set is never held, so
        memory is bounded by the row, not by the result (the reads of the symbol table use this)."""
        merged = {**STANDARD_PREFIXES, **(kw.pop("prefixes", None) or {})}
        _refuse_remote(sparql)
        if kw.get("default_graphs") is not None or kw.get("named_graphs") is not None:
            raise UsageError("select_iter() reads the store's own dataset")
        dataset = self._dataset(kw.pop("union_default_graph", True))
        try:
            res = self._store.query(sparql, prefixes=merged, **dataset)
            if not isinstance(res, ox.QuerySolutions):
                raise KgalignError("expected a SELECT query")
            names = [v.value for v in res.variables]
            n = len(names)
            for sol in res:
                yield Solution(names, [from_ox(sol[i]) for i in range(n)])
        except SyntaxError as e:
            raise sparql_error(e, sparql) from None
        except (OSError, RuntimeError, ValueError) as e:
            raise KgalignError(f"SPARQL evaluation failed: {e}") from None

    def select(self, sparql: str, **kw: Any) -> Solutions:
        """Run a SELECT; rows are :class:`~kgalign.store.terms.Solution` (``row["x"]``, None when unbound)."""
        res = self.query(sparql, **kw)
        if not isinstance(res, Solutions):
            raise KgalignError("expected a SELECT query")
        return res

    def ask(self, sparql: str, **kw: Any) -> bool:
        res = self.query(sparql, **kw)
        if not isinstance(res, bool):
            raise KgalignError("expected an ASK query")
        return res

    def construct(self, sparql: str, **kw: Any) -> Triples:
        res = self.query(sparql, **kw)
        if not isinstance(res, Triples):
            raise KgalignError("expected a CONSTRUCT or DESCRIBE query")
        return res

    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              graph: str | None = None) -> Iterator[Quad]:
        """Quads matching a pattern (``None`` matches anything), hidden graphs left out."""
        hidden = self.hidden_graphs()
        pat = [None if t is None else to_ox(t) for t in (s, p, o)]
        if graph is not None:
            if graph in hidden:
                return iter(())
            return map(quad_from_ox, self._store.quads_for_pattern(*pat, ox.NamedNode(graph)))
        it = self._store.quads_for_pattern(*pat, None)
        if hidden:
            it = (q for q in it if not (isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value in hidden))
        return map(quad_from_ox, it)

    def named_graphs(self) -> list[str]:
        """Every visible named graph's IRI (empty ones too)."""
        hidden = self.hidden_graphs()
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode) and g.value not in hidden)

    def _raw_count(self, graph: str) -> int:
        res = self._store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{escape_iri(graph)}> {{ ?s ?p ?o }} }}")
        return int(next(iter(res))["n"].value)

    def count(self, graph: str) -> int:
        """How many triples the graph ``graph`` (an IRI) holds; 0 for a hidden or absent graph."""
        if graph in self.hidden_graphs():
            return 0
        return self._raw_count(graph)

    def prefixes(self, name: str) -> dict[str, str]:
        """The prefixes the artefact ``name`` declared in its source file ('' is the default prefix)."""
        out: dict[str, str] = {}
        for q in self._store.quads_for_pattern(ox.NamedNode(graph_iri(name)), _k("prefixDeclaration"), None, _PROV):
            p, _, ns = q.object.value.partition(" ")
            out[p] = ns
        return out

    def has_graph(self, iri: str) -> bool:
        """Whether the named graph ``iri`` exists and is not hidden."""
        return self._store.contains_named_graph(ox.NamedNode(iri)) and iri not in self.hidden_graphs()

    def graphs(self) -> list[GraphInfo]:
        """Every loaded artefact with its provenance, by name."""
        return graph_infos(self.select(graphs_query(PROVENANCE_GRAPH)))

    def graph_info(self, name: str) -> GraphInfo | None:
        """The provenance of the artefact ``name``, or None when it is not loaded."""
        return next((g for g in self.graphs() if g.name == name), None)

    # -- writing ---------------------------------------------------------------------------

    def _require_writable(self) -> None:
        if self.read_only:
            raise WorkspaceError("the workspace is open read-only")
        if self._closed:
            raise WorkspaceError("the store is closed")

    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None) -> None:
        """Run a SPARQL UPDATE (one transaction)."""
        self._require_writable()
        _refuse_remote(sparql, update=True)
        try:
            with self._handle.lock:
                self._store.update(sparql, prefixes={**STANDARD_PREFIXES, **(prefixes or {})})
        except SyntaxError as e:
            raise sparql_error(e, sparql) from None
        except OSError as e:
            raise KgalignError(f"SPARQL update failed: {e}") from None

    def write_graph(
        self,
        target: str,
        fill: Callable[[ox.NamedNode], object],
        *,
        check: Callable[[int], None] | None = None,
        commit_update: Callable[[int], str] | None = None,
    ) -> int:
        """Replace (or create) the graph ``target`` with what ``fill`` writes, atomically.

        ``fill(graph)`` writes quads into ``graph`` (the target itself on a first write, a
        hidden staging graph on a replacement), typically with ``bulk_load``. ``check(n)``
        may reject the result (``n`` triples) by raising; ``commit_update(n)`` returns SPARQL
        UPDATE text run in the commit transaction (e.g. provenance). Returns ``n``. On any
        exception nothing visible changes; a kill at any point is undone or completed by
        :meth:`recover`.
        """
        self._require_writable()
        with self._handle.lock:
            direct = not self._store.contains_named_graph(ox.NamedNode(target))
            token = uuid.uuid4().hex
            write = target if direct else STAGING_PREFIX + token
            entry = ox.NamedNode(KGA + "pending/" + token)
            self._store.extend([
                ox.Quad(entry, _RDF_TYPE, _k("PendingWrite"), _JOURNAL),
                ox.Quad(entry, _WRITE_GRAPH, ox.NamedNode(write), _JOURNAL),
                ox.Quad(entry, _TARGET_GRAPH, ox.NamedNode(target), _JOURNAL),
            ])
            # No flush needed: a committed transaction is in RocksDB's write-ahead log, which a
            # killed process does not lose (the next open replays it).
            try:
                fill(ox.NamedNode(write))
                n = self._raw_count(write)
                if check is not None:
                    check(n)
                point("store:filled")
                t = f"<{escape_iri(target)}>"
                ops: list[str] = []
                if not direct:
                    s = f"<{write}>"
                    ops.append(
                        f"DELETE {{ GRAPH {t} {{ ?s ?p ?o }} }} WHERE {{ GRAPH {t} {{ ?s ?p ?o }} "
                        f"FILTER NOT EXISTS {{ GRAPH {s} {{ ?s ?p ?o }} }} }}"
                    )
                    ops.append(
                        f"INSERT {{ GRAPH {t} {{ ?s ?p ?o }} }} WHERE {{ GRAPH {s} {{ ?s ?p ?o }} "
                        f"FILTER NOT EXISTS {{ GRAPH {t} {{ ?s ?p ?o }} }} }}"
                    )
                if n == 0:
                    ops.append(f"DROP SILENT GRAPH {t}")
                if commit_update is not None:
                    ops.append(commit_update(n))
                ops.append(f"DELETE WHERE {{ GRAPH <{JOURNAL_GRAPH}> {{ <{entry.value}> ?p ?o }} }}")
                # The commit: one transaction.
                self._store.update(" ;\n".join(ops))
                point("store:committed")
            except BaseException:
                self._discard(write, entry)
                raise
            if not direct:
                # The staging graph is hidden by its name; a kill here leaves it to recover().
                self._drop_quads(write)
            return n

    def replace_graph(self, iri: str, triples: Iterable[Triple | Quad]) -> int:
        """Replace the graph ``iri`` with ``triples`` (a quad's graph is ignored) atomically; returns its size."""

        def fill(g: ox.NamedNode) -> None:
            it = iter(triples)
            head = list(itertools.islice(it, SMALL_EXTEND_QUADS))
            moved = (ox.Quad(to_ox(t.subject), to_ox(t.predicate), to_ox(t.object), g) for t in itertools.chain(head, it))
            if len(head) < SMALL_EXTEND_QUADS:
                self._store.extend(moved)  # one transaction: no bulk-loader files for a few quads
            else:
                self._store.bulk_extend(moved)

        return self.write_graph(iri, fill)

    def replace_graph_text(self, iri: str, lines: Iterable[str]) -> int:
        """:meth:`replace_graph` from N-Triples text ``lines`` (pieces that each end with a newline), parsed
        by the store itself: no term objects are made in Python (the neural facts of a large embed)."""

        def fill(g: ox.NamedNode) -> None:
            it = iter(lines)
            head = list(itertools.islice(it, SMALL_EXTEND_QUADS))
            try:
                if len(head) < SMALL_EXTEND_QUADS:  # one transaction: no bulk-loader files for a few triples
                    self._store.load(input="".join(head).encode(), format=ox.RdfFormat.N_TRIPLES, to_graph=g)
                else:
                    reader = io.BufferedReader(_LineReader(itertools.chain(head, it)), 1 << 20)
                    self._store.bulk_load(input=reader, format=ox.RdfFormat.N_TRIPLES, to_graph=g)
            except SyntaxError as e:
                raise KgalignError(f"writing the graph {iri}: {_clean_parser_message(e)}") from None

        return self.write_graph(iri, fill)

    def load_graph(self, graph: ParsedGraph) -> GraphInfo:
        """Store the parsed artefact ``graph`` in its own named graph, replacing any earlier version
        atomically (see the module docstring).

        N-Quads, TriG and JSON-LD may hold several graphs: every quad, from the default graph
        and from each named graph, goes into the artefact's one graph; the names of the file's
        graphs are kept in the provenance (``kga:sourceGraph``, :attr:`GraphInfo.source_graphs`).

        On any parse error nothing visible changes and :class:`LoadError` carries the position.
        """
        name, source, format_name, base_iri = graph.name, graph.source, graph.format_name, graph.base_iri
        fmt = rdf_format(graph.media_type)
        target = graph_iri(name)
        source_graphs: set[str] = set()
        size = graph.size if graph.path is not None else len(graph.data or b"")

        def fill(g: ox.NamedNode) -> None:
            src: dict[str, Any] = {"path": str(graph.path)} if graph.path is not None else {"input": graph.data}
            # bulk_load writes new files on every call (~0.3 s however small the input); a
            # transactional load is faster below a few hundred kilobytes.
            small = size < SMALL_LOAD_BYTES
            try:
                if fmt.supports_datasets:
                    merged = _merge_graphs(ox.parse(**src, format=fmt, base_iri=base_iri), g, source_graphs)
                    (self._store.extend if small else self._store.bulk_extend)(merged)
                elif small:
                    self._store.load(**src, format=fmt, base_iri=base_iri, to_graph=g)
                else:
                    self._store.bulk_load(**src, format=fmt, base_iri=base_iri, to_graph=g)
            except SyntaxError as e:
                raise LoadError(_clean_parser_message(e), path=source, line=e.lineno, column=e.offset) from None
            except UnicodeDecodeError as e:
                raise LoadError(f"not UTF-8 text: {e.reason}", path=source) from None
            except ValueError as e:
                raise LoadError(f"cannot parse as {format_name}: {e}", path=source) from None
            except OSError as e:
                raise LoadError(f"cannot load: {e}", path=source) from None

        def check(n: int) -> None:
            if n == 0:
                raise LoadError(f"no triples: the {format_name} file parsed but holds nothing to load", path=source)

        loaded_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        def info(n: int) -> GraphInfo:
            return GraphInfo(
                name=name, iri=target, source=source, format=format_name, sha256=graph.sha256,
                loaded_at=loaded_at, triples=n, base_iri=base_iri,
                source_graphs=tuple(sorted(source_graphs)[:MAX_SOURCE_GRAPHS]),
            )

        n = self.write_graph(
            target, fill, check=check,
            commit_update=lambda n: provenance_update(info(n), graph.prefixes, PROVENANCE_GRAPH, KGA, XSD),
        )
        return info(n)

    def _drop_quads(self, graph: str) -> None:
        """Remove a graph quad by quad, then its name.

        Many small transactions: several times faster than one ``DROP GRAPH`` transaction in
        pyoxigraph, and safe here because the graph is hidden (or already unreferenced).
        """
        g = ox.NamedNode(graph)
        for q in self._store.quads_for_pattern(None, None, None, g):
            self._store.remove(q)
        self._store.remove_graph(g)

    def _discard(self, write: str, entry: ox.NamedNode) -> None:
        self._drop_quads(write)
        self._store.update(f"DELETE WHERE {{ GRAPH <{JOURNAL_GRAPH}> {{ <{entry.value}> ?p ?o }} }}")

    def drop_artefact(self, name: str) -> None:
        """Remove an artefact's graph and provenance: one small transaction hides it, then it is deleted."""
        self._require_writable()
        g = graph_iri(name)
        with self._handle.lock:
            entry = KGA + "pending/" + uuid.uuid4().hex
            self._store.update(
                f"""DELETE WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ <{escape_iri(g)}> ?p ?o }} }} ;
                INSERT DATA {{ GRAPH <{JOURNAL_GRAPH}> {{ <{entry}> a <{KGA}PendingWrite> ;
                    <{KGA}writeGraph> <{escape_iri(g)}> ; <{KGA}targetGraph> <{escape_iri(g)}> }} }}"""
            )
            self._discard(g, ox.NamedNode(entry))

    def recover(self) -> list[str]:
        """Finish what interrupted writes left: drop the graphs they were writing, close their entries.

        Returns the graphs dropped.
        """
        if self.read_only:
            return []
        cleared: list[str] = []
        with self._handle.lock:
            entries = {q.subject for q in self._store.quads_for_pattern(None, _RDF_TYPE, _k("PendingWrite"), _JOURNAL)}
            for entry in entries:
                for q in list(self._store.quads_for_pattern(entry, _WRITE_GRAPH, None, _JOURNAL)):
                    self._drop_quads(q.object.value)
                    cleared.append(q.object.value)
                self._store.update(f"DELETE WHERE {{ GRAPH <{JOURNAL_GRAPH}> {{ <{entry.value}> ?p ?o }} }}")
            for g in list(self._store.named_graphs()):
                if isinstance(g, ox.NamedNode) and g.value.startswith(STAGING_PREFIX):
                    self._drop_quads(g.value)
                    cleared.append(g.value)
        return sorted(set(cleared))

    def snapshot(self) -> StoreSnapshot:
        """Every quad and named graph as text, for tests that check a failed operation changed nothing."""
        return StoreSnapshot(
            quads=frozenset(
                (str(q.subject), str(q.predicate), str(q.object), str(q.graph_name)) for q in self._store
            ),
            graphs=frozenset(str(g) for g in self._store.named_graphs()),
        )

    def flush(self) -> None:
        if not self.read_only and not self._closed:
            self._store.flush()

    def __enter__(self) -> OxigraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the handle; the last user of a path closes the store.

        Nothing needs flushing: every committed write is in RocksDB's write-ahead log.
        """
        if self._closed:
            return
        self._closed = True
        with OxigraphStore._registry_lock:
            self._handle.users -= 1
            if self._handle.users <= 0:
                if self._key is not None:
                    OxigraphStore._handles.pop(self._key, None)
                # The last reference goes: pyoxigraph closes the store and frees its lock.
                self._handle.store = None


def _ox_function(fn: ExtensionFunction) -> Callable[..., Any]:
    """A function over kgalign terms as pyoxigraph calls it (its terms in and out)."""

    def call(*args: Any) -> Any:
        out = fn(*(from_ox(a) for a in args))
        return None if out is None else to_ox(out)

    return call


def _merge_graphs(quads: Iterable[ox.Quad], g: ox.NamedNode, seen: set[str]) -> Iterator[ox.Quad]:
    """Every quad into graph ``g``, noting the names of the graphs it came from."""
    for q in quads:
        gn = q.graph_name
        if not isinstance(gn, ox.DefaultGraph) and len(seen) < MAX_SOURCE_GRAPHS:
            seen.add(gn.value if isinstance(gn, ox.NamedNode) else str(gn))
        yield ox.Quad(q.subject, q.predicate, q.object, g)




def is_artefact_graph(iri: str) -> bool:
    return iri.startswith(GRAPH_PREFIX)
