"""The SPARQL 1.1 Protocol at ``/sparql``: queries by GET or POST, updates by POST with the write token.

A query is run through :meth:`kgalign.api.Workspace.sparql` (the union of every graph
as the default graph, the ``kga:`` extension functions once the workspace is embedded)
in a worker thread with a deadline, and its results are written in the format the
client negotiated: SPARQL JSON/XML/CSV/TSV for SELECT and ASK; Turtle, N-Triples,
RDF/XML, JSON-LD or N3 for CONSTRUCT and DESCRIBE. A ``format``/``output``/``results``
parameter (as SPARQLWrapper and Virtuoso clients send) names the format instead.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pyoxigraph as ox
from starlette.requests import Request
from starlette.responses import Response

from kgalign.errors import QuerySyntaxError, UsageError
from kgalign.server.errors import MethodNotAllowed, NotAcceptable, UnsupportedMediaType
from kgalign.server.http import media_type, negotiate, require_write
from kgalign.server.openapi import content, operation, query

RESULTS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/xml": ox.QueryResultsFormat.XML,
    "text/xml": ox.QueryResultsFormat.XML,
}
GRAPHS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "text/n3": ox.RdfFormat.N3,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "application/xml": ox.RdfFormat.RDF_XML,
}
#: Short names of the ``format`` parameter: (for solutions, for graphs).
FORMAT_NAMES = {
    "json": ("application/sparql-results+json", "application/ld+json"),
    "xml": ("application/sparql-results+xml", "application/rdf+xml"),
    "csv": ("text/csv", None),
    "tsv": ("text/tab-separated-values", None),
    "turtle": (None, "text/turtle"),
    "ttl": (None, "text/turtle"),
    "nt": (None, "application/n-triples"),
    "ntriples": (None, "application/n-triples"),
    "n-triples": (None, "application/n-triples"),
    "rdf": (None, "application/rdf+xml"),
    "rdfxml": (None, "application/rdf+xml"),
    "rdf+xml": (None, "application/rdf+xml"),
    "json-ld": (None, "application/ld+json"),
    "jsonld": (None, "application/ld+json"),
    "n3": (None, "text/n3"),
}
FORMAT_PARAMS = ("format", "output", "results")
QUERY_TYPES = ("application/x-www-form-urlencoded", "application/sparql-query", "application/sparql-update")


@dataclass
class SparqlRequest:
    query: str | None = None
    update: str | None = None
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()


def _one(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    if len(values) > 1:
        raise UsageError(f"give one {name!r} parameter, not {len(values)}")
    return values[0] if values else None


def _from_pairs(pairs: list[tuple[str, str]], into: SparqlRequest) -> SparqlRequest:
    into.default_graphs += tuple(v for k, v in pairs if k == "default-graph-uri")
    into.named_graphs += tuple(v for k, v in pairs if k == "named-graph-uri")
    into.formats += tuple(v for k, v in pairs if k in FORMAT_PARAMS)
    for k in ("using-graph-uri", "using-named-graph-uri"):
        if any(key == k for key, _ in pairs):
            raise UsageError(f"{k!r} is not supported; name the graphs in the update with USING or GRAPH")
    return into


async def parse_request(request: Request) -> SparqlRequest:
    """The query or update of a SPARQL Protocol request, by the rules of SPARQL 1.1 Protocol §2."""
    url_pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "GET":
        if any(k == "update" for k, _ in url_pairs):
            raise MethodNotAllowed("GET", "/sparql (updates)", ["POST"])
        req = _from_pairs(url_pairs, SparqlRequest(query=_one(url_pairs, "query")))
        if req.query is None:
            raise UsageError("give the SPARQL query as the 'query' parameter")
        return req
    mt = media_type(request)
    if mt not in QUERY_TYPES:  # refused before a byte of the body is read
        raise UnsupportedMediaType(mt, list(QUERY_TYPES))
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"the request body is not UTF-8 text ({e.reason} at byte {e.start})") from None
    if mt == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        req = SparqlRequest(query=_one(url_pairs + pairs, "query"), update=_one(url_pairs + pairs, "update"))
        _from_pairs(url_pairs + pairs, req)
        if (req.query is None) == (req.update is None):
            raise UsageError("give exactly one of 'query' and 'update'")
        return req
    if mt == "application/sparql-query":
        return _from_pairs(url_pairs, SparqlRequest(query=text))
    if mt == "application/sparql-update":
        return _from_pairs(url_pairs, SparqlRequest(update=text))
    raise UnsupportedMediaType(mt, list(QUERY_TYPES))


def choose_format(kind: str, accept: str | None, formats: tuple[str, ...]) -> str:
    """The media type to answer with for a ``solutions`` or ``graph`` result."""
    table = RESULTS if kind == "solutions" else GRAPHS
    offers = list(table)
    for f in formats:  # an explicit format parameter wins when it names something we write
        f = f.strip().lower()
        if f in table:
            return f
        if f in FORMAT_NAMES:
            mt = FORMAT_NAMES[f][0 if kind == "solutions" else 1]
            if mt is None:
                raise NotAcceptable(f"format={f}", offers)
            return mt
    chosen = negotiate(accept, offers)
    if chosen is None:
        raise NotAcceptable(accept or "", offers)
    return chosen


_POSITION = re.compile(r"\bat (\d+):(\d+)\b")
_EXPECTED = re.compile(r"expected (.+)$")


def with_position(err: QuerySyntaxError) -> QuerySyntaxError:
    """The error with line and column filled in from pyoxigraph's message ('error at 3:2: ...') when missing."""
    if err.line is not None:
        return err
    m = _POSITION.search(err.message)
    if not m:
        return err
    exp = _EXPECTED.search(err.message)
    expected = [x.strip() for x in exp.group(1).split(" or ")] if exp else []
    return QuerySyntaxError(err.message, text=err.text, line=int(m.group(1)), column=int(m.group(2)), expected=expected)


def update(ws, text: str) -> None:
    try:
        ws.sparql_update(text)
    except QuerySyntaxError as e:
        raise with_position(e) from None


class ExtensionFunctions:
    """The ``kga:`` functions over the workspace's concept space, held by the server.

    :meth:`Workspace.sparql_functions` takes the workspace lock, which a load holds for
    its whole parse; SPARQL readers use these instead and so never wait for a load.
    Rebuilt when ``neural/run.json`` changes (a new embed).
    """

    def __init__(self) -> None:
        self._stamp: int | None = None
        self._functions: dict | None = None
        self._lock = threading.Lock()

    def get(self, ws) -> dict | None:
        run = ws.path / "neural" / "run.json"
        try:
            stamp = run.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        with self._lock:
            if stamp != self._stamp:
                from kgalign.index.space import ConceptSpace
                from kgalign.query.functions import custom_functions

                self._functions = custom_functions(ConceptSpace.open(ws.path))
                self._stamp = stamp
            return self._functions


def execute_query(ws, req: SparqlRequest, accept: str | None, functions: dict | None = None) -> tuple[bytes, str]:
    """Run the query and serialise its results (both in the worker thread: results are lazy)."""
    try:
        if req.default_graphs or req.named_graphs:
            res = _query_with_dataset(ws, req, functions)
        else:
            res = ws.sparql_raw(req.query, custom_functions=functions or None)
    except QuerySyntaxError as e:
        raise with_position(e) from None
    # pyoxigraph results may only be dropped on the thread that made them: never let one
    # travel to the event loop inside an exception's traceback.
    try:
        if isinstance(res, ox.QueryTriples):
            mt = choose_format("graph", accept, req.formats)
            return res.serialize(format=GRAPHS[mt]), mt
        mt = choose_format("solutions", accept, req.formats)
        return res.serialize(format=RESULTS[mt]), mt
    except BaseException:
        res = None
        raise


def _query_with_dataset(ws, req: SparqlRequest, functions: dict | None):
    """A query over the dataset the request names (``default-graph-uri``/``named-graph-uri``)."""
    from kgalign.errors import KgalignError
    from kgalign.symbolic.store import sparql_error
    from kgalign.symbolic.vocab import STANDARD_PREFIXES

    kw = {}
    if req.default_graphs:
        kw["default_graph"] = [ox.NamedNode(g) for g in req.default_graphs]
    if req.named_graphs:
        kw["named_graphs"] = [ox.NamedNode(g) for g in req.named_graphs]
    try:
        return ws.store.raw.query(
            req.query, prefixes=dict(STANDARD_PREFIXES), custom_functions=functions or None, **kw
        )
    except SyntaxError as e:
        raise sparql_error(e, req.query) from None
    except ValueError as e:
        raise UsageError(f"bad dataset IRI: {e}") from None
    except OSError as e:
        raise KgalignError(f"SPARQL evaluation failed: {e}") from None


_DESCRIPTION = (
    "SPARQL 1.1 Protocol. The default graph is the union of every graph (artefacts, provenance, "
    "neural facts, mappings) unless default-graph-uri names graphs. The kga: extension functions "
    "(similarity, sharedFeatures, overlap, stability, featureWeight, featureLabel) are available "
    "once the workspace is embedded."
)
_PARAMS = [
    query("query", "the SPARQL query", required=True),
    query("default-graph-uri", "a graph of the default graph (repeatable)"),
    query("named-graph-uri", "a named graph the query may use (repeatable)"),
    query("format", "a result format instead of the Accept header: json, xml, csv, tsv, turtle, nt, rdfxml, jsonld"),
]
_RESULTS = {"200": {"description": "the results, in the negotiated format",
                    "content": content(*RESULTS, *[g for g in GRAPHS if g not in RESULTS])}}


@operation("GET", "Run a SPARQL query", description=_DESCRIPTION, parameters=_PARAMS, responses=_RESULTS,
           errors=(400, 405, 406), tags=["sparql"])
@operation(
    "POST", "Run a SPARQL query or (with the write token) an update", description=_DESCRIPTION,
    parameters=_PARAMS[1:],
    request_body={"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
            "query": {"type": "string"}, "update": {"type": "string"},
            "default-graph-uri": {"type": "string"}, "named-graph-uri": {"type": "string"}}}},
        "application/sparql-query": {"schema": {"type": "string"}},
        "application/sparql-update": {"schema": {"type": "string"}},
    }},
    responses={**_RESULTS, "204": {"description": "the update was applied"}},
    errors=(400, 401, 403, 406, 413, 415), tags=["sparql"],
)
async def sparql_endpoint(request: Request) -> Response:
    state = request.app.state
    req = await parse_request(request)
    if req.update is not None:
        require_write(request)
        await state.runner.run(update, state.ws, req.update, timeout=state.config.query_timeout,
                               what="the SPARQL update")
        return Response(status_code=204)
    body, mt = await state.runner.run(
        lambda: execute_query(state.ws, req, request.headers.get("accept"), state.sparql_functions.get(state.ws)),
        timeout=state.config.query_timeout, what="the SPARQL query",
    )
    ctype = mt + ("; charset=utf-8" if mt.startswith("text/") else "")
    return Response(body, media_type=ctype, headers={"Vary": "Accept"})
