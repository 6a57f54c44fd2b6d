"""A store on a SPARQL 1.1 server: the Protocol for queries and updates, the Graph Store Protocol
for bulk uploads where the server offers it.

What kgalign sees on the server: the graphs it manages (each artefact graph listed in the
provenance graph, the provenance, neural and mapping graphs) are the query dataset; they are
passed as ``default-graph-uri``/``named-graph-uri``, so the default graph is their union (as on
the embedded store) and half-written graphs never show.

A load is atomic on the server when the server applies one update request as one transaction
(Oxigraph server and Fuseki/TDB2 do; Virtuoso does not by default): the file is parsed here,
streamed as N-Triples in **one** request into a hidden staging graph (one request, so blank nodes
keep their identity), counted, then a single update moves it over the artefact graph, rewrites
the provenance and closes the journal entry. Where the server does not apply an update request
atomically (``atomic_updates: false``), a failure between those operations can leave the new
graph without its provenance (it is then invisible) or the old provenance over the new graph;
reloading the file repairs either.

A first load of an artefact skips the staging graph: it goes straight into the artefact's graph,
which no kgalign query sees until the commit lists it in the provenance. A killed load leaves a
journal entry and an invisible graph; :meth:`SparqlStore.recover`
(run when a workspace opens the store for writing) drops those of writers on this machine that
are gone, and any older than a day.

Every request has a timeout, names the endpoint in its errors, and never follows a redirect.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit

from kgalign.errors import KgalignError, LoadError, QuerySyntaxError, UsageError, WorkspaceError
from kgalign.store.base import (
    Capabilities,
    ExtensionFunction,
    GraphInfo,
    ParsedGraph,
    StoreError,
    StoreSnapshot,
    escape_iri,
    graph_infos,
    graphs_query,
    literal,
    provenance_update,
)
from kgalign.store.rdfio import MAX_SOURCE_GRAPHS, ntriples_lines, parse_json_results, parse_triples
from kgalign.store.terms import BlankNode, Quad, QueryResult, Solution, Solutions, Term, Triple, Triples
from kgalign.symbolic.vocab import (
    GRAPH_PREFIX,
    JOURNAL_GRAPH,
    KGA,
    MAPPINGS_GRAPH,
    NEURAL_GRAPH,
    PROVENANCE_GRAPH,
    STAGING_PREFIX,
    STANDARD_PREFIXES,
    XSD,
    graph_iri,
)

#: Triples per N-Triples batch while streaming an upload.
UPLOAD_BATCH = 20_000
#: Bytes of an upload kept in memory before the spool (``chunked_uploads: false``) moves to disk.
UPLOAD_SPOOL = 16 * 2**20
_FIXED_GRAPHS = (PROVENANCE_GRAPH, NEURAL_GRAPH, MAPPINGS_GRAPH)
_JSON = "application/sparql-results+json"
_NT = "application/n-triples"


@dataclass(frozen=True)
class EndpointConfig:
    """A remote store as ``workspace.json`` records it (``"store": {"backend": "sparql", ...}``)."""

    query_endpoint: str
    update_endpoint: str | None = None
    #: The Graph Store Protocol endpoint (e.g. Oxigraph's ``/store``, Fuseki's ``/ds/data``).
    graph_store: str | None = None
    #: Seconds to wait for a query or update answer.
    timeout: float = 120.0
    #: Seconds to wait for a bulk upload.
    upload_timeout: float = 3600.0
    #: Whether the server applies one update request (several operations) as one transaction.
    atomic_updates: bool = True
    #: Whether the server reads a chunked request body; if not (Virtuoso 7 reads it as empty), an
    #: upload is spooled to a temporary file first and sent with its Content-Length.
    chunked_uploads: bool = True
    #: How long the list of kgalign's graphs is reused before it is asked again (seconds).
    dataset_cache: float = 1.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EndpointConfig:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if "query_endpoint" not in known:
            raise WorkspaceError("workspace.json: the sparql store needs a 'query_endpoint'")
        cfg = cls(**known)
        for url in (cfg.query_endpoint, cfg.update_endpoint, cfg.graph_store):
            if url is not None:
                check_url(url)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {"backend": "sparql", **{k: v for k, v in d.items() if v is not None}}


def check_url(url: str) -> str:
    """An endpoint URL, or a :class:`UsageError` saying what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not an http(s) endpoint URL: {url!r}")
    return url


class _Http:
    """Keep-alive connections to one endpoint host, one per thread; no redirects followed."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _conn(self, scheme: str, netloc: str, timeout: float, fresh: bool) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, netloc))
        if conn is not None and (fresh or _dropped(conn)):
            conn.close()
            conn = None
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = cls(netloc, timeout=timeout)
            pool[(scheme, netloc)] = conn
            with self._lock:
                self._all.append(conn)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def request(self, method: str, url: str, *, body: Any = None, headers: Mapping[str, str] | None = None,
                timeout: float, what: str, retry: bool = True) -> tuple[int, str, bytes]:
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        streamed = body is not None and not isinstance(body, (bytes, str))
        for attempt in (0, 1):
            conn = self._conn(parts.scheme, parts.netloc, timeout, fresh=attempt > 0)
            try:
                conn.request(method, target, body=body, headers=dict(headers or {}), encode_chunked=streamed)
                resp = conn.getresponse()
                data = resp.read()
            except TimeoutError:
                conn.close()
                raise StoreError(f"{what}: the SPARQL endpoint {url} did not answer within {timeout:g} s") from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if retry and not streamed and attempt == 0:
                    continue  # a kept-alive connection the server had closed
                raise StoreError(f"{what}: the SPARQL endpoint {url} closed the connection ({e})") from None
            except OSError as e:
                conn.close()
                raise StoreError(f"{what}: cannot reach the SPARQL endpoint {url}: {e.strerror or e}") from None
            except BaseException:
                conn.close()  # e.g. a parse error raised while streaming the body
                raise
            ctype = resp.getheader("Content-Type") or ""
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
            if 300 <= resp.status < 400:
                raise StoreError(
                    f"{what}: the SPARQL endpoint {url} redirected ({resp.status}) to "
                    f"{resp.getheader('Location') or '?'}; kgalign does not follow redirects: configure the final URL"
                )
            return resp.status, ctype, data
        raise AssertionError("unreachable")

    def stream(self, url: str, *, body: bytes, headers: Mapping[str, str], timeout: float,
               what: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """POST and return the open response, its body unread (the caller reads it, then
        :meth:`done`). The connection leaves this thread's pool while the body is read, so a request
        made meanwhile (e.g. while iterating the rows) gets a connection of its own."""
        parts = urlsplit(url)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        for attempt in (0, 1):
            conn = self._conn(parts.scheme, parts.netloc, timeout, fresh=attempt > 0)
            self._local.pool.pop((parts.scheme, parts.netloc), None)
            conn._kga_key = (parts.scheme, parts.netloc)  # type: ignore[attr-defined]
            try:
                conn.request("POST", target, body=body, headers=dict(headers))
                resp = conn.getresponse()
            except TimeoutError:
                conn.close()
                raise StoreError(f"{what}: the SPARQL endpoint {url} did not answer within {timeout:g} s") from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if attempt == 0:
                    continue  # a kept-alive connection the server had closed
                raise StoreError(f"{what}: the SPARQL endpoint {url} closed the connection ({e})") from None
            except OSError as e:
                conn.close()
                raise StoreError(f"{what}: cannot reach the SPARQL endpoint {url}: {e.strerror or e}") from None
            if 300 <= resp.status < 400:
                conn.close()
                raise StoreError(
                    f"{what}: the SPARQL endpoint {url} redirected ({resp.status}) to "
                    f"{resp.getheader('Location') or '?'}; kgalign does not follow redirects: configure the final URL"
                )
            return conn, resp
        raise AssertionError("unreachable")

    def done(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        """Give the connection back after a streamed response: kept alive only if read to the end
        (and this thread has no other connection to the host by now)."""
        pool: dict = self._local.__dict__.setdefault("pool", {})
        key = conn._kga_key  # type: ignore[attr-defined]
        if not resp.isclosed() or resp.getheader("Connection", "").lower() == "close" or key in pool:
            conn.close()
        else:
            pool[key] = conn

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                c.close()
            self._all.clear()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether a kept-alive connection was closed by the server while idle (Oxigraph server closes
    them after a minute): its socket reads as ready (EOF) before anything was sent. Such a connection
    is replaced before a request, so an update (never retried) is not lost on it."""
    if conn.sock is None:
        return False
    try:
        return bool(select.select([conn.sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


_ERROR_AT = re.compile(r"error at (\d+):(\d+):\s*")
_STRIP = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*')


class SparqlStore:
    """The :class:`~kgalign.store.base.Store` over a SPARQL 1.1 server."""

    backend = "sparql"

    def __init__(self, config: EndpointConfig, *, read_only: bool = False) -> None:
        self.config = config
        self.read_only = read_only
        self._http = _Http()
        self._dataset: tuple[float, list[str]] | None = None
        self._closed = False
        #: Called once by :meth:`close` (the managed backend stops its server there).
        self.on_close: Any = None
        if not read_only:
            self.recover()

    # -- description -----------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            supports_extension_functions=False,
            supports_transactions=self.config.atomic_updates,
            supports_graph_store_protocol=self.config.graph_store is not None,
            embedded=False,
        )

    @property
    def location(self) -> str:
        return self.config.query_endpoint

    # -- HTTP ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise WorkspaceError("the store is closed")

    def _send_query(self, sparql: str, dataset: tuple[list[str] | None, list[str] | None], *,
                    accept: str, what: str) -> tuple[str, bytes]:
        self._check_open()
        fields: list[tuple[str, str]] = [("query", sparql)]
        default, named = dataset
        fields += [("default-graph-uri", g) for g in default or ()]
        fields += [("named-graph-uri", g) for g in named or ()]
        status, ctype, data = self._http.request(
            "POST", self.config.query_endpoint, body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": accept},
            timeout=self.config.timeout, what=what,
        )
        if status >= 400:
            raise self._error(status, data, sparql, what, self.config.query_endpoint)
        return ctype, data

    def _send_update(self, sparql: str, what: str = "SPARQL update") -> None:
        self._require_writable()
        url = self.config.update_endpoint
        status, _, data = self._http.request(
            "POST", url, body=sparql.encode(), headers={"Content-Type": "application/sparql-update"},  # type: ignore[arg-type]
            timeout=self.config.timeout, what=what, retry=False,
        )
        if status >= 400:
            raise self._error(status, data, sparql, what, url)  # type: ignore[arg-type]

    def _error(self, status: int, data: bytes, sparql: str, what: str, url: str) -> KgalignError:
        msg = " ".join(data.decode("utf-8", "replace").split())[:300] or f"HTTP {status}"
        if status == 400:
            m = _ERROR_AT.search(msg)
            line = col = None
            if m:
                line, col = int(m.group(1)), int(m.group(2))
                msg = msg[: m.start()] + msg[m.end():]
            from kgalign.symbolic.sparql_errors import readable

            e = readable(msg.strip(), sparql, line, col)  # the same one-line form as the embedded store's
            err = QuerySyntaxError(f"{e.message} (from {url})", text=sparql, line=line, column=col)
            err.expected = e.expected
            return err
        return StoreError(f"{what} failed at the SPARQL endpoint {url}: HTTP {status}: {msg}")

    # -- the dataset -----------------------------------------------------------------------

    def _managed_graphs(self) -> list[str]:
        """kgalign's graphs on the server: the artefacts of the provenance, and the fixed ones."""
        now = time.monotonic()
        cached = self._dataset
        if cached is not None and now - cached[0] < self.config.dataset_cache:
            return cached[1]
        _, data = self._send_query(
            f"SELECT ?g WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?g a <{KGA}Artefact> }} }}",
            ([PROVENANCE_GRAPH], [PROVENANCE_GRAPH]), accept=_JSON, what="listing kgalign's graphs",
        )
        res = parse_json_results(data)
        graphs = sorted({r[0].value for r in res if r[0] is not None} | set(_FIXED_GRAPHS))  # type: ignore[union-attr]
        self._dataset = (now, graphs)
        return graphs

    def _invalidate(self) -> None:
        self._dataset = None

    @staticmethod
    def _with_prefixes(sparql: str, prefixes: Mapping[str, str] | None) -> str:
        merged = {**STANDARD_PREFIXES, **(prefixes or {})}
        head = " ".join(f"PREFIX {p}: <{escape_iri(ns)}>" for p, ns in merged.items())
        return head + "\n" + sparql

    # -- reading ---------------------------------------------------------------------------

    def query(
        self,
        sparql: str,
        *,
        prefixes: dict[str, str] | None = None,
        custom_functions: Mapping[str, ExtensionFunction] | None = None,
        union_default_graph: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
    ) -> QueryResult:
        """Run a SPARQL query on the server over kgalign's graphs (see the module docstring)."""
        return self._result(*self._query_raw(sparql, prefixes, custom_functions, union_default_graph,
                                             default_graphs, named_graphs))

    def query_serialized(
        self,
        sparql: str,
        choose: Any,
        *,
        prefixes: dict[str, str] | None = None,
        custom_functions: Mapping[str, ExtensionFunction] | None = None,
        union_default_graph: bool = True,
        default_graphs: list[str] | None = None,
        named_graphs: list[str] | None = None,
    ) -> tuple[bytes, str]:
        """Run a query and write its results: ``(body, media type)`` with the type ``choose(kind)`` names.

        Solutions the server sent in SPARQL JSON, asked for in SPARQL JSON, pass on as they came (the
        same guard, dataset and errors as :meth:`query`); anything else is read into kgalign's terms
        and written by kgalign (:func:`~kgalign.store.rdfio.serialize_results`/``serialize_triples``).
        """
        from kgalign.store.rdfio import serialize_result, serialize_results

        ctype, data = self._query_raw(sparql, prefixes, custom_functions, union_default_graph,
                                      default_graphs, named_graphs)
        if ctype.split(";")[0].strip().lower() in (_JSON, "application/json"):
            mt = choose("solutions")
            if mt == _JSON:
                return data, mt
            return serialize_results(self._result(ctype, data), mt), mt  # type: ignore[arg-type]
        return serialize_result(self._result(ctype, data), choose)

    def _query_raw(
        self,
        sparql: str,
        prefixes: dict[str, str] | None,
        custom_functions: Mapping[str, ExtensionFunction] | None,
        union_default_graph: bool,
        default_graphs: list[str] | None,
        named_graphs: list[str] | None,
    ) -> tuple[str, bytes]:
        """The guard, the dataset (kgalign's graphs) and the server's answer: (content type, bytes)."""
        from kgalign.symbolic.store import _refuse_remote

        _refuse_remote(sparql)
        if custom_functions:
            self._refuse_functions(sparql, custom_functions)
        if default_graphs is not None or named_graphs is not None:
            dataset = (list(default_graphs) if default_graphs is not None else None,
                       list(named_graphs) if named_graphs is not None else None)
        else:
            managed = self._managed_graphs()
            dataset = (managed if union_default_graph else None, managed)
        try:
            return self._send_query(
                self._with_prefixes(sparql, prefixes), dataset,
                accept=f"{_JSON}, {_NT};q=0.9", what="SPARQL query",
            )
        except QuerySyntaxError as e:
            raise _unprefixed(e, sparql) from None

    def _result(self, ctype: str, data: bytes) -> QueryResult:
        mt = ctype.split(";")[0].strip().lower()
        try:
            if mt in (_JSON, "application/json"):
                return parse_json_results(data)
            if mt in (_NT, "text/plain", "text/turtle"):
                return parse_triples(data, "text/turtle" if mt == "text/turtle" else _NT)
        except (ValueError, SyntaxError, KeyError) as e:
            raise StoreError(f"the SPARQL endpoint {self.config.query_endpoint} sent a result kgalign cannot read: {e}") from None
        raise StoreError(f"the SPARQL endpoint {self.config.query_endpoint} answered in {ctype or 'no media type'}; "
                         f"kgalign reads {_JSON} and {_NT}")

    def select_iter(self, sparql: str, *, prefixes: dict[str, str] | None = None,
                    union_default_graph: bool = True, **kw: Any) -> Iterator[Solution]:
        """Run a SELECT and yield its rows while the server's answer is still arriving (parsed as it
        streams in): the result set is never held, so memory is bounded by the row and the parser's
        buffer, not by the result (the reads of the symbol table use this)."""
        import pyoxigraph as ox

        from kgalign.store.rdfio import from_ox
        from kgalign.symbolic.store import _refuse_remote

        _refuse_remote(sparql)
        if kw.get("default_graphs") is not None or kw.get("named_graphs") is not None:
            raise UsageError("select_iter() reads the store's own dataset")
        self._check_open()
        managed = self._managed_graphs()
        fields: list[tuple[str, str]] = [("query", self._with_prefixes(sparql, prefixes))]
        fields += [("default-graph-uri", g) for g in (managed if union_default_graph else ())]
        fields += [("named-graph-uri", g) for g in managed]
        url = self.config.query_endpoint
        conn, resp = self._http.stream(
            url, body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": _JSON},
            timeout=self.config.timeout, what="SPARQL query",
        )
        try:
            if resp.status >= 400:
                try:
                    raise self._error(resp.status, resp.read(), fields[0][1], "SPARQL query", url)
                except QuerySyntaxError as e:
                    raise _unprefixed(e, sparql) from None
            mt = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if mt not in (_JSON, "application/json"):
                raise StoreError(f"the SPARQL endpoint {url} answered a SELECT in {mt or 'no media type'}; kgalign reads {_JSON}")
            try:
                res = ox.parse_query_results(resp, format=ox.QueryResultsFormat.JSON)
                if not isinstance(res, ox.QuerySolutions):
                    raise KgalignError("expected a SELECT query")
                names = [v.value for v in res.variables]
                n = len(names)
                for sol in res:
                    yield Solution(names, [from_ox(sol[i]) for i in range(n)])
            except TimeoutError:
                raise StoreError(f"SPARQL query: the SPARQL endpoint {url} did not answer within {self.config.timeout:g} s") from None
            except (SyntaxError, ValueError) as e:
                raise StoreError(f"the SPARQL endpoint {url} sent a result kgalign cannot read: {e}") from None
            except OSError as e:
                raise StoreError(f"SPARQL query: reading the answer of {url} failed: {e.strerror or e}") from None
            resp.read()  # the end of the document, so the connection can be kept alive
        finally:
            self._http.done(conn, resp)

    def _refuse_functions(self, sparql: str, functions: Mapping[str, ExtensionFunction]) -> None:
        text = _STRIP.sub(" ", sparql)
        for iri in functions:
            local = iri[len(KGA):] if iri.startswith(KGA) else None
            used = f"<{iri}>" in text or (local is not None and re.search(rf"(?<![\w-])kga:{re.escape(local)}\s*\(", text))
            if used:
                name = f"kga:{local}" if local else f"<{iri}>"
                raise KgalignError(
                    f"{name}() is a kgalign extension function: it runs inside the embedded store, and this "
                    f"workspace's store is the SPARQL endpoint {self.config.query_endpoint}, which cannot call it. "
                    "Ask the concept-space question in the DSL ('kgalign query'), or write the neural facts to the "
                    "server ('kgalign embed --write-facts') and query kga:activation/kga:supportStability instead."
                )

    def select(self, sparql: str, **kw: Any) -> Solutions:
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

    def _raw_select(self, sparql: str, graphs: list[str] | None = None) -> Solutions:
        ds = (graphs, graphs) if graphs is not None else (None, None)
        _, data = self._send_query(sparql, ds, accept=_JSON, what="SPARQL query")
        res = parse_json_results(data)
        assert isinstance(res, Solutions)
        return res

    def quads(self, s: Term | None = None, p: Term | None = None, o: Term | None = None,
              graph: str | None = None) -> Iterator[Quad]:
        """Quads matching a pattern (``None`` matches anything) in kgalign's graphs."""
        if any(isinstance(t, BlankNode) for t in (s, p, o)):
            raise UsageError("a blank node cannot be matched on a remote store")
        if graph is not None and self._hidden(graph):
            return iter(())
        pat = " ".join(str(t) if t is not None else f"?{v}" for t, v in ((s, "s"), (p, "p"), (o, "o")))
        graphs = [graph] if graph is not None else self._managed_graphs()
        rows = self._raw_select(f"SELECT * WHERE {{ GRAPH ?g {{ {pat} }} }}", graphs)
        from kgalign.store.terms import NamedNode

        def quad(r: Any) -> Quad:
            get = r.as_dict()
            return Quad(get.get("s", s), get.get("p", p), get.get("o", o), NamedNode(get["g"].value))  # type: ignore[arg-type]

        return map(quad, rows)

    @staticmethod
    def _hidden(iri: str) -> bool:
        return iri == JOURNAL_GRAPH or iri.startswith(STAGING_PREFIX)

    def count(self, graph: str) -> int:
        if self._hidden(graph):
            return 0
        return self._count(graph)

    def _count(self, graph: str) -> int:
        rows = self._raw_select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{escape_iri(graph)}> {{ ?s ?p ?o }} }}", [graph])
        return int(rows[0]["n"].value) if rows else 0  # type: ignore[union-attr]

    def has_graph(self, iri: str) -> bool:
        """Whether the graph ``iri`` holds triples (a SPARQL server need not keep empty graphs)."""
        if self._hidden(iri):
            return False
        _, data = self._send_query(f"ASK {{ GRAPH <{escape_iri(iri)}> {{ ?s ?p ?o }} }}", ([iri], [iri]),
                                   accept=_JSON, what="SPARQL query")
        return bool(parse_json_results(data))

    def named_graphs(self) -> list[str]:
        rows = self._raw_select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", self._managed_graphs())
        return sorted(r[0].value for r in rows if r[0] is not None)  # type: ignore[union-attr]

    def graphs(self) -> list[GraphInfo]:
        q = self._with_prefixes(graphs_query(PROVENANCE_GRAPH), None)
        return graph_infos(self._raw_select(q, [PROVENANCE_GRAPH]))

    def graph_info(self, name: str) -> GraphInfo | None:
        return next((g for g in self.graphs() if g.name == name), None)

    def prefixes(self, name: str) -> dict[str, str]:
        rows = self._raw_select(
            f"SELECT ?d WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ <{escape_iri(graph_iri(name))}> <{KGA}prefixDeclaration> ?d }} }}",
            [PROVENANCE_GRAPH],
        )
        out: dict[str, str] = {}
        for r in rows:
            p, _, ns = r[0].value.partition(" ")  # type: ignore[union-attr]
            out[p] = ns
        return out

    def snapshot(self) -> StoreSnapshot:
        """Every quad on the server (all graphs, the default graph too), for tests."""
        rows = self._raw_select("SELECT * WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
        quads = frozenset(
            (str(r["s"]), str(r["p"]), str(r["o"]), str(r["g"]) if r["g"] is not None else "DEFAULT") for r in rows
        )
        return StoreSnapshot(quads=quads, graphs=frozenset(q[3] for q in quads if q[3] != "DEFAULT"))

    # -- writing ---------------------------------------------------------------------------

    def _require_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise WorkspaceError("the workspace is open read-only")
        if not self.config.update_endpoint:
            raise WorkspaceError(
                f"the store at {self.config.query_endpoint} has no update endpoint: it is read-only "
                "(give one with 'kgalign init --update-endpoint URL')"
            )

    def update(self, sparql: str, *, prefixes: dict[str, str] | None = None) -> None:
        from kgalign.symbolic.store import _refuse_remote

        _refuse_remote(sparql, update=True)
        try:
            self._send_update(self._with_prefixes(sparql, prefixes))
        except QuerySyntaxError as e:
            raise _unprefixed(e, sparql) from None
        finally:
            self._invalidate()

    def _upload(self, graph: str, chunks: Iterable[bytes], what: str) -> None:
        """Stream N-Triples into ``graph`` in one request (GSP POST, else one INSERT DATA)."""
        self._require_writable()
        if self.config.graph_store:
            sep = "&" if "?" in self.config.graph_store else "?"
            url = f"{self.config.graph_store}{sep}{urlencode({'graph': graph})}"
            body: Iterable[bytes] = chunks
            headers = {"Content-Type": _NT}
        else:
            url = self.config.update_endpoint  # type: ignore[assignment]
            body = itertools.chain([f"INSERT DATA {{ GRAPH <{graph}> {{\n".encode()], chunks, [b"} }"])
            headers = {"Content-Type": "application/sparql-update"}
        if self.config.chunked_uploads:
            status, _, data = self._http.request("POST", url, body=body, headers=headers,
                                                 timeout=self.config.upload_timeout, what=what, retry=False)
        else:
            import tempfile

            with tempfile.SpooledTemporaryFile(max_size=UPLOAD_SPOOL) as f:
                for chunk in body:
                    f.write(chunk)
                headers["Content-Length"] = str(f.tell())
                f.seek(0)
                status, _, data = self._http.request("POST", url, body=f, headers=headers,  # type: ignore[arg-type]
                                                     timeout=self.config.upload_timeout, what=what, retry=False)
        if status >= 400:
            raise self._error(status if status != 400 else 500, data, "", what, url)

    def _journal(self, write: str, target: str) -> str:
        entry = f"{KGA}pending/{uuid.uuid4().hex}"
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        owner = f"{socket.gethostname()} {os.getpid()}"
        self._send_update(
            f"""INSERT DATA {{ GRAPH <{JOURNAL_GRAPH}> {{ <{entry}> a <{KGA}PendingWrite> ;
                <{KGA}writeGraph> <{write}> ; <{KGA}targetGraph> <{escape_iri(target)}> ;
                <{KGA}startedAt> "{now}"^^<{XSD}dateTime> ; <{KGA}writer> {literal(owner)} }} }}""",
            what="journalling a write",
        )
        return entry

    def _close_entry(self, entry: str) -> str:
        return f"DELETE WHERE {{ GRAPH <{JOURNAL_GRAPH}> {{ <{entry}> ?p ?o }} }}"

    def _discard(self, write: str, entry: str) -> None:
        try:
            self._send_update(f"DROP SILENT GRAPH <{write}> ;\n{self._close_entry(entry)}", what="discarding a failed write")
        except KgalignError:
            pass  # left to recover()

    def _write(self, target: str, chunks: Iterable[bytes], *, what: str, check: Any = None,
               commit: Any = None) -> int:
        """Upload into a staging graph, then one update moves it over ``target`` (see the module docstring)."""
        self._require_writable()
        # A first load of an artefact goes straight into its graph: the graph is not in the
        # provenance yet, so no kgalign query sees it until the commit lists it there.
        direct = target.startswith(GRAPH_PREFIX) and not self._exists(target)
        write = target if direct else STAGING_PREFIX + uuid.uuid4().hex
        entry = self._journal(write, target)
        try:
            self._upload(write, chunks, what)
            n = self._count(write)
            if check is not None:
                check(n)
            t = f"<{escape_iri(target)}>"
            ops = []
            if not direct:
                ops.append(f"MOVE SILENT GRAPH <{write}> TO GRAPH {t}" if n else f"DROP SILENT GRAPH {t}")
            if commit is not None:
                ops.append(commit(n))
            ops.append(self._close_entry(entry))
            if not n and not direct:
                ops.append(f"DROP SILENT GRAPH <{write}>")
            self._send_update(" ;\n".join(ops), what=f"{what} (the commit)")
        except BaseException:
            self._discard(write, entry)
            raise
        finally:
            self._invalidate()
        return n

    def _exists(self, iri: str) -> bool:
        _, data = self._send_query(f"ASK {{ GRAPH <{escape_iri(iri)}> {{ ?s ?p ?o }} }}", ([iri], [iri]),
                                   accept=_JSON, what="SPARQL query")
        return bool(parse_json_results(data))

    def load_graph(self, graph: ParsedGraph) -> GraphInfo:
        """Parse the artefact here and store it on the server, replacing an earlier version atomically
        (where the server's updates are transactions: see the module docstring)."""
        target = graph_iri(graph.name)
        source_graphs: set[str] = set()
        loaded_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        def info(n: int) -> GraphInfo:
            return GraphInfo(
                name=graph.name, iri=target, source=graph.source, format=graph.format_name, sha256=graph.sha256,
                loaded_at=loaded_at, triples=n, base_iri=graph.base_iri,
                source_graphs=tuple(sorted(source_graphs)[:MAX_SOURCE_GRAPHS]),
            )

        def check(n: int) -> None:
            if n == 0:
                raise LoadError(f"no triples: the {graph.format_name} file parsed but holds nothing to load",
                                path=graph.source)

        n = self._write(
            target, ntriples_chunks(graph, source_graphs), what=f"loading {graph.source} into {self.location}",
            check=check,
            commit=lambda n: provenance_update(info(n), graph.prefixes, PROVENANCE_GRAPH, KGA, XSD),
        )
        return info(n)

    def replace_graph(self, iri: str, triples: Iterable[Triple | Quad]) -> int:
        def chunks() -> Iterator[bytes]:
            it = ntriples_lines(triples)
            while batch := list(itertools.islice(it, UPLOAD_BATCH)):
                yield "".join(batch).encode()

        return self._write(iri, chunks(), what=f"writing the graph {iri} to {self.location}")

    def replace_graph_text(self, iri: str, lines: Iterable[str]) -> int:
        """:meth:`replace_graph` from N-Triples text ``lines`` (pieces
        that each end with a newline)."""

        def chunks() -> Iterator[bytes]:
            it = iter(lines)
            while batch := list(itertools.islice(it, UPLOAD_BATCH)):
                yield "".join(batch).encode()

        return self._write(iri, chunks(), what=f"writing the graph {iri} to {self.location}")

    def drop_artefact(self, name: str) -> None:
        """Remove an artefact's provenance and graph in one update."""
        g = escape_iri(graph_iri(name))
        self._send_update(
            f"DELETE WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ <{g}> ?p ?o }} }} ;\nDROP SILENT GRAPH <{g}>",
            what=f"dropping {name}",
        )
        self._invalidate()

    def recover(self, *, older_than: timedelta = timedelta(days=1)) -> list[str]:
        """Drop what killed writes left: staging graphs of journal entries whose writer (on this
        machine) is gone, or that are older than ``older_than``. Returns the graphs dropped."""
        if self.read_only or not self.config.update_endpoint:
            return []
        rows = self._raw_select(
            f"""SELECT ?e ?w ?at ?who WHERE {{ GRAPH <{JOURNAL_GRAPH}> {{ ?e a <{KGA}PendingWrite> ; <{KGA}writeGraph> ?w .
                OPTIONAL {{ ?e <{KGA}startedAt> ?at }} OPTIONAL {{ ?e <{KGA}writer> ?who }} }} }}""",
            [JOURNAL_GRAPH],
        )
        host = socket.gethostname()
        now = datetime.now(timezone.utc)
        dropped: list[str] = []
        for r in rows:
            who = r["who"].value.split(" ") if r["who"] is not None else []  # type: ignore[union-attr]
            at = r["at"]
            started = datetime.strptime(at.value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) if at else None
            gone = len(who) == 2 and who[0] == host and not _alive(int(who[1]))
            if gone or started is None or now - started > older_than:
                # An open entry means its commit never ran: what it was writing is not visible.
                w = r["w"].value  # type: ignore[union-attr]
                self._discard(w, r["e"].value)  # type: ignore[union-attr]
                dropped.append(w)
        return dropped

    def flush(self) -> None:
        pass

    def __enter__(self) -> SparqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._http.close()
        if self.on_close is not None:
            self.on_close()


def _unprefixed(e: QuerySyntaxError, text: str) -> QuerySyntaxError:
    """The error's position in the user's text (kgalign sent one extra line of PREFIX declarations)."""
    line = max(e.line - 1, 1) if e.line else None
    return QuerySyntaxError(e.message, text=text, line=line, column=e.column, expected=e.expected)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ntriples_chunks(graph: ParsedGraph, source_graphs: set[str]) -> Iterator[bytes]:
    """The parsed artefact as N-Triples, in batches (every quad of a dataset into one graph).

    Parse errors become :class:`LoadError` naming the file, line and column.
    """
    import pyoxigraph as ox

    from kgalign.store.rdfio import _clean_parser_message, rdf_format

    fmt = rdf_format(graph.media_type)
    src: dict[str, Any] = {"path": str(graph.path)} if graph.path is not None else {"input": graph.data}
    try:
        parsed = ox.parse(**src, format=fmt, base_iri=graph.base_iri)
        while batch := list(itertools.islice(parsed, UPLOAD_BATCH)):
            if fmt.supports_datasets:
                for q in batch:
                    gn = q.graph_name
                    if not isinstance(gn, ox.DefaultGraph) and len(source_graphs) < MAX_SOURCE_GRAPHS:
                        source_graphs.add(gn.value if isinstance(gn, ox.NamedNode) else str(gn))
            triples = [q.triple for q in batch]
            yield ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)  # type: ignore[misc]
    except SyntaxError as e:
        raise LoadError(_clean_parser_message(e), path=graph.source, line=e.lineno, column=e.offset) from None
    except UnicodeDecodeError as e:
        raise LoadError(f"not UTF-8 text: {e.reason}", path=graph.source) from None
    except ValueError as e:
        raise LoadError(f"cannot parse as {graph.format_name}: {e}", path=graph.source) from None
    except OSError as e:
        raise LoadError(f"cannot read: {e}", path=graph.source) from None


__all__ = ["EndpointConfig", "SparqlStore", "check_url", "GRAPH_PREFIX"]
