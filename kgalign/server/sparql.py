"""The SPARQL 1.1 Protocol at ``/sparql``: queries by GET or POST, updates by POST with the write token.

A query is run through :meth:`kgalign.api.Workspace.sparql` (the union of every graph
as the default graph, the ``kga:`` extension functions once the workspace is embedded)
in a worker thread with a deadline, and its results are written in the format the
client negotiated: SPARQL JSON/XML/CSV/TSV for SELECT and ASK; Turtle, N-Triples,
RDF/XML, JSON-LD or N3 for CONSTRUCT and DESCRIBE. A ``format``/``output``/``results``
parameter (as SPARQLWrapper and Virtuoso clients send) names the format instead.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

import kgalign.store.terms as ox
from kgalign.errors import QuerySyntaxError, UsageError
from kgalign.server.errors import MethodNotAllowed, NotAcceptable, UnsupportedMediaType
from kgalign.server.http import media_type, negotiate, require_write
from kgalign.server.openapi import content, operation, query
from kgalign.store.rdfio import serialize_triples

RESULTS = {
    "application/sparql-results+json": "application/sparql-results+json",
    "application/sparql-results+xml": "application/sparql-results+xml",
    "text/csv": "text/csv",
    "text/tab-separated-values": "text/tab-separated-values",
    "application/json": "application/sparql-results+json",
    "application/xml": "application/sparql-results+xml",
    "text/xml": "application/sparql-results+xml",
}
GRAPHS = {
    "text/turtle": "text/turtle",
    "application/n-triples": "application/n-triples",
    "application/rdf+xml": "application/rdf+xml",
    "application/ld+json": "application/ld+json",
    "text/n3": "text/n3",
    "text/plain": "application/n-triples",
    "application/xml": "application/rdf+xml",
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
    if request.method in ("GET", "HEAD"):
        return parse_parts(request.method, "", request.url.query, b"")
    mt = media_type(request)
    if mt not in QUERY_TYPES:  # refused before a byte of the body is read
        raise UnsupportedMediaType(mt, list(QUERY_TYPES))
    return parse_parts(request.method, mt, request.url.query, await request.body())


def parse_parts(method: str, mt: str, url_query: str, body: bytes) -> SparqlRequest:
    """:func:`parse_request` from the request's parts: method, body media type, query string, body."""
    url_pairs = parse_qsl(url_query, keep_blank_values=True)
    if method in ("GET", "HEAD"):
        if any(k == "update" for k, _ in url_pairs):
            raise MethodNotAllowed("GET", "/sparql (updates)", ["POST"])
        req = _from_pairs(url_pairs, SparqlRequest(query=_one(url_pairs, "query")))
        if req.query is None:
            raise UsageError("give the SPARQL query as the 'query' parameter (GET /sparql without one "
                             "returns the service description)")
        return req
    if mt not in QUERY_TYPES:
        raise UnsupportedMediaType(mt, list(QUERY_TYPES))
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
    return _from_pairs(url_pairs, SparqlRequest(update=text))


_CHOSEN: dict[tuple[str, str | None, tuple[str, ...]], str] = {}


def choose_format(kind: str, accept: str | None, formats: tuple[str, ...]) -> str:
    """The media type to answer with for a ``solutions`` or ``graph`` result (remembered per
    ``Accept`` header and ``format`` parameters: clients send the same few again and again)."""
    key = (kind, accept, formats)
    chosen = _CHOSEN.get(key)
    if chosen is None:
        chosen = _choose_format(kind, accept, formats)
        if len(_CHOSEN) >= 512:
            _CHOSEN.clear()
        _CHOSEN[key] = chosen
    return chosen


def _choose_format(kind: str, accept: str | None, formats: tuple[str, ...]) -> str:
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
    """The ``kga:`` functions over the workspace's live concept space, held by the server.

    Rebuilt when ``neural/run.json`` changes (a new embed) or the workspace is written to
    (load, drop, update: :attr:`Workspace.generation`), so no answer mentions a dropped graph.
    """

    def __init__(self) -> None:
        self._stamp: tuple | None = None
        self._functions: dict | None = None
        self._lock = threading.Lock()
        self._run: str | None = None

    def get(self, ws) -> dict | None:
        if self._run is None:
            self._run = str(ws.path / "neural" / "run.json")
        try:
            stamp = (os.stat(self._run).st_mtime_ns, ws.generation)
        except FileNotFoundError:
            return None
        with self._lock:
            if stamp != self._stamp:
                from kgalign.query.functions import custom_functions

                self._functions = custom_functions(ws.space)
                self._stamp = stamp
            return self._functions


def execute_query(ws, req: SparqlRequest, accept: str | None, functions: dict | None = None) -> tuple[bytes, str]:
    """Run the query and serialise its results (both in the worker thread: results are lazy)."""
    negotiated: list[str] = []

    def choose(kind: str) -> str:
        mt = choose_format(kind, accept, req.formats)
        negotiated.append(mt)
        return (GRAPHS if kind == "graph" else RESULTS)[mt]

    try:
        body, _ = ws.sparql_serialized(
            req.query, choose, custom_functions=functions or None,
            default_graphs=req.default_graphs or None, named_graphs=req.named_graphs or None,
        )
    except QuerySyntaxError as e:
        raise with_position(e) from None
    return body, negotiated[-1]


_DESCRIPTION = (
    "SPARQL 1.1 Protocol. The default graph is the union of every graph (artefacts, provenance, "
    "neural facts, mappings) unless default-graph-uri names graphs. The kga: extension functions "
    "(similarity, sharedFeatures, overlap, stability, featureWeight, featureLabel) are available "
    "once the workspace is embedded."
)
_PARAMS = [
    query("query", "the SPARQL query (without it, GET returns the SPARQL 1.1 Service Description)"),
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
    if request.method in ("GET", "HEAD") and not _has_protocol_params(request):
        return _head_only(request, service_description(request))
    req = await parse_request(request)
    if req.update is not None:
        require_write(request)
        await state.runner.run(update, state.ws, req.update, timeout=state.config.query_timeout,
                               what="the SPARQL update")
        return Response(status_code=204)
    body, ctype = await run_query(state, req, request.headers.get("accept"))
    return _head_only(request, Response(body, media_type=ctype, headers={"Vary": "Accept"}))


async def run_query(state, req: SparqlRequest, accept: str | None) -> tuple[bytes, str]:
    """The query's results and their Content-Type, run by the server's runner under the query deadline."""
    ws = state.ws
    body, mt = await state.runner.run(
        lambda: execute_query(ws, req, accept, state.sparql_functions.get(ws)),
        timeout=state.config.query_timeout, what="the SPARQL query",
    )
    return body, mt + ("; charset=utf-8" if mt.startswith("text/") else "")


def _head_only(request: Request, response: Response) -> Response:
    """For HEAD: the same status and headers (Content-Length of the body GET would send), no body."""
    if request.method != "HEAD":
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    headers["content-length"] = str(len(response.body))
    return Response(b"", status_code=response.status_code, headers=headers)


# -- the SPARQL 1.1 Service Description at GET /sparql ---------------------------------------------

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
#: Result formats the endpoint writes, as W3C format IRIs (http://www.w3.org/ns/formats/).
SD_RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                     "Turtle", "N-Triples", "RDF_XML", "JSON-LD", "N3")
#: The kga: extension functions and what each returns (kgalign.query.functions).
SD_FUNCTIONS = {
    "similarity": "cosine similarity of two symbols' concept vectors",
    "sharedFeatures": "how many support features two symbols share",
    "overlap": "weighted Jaccard overlap of two symbols' supports",
    "stability": "a symbol's support stability",
    "featureWeight": "the weight of a feature (index or feature IRI) in a symbol",
    "featureLabel": "a feature's automatic label",
}
SD_TYPES = {"text/turtle": "text/turtle", "application/rdf+xml": "application/rdf+xml",
            "application/n-triples": "application/n-triples", "application/ld+json": "application/ld+json",
            "application/xml": "application/rdf+xml", "text/plain": "application/n-triples"}


def _has_protocol_params(request: Request) -> bool:
    names = {k for k, _ in parse_qsl(request.url.query, keep_blank_values=True)}
    return bool(names & {"query", "update"})


def service_description_triples(endpoint: str, graph_names: list[str], writable: bool) -> list[ox.Triple]:
    """The SPARQL 1.1 Service Description of this endpoint as triples."""
    from kgalign.symbolic.vocab import KGA

    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    comment = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    svc = ox.NamedNode(endpoint)
    T = ox.Triple

    def sd(name: str) -> ox.NamedNode:
        return ox.NamedNode(SD + name)

    out = [T(svc, rdf_type, sd("Service")), T(svc, sd("endpoint"), svc),
           T(svc, label, ox.Literal("kgalign SPARQL endpoint")),
           T(svc, sd("supportedLanguage"), sd("SPARQL11Query")),
           T(svc, sd("feature"), sd("UnionDefaultGraph"))]
    if writable:
        out.append(T(svc, sd("supportedLanguage"), sd("SPARQL11Update")))
    out += [T(svc, sd("resultFormat"), ox.NamedNode(FORMATS_NS + f)) for f in SD_RESULT_FORMATS]
    for name, what in SD_FUNCTIONS.items():
        fn = ox.NamedNode(KGA + name)
        out += [T(svc, sd("extensionFunction"), fn), T(fn, rdf_type, sd("ScalarFunction")),
                T(fn, comment, ox.Literal(what + " (once the workspace is embedded)"))]
    dataset, default = ox.BlankNode("dataset"), ox.BlankNode("defaultGraph")
    out += [T(svc, sd("defaultDataset"), dataset), T(dataset, rdf_type, sd("Dataset")),
            T(dataset, sd("defaultGraph"), default), T(default, rdf_type, sd("Graph")),
            T(default, comment, ox.Literal("the union of every named graph"))]
    for i, g in enumerate(graph_names):
        ng = ox.BlankNode(f"graph{i}")  # a blank node id that is an NCName, as RDF/XML needs
        out += [T(dataset, sd("namedGraph"), ng), T(ng, rdf_type, sd("NamedGraph")),
                T(ng, sd("name"), ox.NamedNode(f"urn:kgalign:graph:{g}"))]
    return out


def service_description(request: Request) -> Response:
    """GET /sparql without a query: the service description, in Turtle or RDF/XML (by Accept)."""
    accept = request.headers.get("accept")
    mt = negotiate(accept, list(SD_TYPES))
    if mt is None:
        raise NotAcceptable(accept or "", list(SD_TYPES))
    state = request.app.state
    endpoint = str(request.url.replace(query="", fragment=""))
    triples = service_description_triples(endpoint, state.ws.graph_names(), state.config.write_token is not None)
    from kgalign.symbolic.vocab import KGA

    prefixes = {"sd": SD, "formats": FORMATS_NS, "kga": KGA, "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}
    body = serialize_triples(triples, SD_TYPES[mt], prefixes=prefixes)
    ctype = mt + ("; charset=utf-8" if mt.startswith("text/") else "")
    return Response(body, media_type=ctype, headers={"Vary": "Accept"})
