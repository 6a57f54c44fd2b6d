"""Resource endpoints: graphs, symbols, features, mappings, the pruning report.

Each handler reads its parameters, makes the same :class:`~kgalign.api.Workspace` calls
the CLI makes (in a worker thread, with a deadline), and returns JSON. The records
built here (:func:`symbol_record`, :func:`feature_page`) are what the web console shows.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from kgalign.errors import UnknownNameError, UsageError
from kgalign.server import integrations
from kgalign.server.errors import NotFound, UnsupportedMediaType
from kgalign.server.http import JSONResponse, int_param, media_type, negotiate_or_406, require_write
from kgalign.server.openapi import content, ok, operation, path_param, query
from kgalign.server.sources import Fetched, fetch_url, safe_filename
from kgalign.symbolic.store import escape_iri
from kgalign.symbolic.symbols import KINDS, Symbol
from kgalign.symbolic.vocab import MAPPINGS_GRAPH, graph_iri, local_name


async def _run(request: Request, fn, *args: Any, what: str = "the request", long: bool = False) -> Any:
    state = request.app.state
    timeout = state.config.match_timeout if long else state.config.query_timeout
    return await state.runner.run(fn, *args, timeout=timeout, what=what)


# -- graphs -------------------------------------------------------------------------------------


def graph_summary(ws, info) -> dict:
    d = info.to_dict()
    kinds: dict[str, int] = {}
    for s in ws.symbols(info.name):
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    d["symbols"] = sum(kinds.values())
    d["kinds"] = dict(sorted(kinds.items()))
    return d


def graph_summaries(ws) -> list[dict]:
    return [graph_summary(ws, g) for g in ws.graphs()]


@operation("GET", "List the loaded artefacts (one named graph each) with provenance and symbol counts",
           responses=ok("the graphs"), errors=(), tags=["graphs"])
@operation(
    "POST", "Load an artefact (upload or URL) into its own graph, atomically replacing an earlier version",
    request_body={"required": True, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "the artefact (OWL, RDF/XML, Turtle, ...)"},
        "url": {"type": "string", "description": "instead of file: a file: URL inside --file-root (or http(s) "
                "when allowed)"},
        "name": {"type": "string", "description": "graph name (default: the file's stem)"},
        "format": {"type": "string", "description": "override the detected format"}}}}}},
    responses=ok("the loaded graph's provenance", status="201"), errors=(400, 409, 415), writes=True, tags=["graphs"],
)
async def graphs_endpoint(request: Request) -> Response:
    ws = request.app.state.ws
    if request.method == "GET":
        return JSONResponse({"graphs": await _run(request, graph_summaries, ws, what="listing graphs")})
    require_write(request)
    if media_type(request) != "multipart/form-data":
        raise UnsupportedMediaType(media_type(request), ["multipart/form-data"])
    async with request.form(max_files=1, max_fields=8) as form:
        name, fmt = _form_text(form, "name"), _form_text(form, "format")
        with tempfile.TemporaryDirectory(prefix="kgalign-upload-") as tmp:
            fetched = await receive_file(request, form, "file", Path(tmp), url_field="url")
            if fetched is None:
                raise UsageError("send the artefact as the 'file' part (or a 'url')")
            rep = await _run(request, functools.partial(ws.load, fetched.path, name=name, format=fmt),
                             what="the load", long=True)
    return JSONResponse({"graph": rep.info.to_dict(), "replaced": rep.replaced}, status_code=201)


def _form_text(form, key: str) -> str | None:
    """A non-empty text field of a form (None when absent, empty, or a file)."""
    v = form.get(key)
    return (v.strip() or None) if isinstance(v, str) else None


async def receive_file(
    request: Request, form, field: str, dest: Path, url_field: str | None = None, inline_ok: bool = False
) -> Fetched | None:
    """The form's file part ``field`` (or URL in ``url_field``/``field``) copied into ``dest``.

    With ``inline_ok``, a text field that is not a ``file:``/``http(s):`` URL (URLs hold no white space)
    is taken as the content itself.
    """
    part = form.get(field)
    cfg = request.app.state.config
    if isinstance(part, UploadFile):
        name = safe_filename(part.filename, field)
        target = dest / name
        if target.exists():
            target = dest / f"{uuid.uuid4().hex[:8]}-{name}"
        size = 0
        with open(target, "wb") as f:
            while chunk := await part.read(1 << 20):
                size += len(chunk)
                f.write(chunk)
        if size == 0:
            raise UsageError(f"the {field!r} upload is empty")
        return Fetched(target, part.filename or field, name)
    url = _form_text(form, field) or (_form_text(form, url_field) if url_field else None)
    if url is None:
        return None
    looks_like_url = not any(c.isspace() for c in url) and urlsplit(url).scheme.lower() in ("file", "http", "https")
    if inline_ok and not looks_like_url:
        target = dest / field
        target.write_text(url, encoding="utf-8")
        return Fetched(target, f"inline {field}", field)
    sub = dest / uuid.uuid4().hex[:8]
    sub.mkdir()
    return await _run(request, fetch_url, url, cfg, sub, field, what=f"fetching {field}", long=True)


def graph_detail(ws, name: str) -> dict:
    ws.require_graph(name)
    info = next(g for g in ws.graphs() if g.name == name)
    d = graph_summary(ws, info)
    d["prefixes"] = ws.store.prefixes(name)
    d["embedded_symbols"] = sum(1 for g, _ in ws.space.keys if g == name) if ws.has_space() else 0
    d["embedded"] = d["embedded_symbols"] > 0
    d["stale"] = name in ws.stale_graphs()
    return d


GRAPH_RDF = {
    "text/turtle": "TURTLE",
    "application/n-triples": "N_TRIPLES",
    "application/rdf+xml": "RDF_XML",
    "application/ld+json": "JSON_LD",
}


def graph_rdf(ws, name: str, mt: str) -> bytes:
    from kgalign.store.rdfio import serialize_triples

    ws.require_graph(name)
    res = ws.sparql_raw(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{escape_iri(graph_iri(name))}> {{ ?s ?p ?o }} }}")
    return serialize_triples(res, mt)


@operation("GET", "One artefact: provenance, symbol counts, prefixes; or its triples (Turtle, N-Triples, "
           "RDF/XML, JSON-LD) by content negotiation",
           parameters=[path_param("name", "graph name")],
           responses={"200": {"description": "the graph", "content": content("application/json", *GRAPH_RDF)}},
           errors=(404, 406), tags=["graphs"])
@operation("DELETE", "Remove an artefact's graph and provenance", parameters=[path_param("name", "graph name")],
           responses={"204": {"description": "dropped"}}, errors=(404,), writes=True, tags=["graphs"])
async def graph_endpoint(request: Request) -> Response:
    ws = request.app.state.ws
    name = request.path_params["name"]
    if request.method == "DELETE":
        require_write(request)
        await _run(request, ws.drop, name, what="dropping the graph", long=True)
        return Response(status_code=204)
    mt = negotiate_or_406(request, ["application/json", *GRAPH_RDF])
    if mt == "application/json":
        return JSONResponse(await _run(request, graph_detail, ws, name, what="reading the graph"))
    body = await _run(request, graph_rdf, ws, name, mt, what="exporting the graph")
    return Response(body, media_type=mt, headers={"Vary": "Accept"})


# -- symbols ------------------------------------------------------------------------------------


def symbol_summary(s: Symbol) -> dict:
    return {"iri": s.iri, "graph": s.graph, "kind": s.kind, "label": s.label, "local_name": s.local_name,
            "definition": s.definition}


def list_symbols(ws, graph: str | None, kind: str | None, q: str | None, limit: int, offset: int) -> dict:
    if q:  # what the name resolves to first, then every symbol whose names contain it
        found = [s for s in ws.resolve(q, graph) if kind is None or s.kind == kind]
        seen = {(s.graph, s.iri) for s in found}
        needle = q.lower()
        found += [s for s in ws.symbols(graph, kind)
                  if (s.graph, s.iri) not in seen
                  and (needle in s.label.lower() or needle in s.local_name.lower()
                       or any(needle in a.lower() for a in s.alt_labels))]
    else:
        found = ws.symbols(graph, kind)
    return {"total": len(found), "offset": offset, "limit": limit,
            "symbols": [symbol_summary(s) for s in found[offset: offset + limit]]}


@operation("GET", "List or search symbols",
           parameters=[query("graph", "only this graph"), query("kind", "only this kind", schema={"enum": list(KINDS)}),
                       query("q", "a name, label, CURIE or IRI (resolved); else a substring of labels"),
                       query("limit", "page size (default 100)", schema={"type": "integer"}),
                       query("offset", "page start", schema={"type": "integer"})],
           responses=ok("the symbols"), errors=(400, 404), tags=["symbols"])
async def symbols_endpoint(request: Request) -> Response:
    p = request.query_params
    ws = request.app.state.ws
    body = await _run(request, list_symbols, ws, p.get("graph") or None, p.get("kind") or None, p.get("q") or None,
                      int_param(request, "limit", 100, 1, 5000), int_param(request, "offset", 0, 0, 10**9),
                      what="listing symbols")
    return JSONResponse(body)


def _ref(ws, iri: str, graph: str) -> dict:
    s = ws.symbol_table.get(iri, graph) or ws.symbol_table.get(iri)
    return {"iri": iri, "graph": s.graph if s else graph, "label": s.label if s else local_name(iri),
            "known": s is not None}


def symbol_mappings(ws, iri: str) -> list[dict]:
    """Mapping candidates recorded for ``iri`` in the mappings graph (either side)."""
    if not ws.store.has_graph(MAPPINGS_GRAPH):
        return []
    i = escape_iri(iri)
    rows = ws.store.select(
        f"""SELECT ?m ?s ?o ?rel ?conf ?just ?sl ?ol WHERE {{ GRAPH <{MAPPINGS_GRAPH}> {{
            {{ ?m kga:subject <{i}> }} UNION {{ ?m kga:object <{i}> }}
            ?m kga:subject ?s ; kga:object ?o ; kga:relation ?rel ; kga:confidence ?conf .
            OPTIONAL {{ ?m kga:justification ?just }} OPTIONAL {{ ?m kga:subjectLabel ?sl }}
            OPTIONAL {{ ?m kga:objectLabel ?ol }} }} }} ORDER BY DESC(?conf) LIMIT 100"""
    )
    out = []
    for r in rows:
        other_is_object = r["s"].value == iri
        other = r["o"] if other_is_object else r["s"]
        other_label = r["ol"] if other_is_object else r["sl"]
        out.append({
            "mapping": r["m"].value,
            "subject": r["s"].value,
            "object": r["o"].value,
            "relation": r["rel"].value,
            "confidence": float(r["conf"].value),
            "justification": r["just"].value if r["just"] is not None else None,
            "other": other.value,
            "other_label": other_label.value if other_label is not None else local_name(other.value),
        })
    return out


def symbol_record(ws, s: Symbol, k: int = 10, n_features: int = 16) -> dict:
    """Everything the symbol page shows: the symbol, its neighbourhood, its features, its mappings."""
    d = s.to_dict()
    d["local_name"] = s.local_name
    d["parents"] = [_ref(ws, p, s.graph) for p in s.parents]
    d["children"] = [_ref(ws, c, s.graph) for c in s.children]
    d["domains"] = [_ref(ws, c, s.graph) for c in s.domains]
    d["ranges"] = [_ref(ws, c, s.graph) for c in s.ranges]
    d["also_in"] = [o.graph for o in ws.resolve(s.iri) if o.graph != s.graph]
    key = (s.graph, s.iri)
    d["embedded"] = False
    d["features"], d["neighbours"], d["stability"] = [], [], None
    if ws.has_space():
        space = ws.space
        if space.has(key):
            d["embedded"] = True
            d["stability"] = space.stability(key)
            d["features"] = [
                {"feature": f, "label": space.feature_label(f), "weight": w, "fired_in": q,
                 "density": space.feature_density(f)}
                for f, w, q in space.support_of(key)[:n_features]
            ]
            d["neighbours"] = [
                {**_ref(ws, iri, g), "graph": g, "similarity": sim}
                for (g, iri), sim in space.similar(key, k)
            ]
        else:
            d["neural_note"] = ("this symbol is not embedded: run 'kgalign embed'"
                                + (" (its graph changed since the last embed)" if s.graph in ws.stale_graphs() else ""))
    else:
        d["neural_note"] = "the workspace has no concept space yet: run 'kgalign embed'"
    d["mappings"] = symbol_mappings(ws, s.iri)
    return d


def _symbol_by_iri(ws, iri: str, graph: str | None, k: int) -> dict:
    return symbol_record(ws, ws.symbol(iri, graph), k)


def _symbol_by_name(ws, graph: str, name: str, k: int) -> dict:
    return symbol_record(ws, ws.resolve_one(name, graph), k)


@operation("GET", "One symbol: labels, definitions, parents/children, SAE features, neighbours, mapping candidates",
           parameters=[query("iri", "the symbol's IRI", required=True), query("graph", "the graph (when the IRI is "
                       "declared in several)"), query("k", "how many neighbours (default 10)", schema={"type": "integer"})],
           responses=ok("the symbol"), errors=(400, 404), tags=["symbols"])
async def symbol_endpoint(request: Request) -> Response:
    iri = request.query_params.get("iri")
    if not iri:
        raise UsageError("give the symbol's IRI as 'iri' (or use /symbols/{graph}/{name})")
    k = int_param(request, "k", 10, 0, 200)
    body = await _run(request, _symbol_by_iri, request.app.state.ws, iri,
                      request.query_params.get("graph") or None, k, what="reading the symbol")
    return JSONResponse(body)


@operation("GET", "One symbol by graph and name (local name, label, CURIE)",
           parameters=[path_param("graph", "graph name"), path_param("name", "local name, label or CURIE"),
                       query("k", "how many neighbours (default 10)", schema={"type": "integer"})],
           responses=ok("the symbol"), errors=(404, 409), tags=["symbols"])
async def symbol_by_name_endpoint(request: Request) -> Response:
    k = int_param(request, "k", 10, 0, 200)
    body = await _run(request, _symbol_by_name, request.app.state.ws, request.path_params["graph"],
                      request.path_params["name"], k, what="reading the symbol")
    return JSONResponse(body)


# -- features -----------------------------------------------------------------------------------


def feature_page(ws, f: int, limit: int) -> dict:
    space = ws.space
    rec = ws.feature(f, limit)
    for sym in rec["symbols"]:
        key = (sym["graph"], sym["iri"])
        sym["stability"] = space.stability(key) if space.has(key) else None
    stab = [s["stability"] for s in rec["symbols"] if s["stability"] is not None]
    rec["mean_stability"] = sum(stab) / len(stab) if stab else None
    rec["d_sae"] = space.d_sae
    return rec


def feature_list(ws, limit: int, offset: int, sort: str) -> dict:
    from kgalign.index.operators import load_counts

    space = ws.space
    counts = load_counts(space)
    rows = []
    for f in range(space.d_sae):
        n = int(counts[f])
        rows.append({"feature": f, "label": space.feature_label(f), "density": space.feature_density(f),
                     "n_symbols_loading": n})
    if sort == "density":
        rows.sort(key=lambda r: (-(r["density"] or 0.0), r["feature"]))
    elif sort == "symbols":
        rows.sort(key=lambda r: (-r["n_symbols_loading"], r["feature"]))
    elif sort != "index":
        raise UsageError(f"unknown sort {sort!r}; known sorts: symbols, density, index")
    return {"d_sae": space.d_sae, "total": len(rows), "features": rows[offset: offset + limit]}


@operation("GET", "List the SAE's features with label, density and how many symbols load on each",
           parameters=[query("sort", "symbols (default), density or index"),
                       query("limit", "page size (default 50)", schema={"type": "integer"}),
                       query("offset", "page start", schema={"type": "integer"})],
           responses=ok("the features"), errors=(400, 409), tags=["features"])
async def features_endpoint(request: Request) -> Response:
    body = await _run(request, feature_list, request.app.state.ws, int_param(request, "limit", 50, 1, 100_000),
                      int_param(request, "offset", 0, 0, 10**9), request.query_params.get("sort", "symbols"),
                      what="listing features")
    return JSONResponse(body)


@operation("GET", "One SAE feature: label, density, top symbols (with stability), top evidence snippets",
           parameters=[path_param("n", "feature index", {"type": "integer"}),
                       query("limit", "how many symbols and snippets (default 10)", schema={"type": "integer"})],
           responses=ok("the feature"), errors=(404, 409), tags=["features"])
async def feature_endpoint(request: Request) -> Response:
    raw = request.path_params["n"]
    if not raw.isascii() or not raw.isdigit():
        raise NotFound(f"no such resource: {request.url.path[:200]} (features are numbered: /features/0)")
    if len(raw) > 10:  # never int() an unbounded string
        raise UnknownNameError("feature", raw[:20] + ("…" if len(raw) > 20 else ""), [])
    body = await _run(request, feature_page, request.app.state.ws, int(raw),
                      int_param(request, "limit", 10, 1, 500), what="reading the feature")
    return JSONResponse(body)


# -- bridge check -------------------------------------------------------------------------------


def check_record(ws) -> dict:
    """The saved ``kgalign check`` of the current embed run (never recomputed by a GET)."""
    from kgalign.align.check import load_check

    res = load_check(ws)
    if res is None:
        return {"checked": False, "message": "no bridge check for this embed run: run 'kgalign check'"}
    return {"checked": True, **res.to_dict()}


@operation("GET", "The bridge check of this workspace (what 'kgalign check' measured and its verdict per claim kind)",
           responses=ok("the saved check, or checked: false"), errors=(409,), tags=["features"])
async def check_endpoint(request: Request) -> Response:
    body = await _run(request, check_record, request.app.state.ws, what="reading the bridge check")
    return JSONResponse(body)


# -- mappings -----------------------------------------------------------------------------------

MAPPING_TYPES = {
    "application/json": "json",
    "text/tab-separated-values": "sssom",
    "application/xml": "alignment",
    "application/rdf+xml": "alignment",
}
MAPPING_FORMATS = ("json", "sssom", "alignment")


class AlignmentCache:
    """Matcher results per (source, target, both artefacts' checksums): matching twice is not free."""

    def __init__(self, size: int = 32) -> None:
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get_or_compute(self, key: tuple, compute) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value


def find_alignment(ws, source: str, target: str, fresh: bool, cache: AlignmentCache) -> tuple[Any, str]:
    ws.require_graph(source)
    ws.require_graph(target)
    if not fresh:
        reader = integrations.stored_alignments()
        if reader is not None and ws.store.has_graph(MAPPINGS_GRAPH):
            for al in reader(ws):
                if al.source_graph == source and al.target_graph == target:
                    return al, "store"
    integrations.matcher_class()  # 501 when the matcher is not installed
    sums = {g.name: g.sha256 for g in ws.graphs()}
    run = ws.path / "neural" / "run.json"
    key = (source, target, sums[source], sums[target], ws.path.resolve().as_posix(), ws.generation,
           run.stat().st_mtime_ns if run.exists() else None)
    return cache.get_or_compute(key, lambda: ws.match(source, target)), "matcher"


def stored(ws) -> list:
    reader = integrations.stored_alignments()
    if reader is None or not ws.store.has_graph(MAPPINGS_GRAPH):
        return []
    return reader(ws)


def render_alignments(als: list, fmt: str) -> tuple[bytes | dict, str]:
    if fmt == "json":
        return {"alignments": [a.to_dict() for a in als]}, "application/json"
    if fmt == "sssom":
        return integrations.alignment_writer("sssom")(als).encode("utf-8"), "text/tab-separated-values"
    if len(als) != 1:
        raise UsageError("the Alignment API format holds one alignment: give 'source' and 'target'")
    return integrations.alignment_writer("alignment")(als[0]).encode("utf-8"), "application/rdf+xml"


@operation("GET", "Mappings between two artefacts (stored in the mappings graph, else computed by the matcher), "
           "or every stored alignment; as JSON, SSSOM TSV or Alignment API RDF/XML",
           parameters=[query("source", "source graph"), query("target", "target graph"),
                       query("format", "json (default), sssom or alignment (else by Accept)"),
                       query("fresh", "1 = run the matcher even when stored mappings exist")],
           responses={"200": {"description": "the mappings",
                              "content": content("application/json", "text/tab-separated-values",
                                                 "application/rdf+xml")}},
           errors=(400, 404, 406, 501), tags=["mappings"])
async def mappings_endpoint(request: Request) -> Response:
    p = request.query_params
    state = request.app.state
    fmt = p.get("format")
    if fmt is not None and fmt not in MAPPING_FORMATS:
        raise UsageError(f"unknown format {fmt!r}; known formats: {', '.join(MAPPING_FORMATS)}")
    if fmt is None:
        fmt = MAPPING_TYPES[negotiate_or_406(request, list(MAPPING_TYPES))]
    source, target = p.get("source") or None, p.get("target") or None
    if (source is None) != (target is None):
        raise UsageError("give both 'source' and 'target' (or neither, for every stored alignment)")
    if source is None:
        als = await _run(request, stored, state.ws, what="reading stored mappings")
        origin = "store"
    else:
        al, origin = await _run(request, find_alignment, state.ws, source, target, p.get("fresh") in ("1", "true"),
                                state.alignment_cache, what="the match", long=True)
        als = [al]
    body, mt = render_alignments(als, fmt)
    headers = {"Vary": "Accept", "X-Kgalign-Mappings-Origin": origin}
    if isinstance(body, dict):
        body["origin"] = origin
        return JSONResponse(body, headers=headers)
    return Response(body, media_type=mt, headers=headers)


# -- the pruning report -------------------------------------------------------------------------


class ReportCache:
    """The report's HTML per workspace state (graphs, concept space, mappings): built once, served many times."""

    def __init__(self) -> None:
        self._html: dict[str, str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(ws, behaviour: bool) -> str:
        run = ws.path / "neural" / "run.json"
        parts = [g.sha256 for g in ws.graphs()] + [run.read_text() if run.exists() else "", behaviour,
                                                   ws.generation]
        if ws.store.has_graph(MAPPINGS_GRAPH):
            parts.append(ws.store.count(MAPPINGS_GRAPH))
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def html(self, ws, behaviour: bool) -> str:
        render = integrations.report_html()
        k = self.key(ws, behaviour)
        with self._lock:  # one build at a time; the others wait for it and reuse it
            if k not in self._html:
                # the report `kgalign report` writes: the matcher under the workspace's policy
                self._html = {k: render(ws, behaviour=behaviour)}
            return self._html[k]


def report_html(request: Request, behaviour: bool) -> str:
    cfg = request.app.state.config
    if cfg.report_dir is not None:
        root = Path(cfg.report_dir)
        for name in ("report.html", "index.html"):
            if (root / name).is_file():
                return (root / name).read_text(encoding="utf-8")
        raise NotFound(f"no report.html in {root}")
    return request.app.state.report_cache.html(request.app.state.ws, behaviour)


@operation("GET", "The pruning report (self-contained HTML): merge candidates, bridges, pruning candidates, "
           "blind spots, unstable symbols, coverage",
           parameters=[query("behaviour", "1 = also run the behavioural checks (slow: loads the model)")],
           responses={"200": {"description": "the report", "content": content("text/html")}},
           errors=(404, 409, 501), tags=["report"])
async def report_endpoint(request: Request) -> Response:
    behaviour = request.query_params.get("behaviour") in ("1", "true")
    html = await _run(request, report_html, request, behaviour, what="the report", long=True)
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
