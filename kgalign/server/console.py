"""What the web console needs from the workspace: completions for its editors and examples that run.

``GET /console/completions``: DSL keywords, graph names, symbol names and labels, SPARQL prefixes (the
standard ones kgalign declares, plus one per graph for its main namespace) and the ``kga:`` functions.
``GET /console/examples``: DSL and SPARQL examples built from the graphs and symbols actually loaded (and
embedded), so each one runs on whatever the workspace holds.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kgalign.server.http import JSONResponse
from kgalign.server.openapi import ok, operation

#: Symbols sent for completion at most (the editors filter them as the user types).
MAX_SYMBOLS = 5000
_NAME = re.compile(r"[^\W\d](?:[\w-]*\w)?\Z")
_PREFIX = re.compile(r"[A-Za-z][\w.-]*\Z")
_KINDS_FOR_SPARQL = {"class": "owl:Class", "concept": "skos:Concept"}


def dsl_keywords() -> list[str]:
    try:
        from kgalign.query.grammar import KEYWORDS
    except ImportError:  # pragma: no cover
        return []
    return sorted(set(KEYWORDS))


def dsl_ref(name: str) -> str:
    """A graph or symbol name as the DSL reads it: bare when it is a NAME, else a quoted string.

    >>> dsl_ref("cmt"), dsl_ref("negligence-skos"), dsl_ref("Paper Author")
    ('cmt', 'negligence-skos', '"Paper Author"')
    """
    if _NAME.match(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def namespace_of(iri: str) -> str:
    """The namespace of an IRI: up to its last ``#`` or ``/``."""
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1] if cut > 0 else ""


def graph_prefixes(ws: Any) -> dict[str, str]:
    """One prefix per graph for its most common symbol namespace (``cmt: <http://cmt#>``)."""
    from kgalign.symbolic.vocab import STANDARD_PREFIXES

    out: dict[str, str] = {}
    taken = set(STANDARD_PREFIXES) | set(STANDARD_PREFIXES.values())
    for g in ws.graph_names():
        ns = Counter(namespace_of(s.iri) for s in ws.symbols(g)).most_common(1)
        if not ns or not ns[0][0] or ns[0][0] in taken:
            continue
        p = re.sub(r"[^\w.-]", "_", g)
        p = p if _PREFIX.match(p) else "g_" + p
        if p in taken:
            continue
        out[p] = ns[0][0]
        taken |= {p, ns[0][0]}
    return out


def _embedded_graphs(ws: Any) -> list[str]:
    if not ws.has_space():
        return []
    seen = dict.fromkeys(k[0] for k in ws.space.keys)
    return [g for g in ws.graph_names() if g in seen]


def _pick_symbol(ws: Any, graph: str, embedded: bool) -> Any:
    """A symbol of ``graph`` to use in examples: a class or concept with a plain name, embedded if asked."""
    space = ws.space if embedded else None
    best = None
    for s in ws.symbols(graph):
        if embedded and not space.has((graph, s.iri)):
            continue
        score = (s.kind in ("class", "concept"), bool(_NAME.match(s.local_name or "")), bool(s.label))
        if best is None or score > best[0]:
            best = (score, s)
            if score == (True, True, True):
                break
    return best[1] if best else None


def examples(ws: Any, dsl: bool = True) -> dict[str, list[list[str]]]:
    """``{"dsl": [[name, text], ...], "sparql": [...]}`` for what is loaded."""
    graphs = list(ws.graph_names())
    embedded = _embedded_graphs(ws)
    sparql: list[list[str]] = [
        ["graphs", "SELECT ?g (COUNT(*) AS ?triples) WHERE {\n  GRAPH ?g { ?s ?p ?o }\n}\nGROUP BY ?g\n"
                   "ORDER BY DESC(?triples)"],
    ]
    if graphs:
        g = graphs[0]
        sym = _pick_symbol(ws, g, False)
        kind = _KINDS_FOR_SPARQL.get(sym.kind if sym else "", "owl:Class")
        sparql.append([f"classes of {g}", f"SELECT ?c ?label WHERE {{\n  GRAPH <urn:kgalign:graph:{g}> {{\n"
                                          f"    ?c a {kind} .\n    OPTIONAL {{ ?c rdfs:label ?label }}\n  }}\n}}\n"
                                          "LIMIT 25"])
        if sym is not None:
            sparql.append([f"about {sym.label or sym.local_name}",
                           f"SELECT ?p ?o WHERE {{\n  GRAPH <urn:kgalign:graph:{g}> {{ <{sym.iri}> ?p ?o }}\n}}"])
    if embedded and ws.store.capabilities.supports_extension_functions:  # kga: functions: embedded store only
        g = embedded[0]
        sym = _pick_symbol(ws, g, True)
        if sym is not None:
            others = embedded[1:] or [g]
            o = others[0]
            kind = _KINDS_FOR_SPARQL.get(sym.kind, "owl:Class")
            sparql.append([f"similar to {sym.label or sym.local_name}",
                           f"SELECT ?other ?label (kga:similarity(<{sym.iri}>, ?other) AS ?sim) WHERE {{\n"
                           f"  GRAPH <urn:kgalign:graph:{o}> {{\n    ?other a {kind} .\n"
                           "    OPTIONAL { ?other rdfs:label ?label }\n  }\n"
                           f"  FILTER(?other != <{sym.iri}>)\n}}\nORDER BY DESC(?sim)\nLIMIT 10"])
    out: dict[str, list[list[str]]] = {"sparql": sparql, "dsl": []}
    if not dsl:
        return out
    d = out["dsl"]
    if embedded:
        g = embedded[0]
        sym = _pick_symbol(ws, g, True)
        d.append(["unstable", "unstable symbols limit 20"])
        d.append(["pruning candidates", "symbols with no neural counterpart limit 20"])
        d.append(["blind spots", "features with no symbolic counterpart limit 20"])
        if sym is not None:
            ref = dsl_ref(sym.local_name if _NAME.match(sym.local_name or "") else sym.label)
            d.append([f"similar to {sym.label or sym.local_name}",
                      f"symbols similar to {ref} in graph {dsl_ref(g)} limit 10"])
            d.append([f"features of {sym.label or sym.local_name}", f"features of {ref} in graph {dsl_ref(g)} limit 10"])
        if len(embedded) >= 2:
            d.append([f"bridges {embedded[0]}–{embedded[1]}",
                      f"bridges between {dsl_ref(embedded[0])} and {dsl_ref(embedded[1])} limit 20"])
    if len(graphs) >= 2:
        a, b = _pair(ws, graphs)
        d.append([f"align {a} with {b}", f"align {dsl_ref(a)} with {dsl_ref(b)} limit 20"])
    return out


def _pair(ws: Any, graphs: list[str]) -> tuple[str, str]:
    """Two graphs worth aligning: the two largest of the most common symbol kind."""
    sizes = {g: Counter(s.kind for s in ws.symbols(g)) for g in graphs}
    kind = Counter({g: 0 for g in graphs})
    for g, c in sizes.items():
        kind[g] = c.most_common(1)[0][1] if c else 0
    top = [g for g, _ in kind.most_common(2)]
    return top[0], top[1]


def completions(ws: Any) -> dict[str, Any]:
    from kgalign.query.functions import FUNCTION_NAMES
    from kgalign.symbolic.vocab import STANDARD_PREFIXES

    symbols = []
    for g in ws.graph_names():
        for s in ws.symbols(g):
            symbols.append({"name": s.local_name, "label": s.label, "graph": g, "iri": s.iri, "kind": s.kind})
            if len(symbols) >= MAX_SYMBOLS:
                break
    return {
        "keywords": dsl_keywords(),
        "graphs": list(ws.graph_names()),
        "symbols": symbols,
        "truncated": len(symbols) >= MAX_SYMBOLS,
        "prefixes": {**STANDARD_PREFIXES, **graph_prefixes(ws)},
        "functions": [f"kga:{n}" for n in FUNCTION_NAMES] if ws.store.capabilities.supports_extension_functions else [],
    }


@operation("GET", "Completions for the console's editors: DSL keywords, graphs, symbols, prefixes, kga: functions",
           responses=ok("the completion lists"), errors=(), tags=["console"])
async def completions_endpoint(request: Request) -> Response:
    state = request.app.state
    data = await state.runner.run(lambda: completions(state.ws), timeout=state.config.query_timeout,
                                  what="the completions")
    return JSONResponse(data, headers={"Cache-Control": "no-cache"})


@operation("GET", "Example queries built from the loaded graphs and symbols (each runs on this workspace)",
           responses=ok("DSL and SPARQL examples: lists of [name, query]"), errors=(), tags=["console"])
async def examples_endpoint(request: Request) -> Response:
    from kgalign.server import integrations

    state = request.app.state
    data = await state.runner.run(lambda: examples(state.ws, dsl=integrations.has_dsl()),
                                  timeout=state.config.query_timeout, what="the examples")
    return JSONResponse(data, headers={"Cache-Control": "no-cache"})
