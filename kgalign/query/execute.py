"""Execute stage: run a plan against the store, the concept space and the matcher."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyoxigraph as ox

from kgalign.errors import QuerySyntaxError
from kgalign.query.ast import SparqlFilter
from kgalign.query.plan import QuestionOp, SetOpPlan, SparqlPlan
from kgalign.query.result import DEFAULT_COLUMNS, FeatureHit, PairHit, Result, SymbolHit
from kgalign.symbolic.store import escape_iri
from kgalign.symbolic.symbols import normalise

if TYPE_CHECKING:
    from kgalign.api import Workspace

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq, "!=": operator.ne}
#: Above this many candidates the SPARQL semi-join runs the pattern once and intersects.
VALUES_PUSHDOWN_MAX = 2000


def execute(ws: Workspace, node: Any) -> Result:
    if isinstance(node, SparqlPlan):
        return run_sparql(ws, node.text)
    if isinstance(node, SetOpPlan):
        left, right = execute(ws, node.left), execute(ws, node.right)
        rk = {_key(r) for r in right.rows}
        if node.op == "and":
            rows = [r for r in left.rows if _key(r) in rk]
        elif node.op == "except":
            rows = [r for r in left.rows if _key(r) not in rk]
        else:
            seen = {_key(r) for r in left.rows}
            rows = list(left.rows) + [r for r in right.rows if _key(r) not in seen]
        return Result(left.kind, left.columns, rows)
    assert isinstance(node, QuestionOp)
    rows, extra = _question(ws, node)
    if node.where is not None and node.kind != "sparql_source":
        rows = _semi_join(ws, rows, node)
    for t in node.thresholds:
        rows = [r for r in rows if (v := _field(r, t.field)) is not None and _OPS[t.op](v, t.value)]
    for ob in reversed(node.order_by):
        rows.sort(key=lambda r, f=ob.field: _sort_key(_field(r, f)), reverse=ob.descending)
    if node.limit is not None:
        rows = rows[: node.limit]
    kind = node.returns
    columns = list(DEFAULT_COLUMNS.get(kind, []))
    for r in rows[:1]:
        for k in r.fields:
            if k not in columns and not isinstance(r.fields[k], (list, dict)):
                columns.append(k)
        for k in r.fields:
            if k not in columns:
                columns.append(k)
    return Result(kind, columns, rows, extra=extra)


def _key(row: Any) -> Any:
    return row.key


def _sort_key(v: Any) -> tuple:
    if v is None:
        return (1, 0)
    return (0, v.lower() if isinstance(v, str) else v)


def _field(row: Any, name: str) -> Any:
    if name in row.fields:
        return row.fields[name]
    alias = {"symbol": "label", "feature": "feature", "source": "source_label", "target": "target_label"}
    attr = alias.get(name, name)
    if name == "symbol" and isinstance(row, SymbolHit):
        return row.label
    if name == "feature" and isinstance(row, FeatureHit):
        return row.feature
    return getattr(row, attr, None)


def _hit(ws: Workspace, key: tuple[str, str], score: float | None, **fields: Any) -> SymbolHit:
    s = ws.symbol_table.get(key[1], key[0])
    label = s.label if s else key[1]
    kind = s.kind if s else ""
    return SymbolHit(key[0], key[1], label, kind, None if score is None else round(float(score), 6), fields)


def _feature(ws: Workspace, f: int, strength: float | None = None, **fields: Any) -> FeatureHit:
    space = ws.space
    d = space.feature_density(f)
    return FeatureHit(f, space.feature_label(f), None if d is None else round(d, 7),
                      None if strength is None else round(float(strength), 6), fields)


def _question(ws: Workspace, op: QuestionOp) -> tuple[list[Any], dict]:
    kind, a, graphs = op.kind, op.args, op.graphs
    # How far to look before filters: a filtered or ordered question needs a wider window.
    wide = bool(op.where or op.thresholds or op.order_by)
    window = None if op.limit is None else (max(op.limit * 10, 200) if wide else op.limit)
    if kind in ("align", "bridges"):
        return _pairs(ws, op), {}
    space = ws.space
    if kind == "sharing_features":
        s = a["symbol"]
        out = []
        for sf in space.sharing_features((s.graph, s.iri), graphs, limit=window):
            k = sf.key
            out.append(_hit(ws, k, sf.overlap, overlap=round(sf.overlap, 6), shared=len(sf.shared),
                            stability=round(space.stability(k), 4),
                            shared_features=[f"{f}: {space.feature_label(f)}" for f, _, _ in sf.shared[:8]]))
            if window is not None and len(out) >= window:
                break
        return out, {"query_symbol": s.to_dict()}
    if kind == "similar_to":
        s = a["symbol"]
        hits = space.similar((s.graph, s.iri), window or len(space.keys), graphs)
        return [_hit(ws, k, sim, similarity=round(sim, 6), stability=round(space.stability(k), 4)) for k, sim in hits], {}
    if kind == "features_of":
        s = a["symbol"]
        return [_feature(ws, f, w, fired_in=round(q, 3)) for f, w, q in space.support_of((s.graph, s.iri))], {}
    if kind == "symbols_activating":
        best: dict[tuple[str, str], tuple[float, int]] = {}
        for f in a["features"]:
            for k, w in space.symbols_activating(f, window or len(space.keys), graphs):
                if k not in best or w > best[k][0]:
                    best[k] = (w, f)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
        return [_hit(ws, k, w, strength=round(w, 6), feature=f, stability=round(space.stability(k), 4))
                for k, (w, f) in ranked], {}
    if kind == "explain_feature":
        rows, info = [], []
        for f in a["features"]:
            stats = space.stats
            info.append({"feature": f, "label": space.feature_label(f), "density": space.feature_density(f),
                         "snippets": stats.snippets[f][:5] if stats else []})
            for k, w in space.symbols_activating(f, window or 10, graphs):
                h = _hit(ws, k, w, strength=round(w, 6), feature=f, feature_label=space.feature_label(f))
                rows.append(h)
        return rows, {"features": info}
    if kind == "blind_spots":
        return _blind_spots(ws, op, window), {}
    if kind == "pruning_candidates":
        return [
            _hit(ws, p.key, p.strength, strength=round(p.strength, 6), stability=round(p.stability, 4),
                 reasons="; ".join(p.reasons))
            for p in space.pruning_candidates(graphs=graphs)
        ], {}
    if kind == "unstable_symbols":
        return [_hit(ws, k, st, stability=round(st, 4)) for k, st in space.unstable(window or len(space.keys), graphs)], {}
    if kind == "sparql_source":
        iris = _sparql_bindings(ws, op.where, "symbol", None)
        out = []
        for iri in iris:
            for s in ws.symbol_table.resolve(f"<{iri}>"):
                if graphs is not None and s.graph not in graphs:
                    continue
                st = space.stability((s.graph, s.iri)) if ws.has_space() and space.has((s.graph, s.iri)) else None
                out.append(_hit(ws, (s.graph, s.iri), st, stability=None if st is None else round(st, 4)))
        return out, {}
    raise AssertionError(kind)


def _blind_spots(ws: Workspace, op: QuestionOp, window: int | None) -> list[FeatureHit]:
    space = ws.space
    min_density = 1e-3
    for t in op.thresholds:
        if t.field == "density" and t.op in (">", ">="):
            min_density = min(min_density, t.value)
    if op.graphs is None:
        found = space.blind_spots(min_density=min_density, limit=window or space.d_sae)
    else:  # unclaimed by the symbols of these graphs
        claimed = {f for f, rows in space.loads.items() if any(space.keys[r][0] in op.graphs for r, _ in rows)}
        d, act = space.stats.density, space.stats.mean_activation
        order = np.argsort(-(d * act), kind="stable")
        found = [(int(f), float(d[f]), float(act[f])) for f in order if d[f] >= min_density and int(f) not in claimed]
        found = found[: window or len(found)]
    stats = space.stats
    return [
        _feature(ws, f, act, snippets=[s["text"] for s in stats.snippets[f][:3]] if stats else [])
        for f, _, act in found
    ]


def _pairs(ws: Workspace, op: QuestionOp) -> list[PairHit]:
    src, tgt = op.args["source"], op.args["target"]
    if op.kind == "align":
        from kgalign.align.matcher import Matcher

        alignment = Matcher().match(ws, src, tgt)
        out = []
        for c in alignment:
            ev = {e.kind: round(e.score, 4) for e in c.evidence if e.kind != "repair"}
            out.append(PairHit(c.subject_graph, c.subject, c.subject_label, c.object_graph, c.object, c.object_label,
                               c.relation, round(c.confidence, 6),
                               {"similarity": ev.get("neural"), "lexical": ev.get("lexical"),
                                "structural": ev.get("structural"), "justification": c.justification}))
        out.sort(key=lambda p: -p.confidence)
        return out
    return find_bridges(ws, src, tgt)


def find_bridges(ws: Workspace, source: str, target: str, min_similarity: float = 0.0) -> list[PairHit]:
    """Pairs close in feature space but unlinked by any shared label: each source symbol's nearest
    target symbol, when that nearness is mutual, ranked by similarity."""
    try:
        from kgalign.align.bridges import find_bridges as external
    except ImportError:
        external = None
    if external is not None:
        try:
            return [_bridge_hit(b) for b in external(ws, source, target)]
        except TypeError:
            pass
    space = ws.space
    src = [i for i, k in enumerate(space.keys) if k[0] == source]
    tgt = [i for i, k in enumerate(space.keys) if k[0] == target]
    if not src or not tgt:
        return []
    sims = space.pairwise_similarity(src, tgt)
    best_t = sims.argmax(1)
    best_s = sims.argmax(0)
    out = []
    for i, j in enumerate(best_t):
        if best_s[j] != i or sims[i, j] < min_similarity:
            continue
        a, b = space.keys[src[i]], space.keys[tgt[j]]
        sa, sb = ws.symbol_table.get(a[1], a[0]), ws.symbol_table.get(b[1], b[0])
        if sa is None or sb is None:
            continue
        if {normalise(n) for n in sa.names} & {normalise(n) for n in sb.names}:
            continue  # same words: an alias, the matcher's business, not a bridge
        fa = {f: w for f, w, _ in space.support_of(a)}
        fb = {f: w for f, w, _ in space.support_of(b)}
        union = set(fa) | set(fb)
        overlap = sum(min(fa.get(f, 0), fb.get(f, 0)) for f in union) / max(
            1e-9, sum(max(fa.get(f, 0), fb.get(f, 0)) for f in union))
        out.append(PairHit(a[0], a[1], sa.label, b[0], b[1], sb.label, "~", round(float(sims[i, j]), 6),
                           {"overlap": round(overlap, 6), "strength": round(float(min(space.table.strength[src[i]],
                                                                                       space.table.strength[tgt[j]])), 6)}))
    out.sort(key=lambda p: -p.confidence)
    return out


def _bridge_hit(b: Any) -> PairHit:
    if isinstance(b, PairHit):
        return b
    d = b.to_dict() if hasattr(b, "to_dict") else dict(b)
    return PairHit(d.get("source_graph", ""), d.get("source", ""), d.get("source_label", ""), d.get("target_graph", ""),
                   d.get("target", ""), d.get("target_label", ""), d.get("relation", "~"),
                   float(d.get("confidence", d.get("similarity", 0.0))),
                   {k: v for k, v in d.items() if k in ("overlap", "strength", "similarity", "suggested_relation")})


# -- SPARQL -----------------------------------------------------------------------------------

def _all_prefixes(ws: Workspace) -> dict[str, str]:
    merged: dict[str, str] = {}
    for table in ws.symbol_table.prefixes.values():
        for p, ns in table.items():
            merged.setdefault(p, ns)
    return merged


_HEADER = "SELECT DISTINCT ?{var} WHERE {{ "


def _sparql_bindings(ws: Workspace, where: SparqlFilter, var: str, values: list[str] | None) -> list[str]:
    """IRIs the pattern binds to ``?var`` (optionally only among ``values``); errors point into the DSL text."""
    header = _HEADER.format(var=var)
    tail = ""
    if values is not None:
        tail = "\nVALUES ?" + var + " { " + " ".join(f"<{escape_iri(v)}>" for v in values) + " }"
    text = header + where.pattern_text + tail + "\n}"
    try:
        res = ws.sparql(text, prefixes=_all_prefixes(ws))
    except QuerySyntaxError as e:
        line, col = e.line, e.column
        span = where.span
        if line is not None and span.start_line:
            if line == 1:
                line, col = span.start_line, span.start_column + max(0, (col or 1) - len(header) - 1)
            else:
                line = span.start_line + line - 1
        raise QuerySyntaxError(e.message, text=getattr(e, "dsl_text", ""), line=line, column=col) from None
    out = []
    for row in res:
        t = row[var]
        if isinstance(t, ox.NamedNode):
            out.append(t.value)
    return out


def _semi_join(ws: Workspace, rows: list[Any], op: QuestionOp) -> list[Any]:
    var = "feature" if op.returns == "features" else "source" if op.returns == "pairs" else "symbol"

    def iri_of(r: Any) -> str:
        if isinstance(r, FeatureHit):
            return f"urn:kgalign:feature:{r.feature}"
        if isinstance(r, PairHit):
            return r.source
        return r.iri

    cands = list(dict.fromkeys(iri_of(r) for r in rows))
    if not cands:
        return []
    keep = set(_sparql_bindings(ws, op.where, var, cands if len(cands) <= VALUES_PUSHDOWN_MAX else None))
    return [r for r in rows if iri_of(r) in keep]


def run_sparql(ws: Workspace, text: str) -> Result:
    res = ws.sparql(text)
    if isinstance(res, bool) or isinstance(res, ox.QueryBoolean):
        return Result("boolean", ["boolean"], [{"boolean": bool(res)}])
    if isinstance(res, ox.QueryTriples):
        rows = [{"subject": str(t.subject), "predicate": str(t.predicate), "object": str(t.object)} for t in res]
        return Result("triples", ["subject", "predicate", "object"], rows)
    names = [v.value for v in res.variables]
    rows = []
    for sol in res:
        rows.append({n: (None if sol[n] is None else (sol[n].value if isinstance(sol[n], (ox.NamedNode, ox.Literal))
                                                       else str(sol[n]))) for n in names})
    return Result("sparql", names, rows)
