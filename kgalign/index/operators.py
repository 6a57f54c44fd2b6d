"""The concept-space operators: every question asked of the concept space, vectorised, in one place.

The DSL (:mod:`kgalign.query.execute`), the report (:mod:`kgalign.report.build`), the CLI and the
HTTP server all answer through these; :data:`OPERATORS` gives each DSL question its operator, its
default limit, natural order and plan description, so a new question form is one entry here plus
its grammar rule.

Each operator answers one question as :class:`Candidates`: ids (rows of the concept space for
symbol questions, feature indices for feature questions) in the question's *natural order*
(:data:`NATURAL_ORDER`; ties by graph and IRI, or by feature index), with their numeric columns, and whether they are every candidate or
only the first ``k``. Nothing here loops over all symbols in Python: per query the work is a
few numpy passes (or one FAISS search), and labels are looked up only for the rows that
survive filtering and the limit (see :mod:`kgalign.query.execute`).

Thresholds live here only: :data:`LOAD_FRACTION` (what "a symbol loads on a feature" means), the
pruning thresholds, the blind-spot density floor and :data:`UNSTABLE_BELOW`.

:class:`SpaceArrays` holds what the operators derive from a :class:`ConceptSpace` once (graph of
each row, an inverted index of the supports, feature claims, promiscuity); it is cached per
space object and so rebuilt after the next embed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kgalign.index.space import ConceptSpace, Key

#: Weights below this fraction of a symbol's strongest feature do not count as "loading on" a feature.
LOAD_FRACTION = 0.1
#: Support stability below this counts as unstable (the pruning reason and the report's wording).
UNSTABLE_BELOW = 0.35

#: Each question's natural order: the column its rows are ranked by and whether descending.
#: ``None`` for questions with a compound or external order (pruning candidates, pairs, SPARQL).
NATURAL_ORDER: dict[str, tuple[str, bool] | None] = {
    "sharing_features": ("overlap", True),
    "similar_to": ("similarity", True),
    "features_of": ("strength", True),
    "symbols_activating": ("strength", True),
    "explain_feature": ("strength", True),
    "blind_spots": ("salience", True),
    "pruning_candidates": None,
    "unstable_symbols": ("stability", False),
}
#: Pruning thresholds.
PRUNING_MIN_STABILITY = UNSTABLE_BELOW
#: Where the SAE ships a background (its ``readout``), a symbol's reliability score (how far its mention codes
#: stand from the codes of common words in the same templates; :mod:`kgalign.neural.reliability`) replaces
#: stability as the "no clear counterpart" test: ``kgalign check`` measured stability *inverted* against
#: meaningless labels on real workspaces (AUC 0.39 demo, 0.41 Conference) and reliability separating them
#: (AUC 0.80, 0.94). The bar is the mean score of the check's meaningless labels on both (0.410 each; their
#: real symbols 0.48 and 0.53): below it, a symbol reads like a label with nothing behind it.
PRUNING_MIN_RELIABILITY = 0.41
PRUNING_MAX_PROMISCUITY = 0.15
PRUNING_ISOLATION_PERCENTILE = 5.0
#: Blind spots: features firing on less than this fraction of corpus tokens are not reported.
BLIND_SPOT_MIN_DENSITY = 1e-3


@dataclass
class Candidates:
    """``ids [n]`` in natural order and ``cols`` (each ``[n]``); ``complete``: no candidate beyond these."""

    ids: np.ndarray
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    complete: bool = True
    #: what the operator used beyond the columns (thresholds), for the wording of results
    meta: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: np.ndarray) -> Candidates:
        """The candidates at ``index`` (a boolean mask or positions), columns alike."""
        return Candidates(self.ids[index], {k: v[index] for k, v in self.cols.items()}, self.complete, self.meta)


class SpaceArrays:
    """Arrays derived once from a concept space for the operators below."""

    def __init__(self, space: ConceptSpace) -> None:
        t = space.table
        n = len(space.keys)
        self.n = n
        self.graphs = sorted({k[0] for k in space.keys})
        code = {g: i for i, g in enumerate(self.graphs)}
        self.graph_code = np.fromiter((code[k[0]] for k in space.keys), dtype=np.int32, count=n)
        #: each row's place in (graph, iri) order: ties in a ranking are broken by it
        self.key_rank = np.empty(n, np.int64)
        self.key_rank[sorted(range(n), key=space.keys.__getitem__)] = np.arange(n)
        self._graph_rows: dict[str, np.ndarray | slice] = {}
        for g in self.graphs:
            rows = np.flatnonzero(self.graph_code == code[g])
            contiguous = len(rows) and rows[-1] - rows[0] + 1 == len(rows)
            self._graph_rows[g] = slice(int(rows[0]), int(rows[-1]) + 1) if contiguous else rows
        # The supports as one CSR inverted index: feature -> (rows, weights).
        ids, w = t.support_ids, t.support_weights.astype(np.float64)
        valid = ids >= 0
        self.row_total = np.where(valid, w, 0).sum(1).astype(np.float64) if n else np.zeros(0)
        rows = np.broadcast_to(np.arange(n)[:, None], ids.shape)[valid]
        feats, weights = ids[valid].astype(np.int64), w[valid].astype(np.float64)
        order = np.argsort(feats, kind="stable")
        self.inv_rows, self.inv_w = rows[order], weights[order]
        self.inv_ptr = np.searchsorted(feats[order], np.arange(space.d_sae + 1))
        # Loads: support entries at least LOAD_FRACTION of the row's strongest.
        top = np.where(valid[:, :1], w[:, :1], 0) if n else np.zeros((0, 1))
        loads = valid & (w >= LOAD_FRACTION * top)
        load_f = ids[loads].astype(np.int64)
        self.load_rows = np.broadcast_to(np.arange(n)[:, None], ids.shape)[loads]
        self.load_f = load_f
        self.promiscuity = np.bincount(load_f, minlength=space.d_sae).astype(np.float32) / max(1, n)
        self.load_count = np.bincount(load_f, minlength=space.d_sae)
        self.claimed = self.load_count > 0

    def rows_of(self, graphs: set[str] | None) -> np.ndarray | slice | None:
        """Rows of ``graphs`` (a slice when contiguous); None for every row."""
        if graphs is None:
            return None
        parts = [self._graph_rows[g] for g in sorted(graphs) if g in self._graph_rows]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([np.arange(p.start, p.stop) if isinstance(p, slice) else p for p in parts] or
                              [np.zeros(0, np.int64)])

    def in_graphs(self, rows: np.ndarray, graphs: set[str] | None) -> np.ndarray:
        """``[len(rows)]`` bool: whether each row belongs to ``graphs``."""
        if graphs is None:
            return np.ones(len(rows), bool)
        codes = [self.graphs.index(g) for g in graphs if g in self.graphs]
        return np.isin(self.graph_code[rows], codes)

    def graph_count(self, graphs: set[str] | None) -> int:
        r = self.rows_of(graphs)
        if r is None:
            return self.n
        return r.stop - r.start if isinstance(r, slice) else len(r)


_ARRAYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ARRAYS_LOCK = threading.Lock()  # the HTTP server runs queries in worker threads


def arrays(space: ConceptSpace) -> SpaceArrays:
    """The :class:`SpaceArrays` of ``space``, built on first use."""
    with _ARRAYS_LOCK:
        found = _ARRAYS.get(space)
        if found is None:
            found = _ARRAYS[space] = SpaceArrays(space)
        return found


def _top(values: np.ndarray, tie: np.ndarray, k: int | None, descending: bool) -> np.ndarray:
    """Positions of the best ``k`` of ``values`` (all when None), best first; ties by ``tie`` ascending."""
    key = -values if descending else values
    if k is not None and k < len(values):
        kth = np.partition(key, k - 1)[k - 1]
        pos = np.flatnonzero(key <= kth)  # every tie at the boundary, so the order is deterministic
    else:
        pos = np.arange(len(values))
    order = pos[np.lexsort((tie[pos], key[pos]))]
    return order if k is None else order[:k]


# ---- symbol questions ---------------------------------------------------------------------------


def sharing_features(space: ConceptSpace, key: Key, graphs: set[str] | None, k: int | None) -> Candidates:
    """Symbols sharing at least one support feature with ``key``, by weighted Jaccard overlap of the
    supports; ``shared`` counts the shared features."""
    a = arrays(space)
    r = space.row_of(key)
    fs, ws = space.table.support_ids[r], space.table.support_weights[r]
    keep = fs >= 0
    fs, ws = fs[keep].astype(np.int64), ws[keep].astype(np.float64)
    seg_rows = [a.inv_rows[a.inv_ptr[f] : a.inv_ptr[f + 1]] for f in fs]
    seg_min = [np.minimum(a.inv_w[a.inv_ptr[f] : a.inv_ptr[f + 1]], w) for f, w in zip(fs, ws, strict=True)]
    if not seg_rows:
        return Candidates(np.zeros(0, np.int64), {"overlap": np.zeros(0), "shared": np.zeros(0)})
    rows = np.concatenate(seg_rows)
    count = np.bincount(rows, minlength=a.n)
    sum_min = np.bincount(rows, weights=np.concatenate(seg_min), minlength=a.n)
    count[r] = 0
    cand = np.flatnonzero(count)
    cand = cand[a.in_graphs(cand, graphs)]
    denom = ws.sum() + a.row_total[cand] - sum_min[cand]
    overlap = np.where(denom > 0, sum_min[cand] / np.maximum(denom, 1e-12), 0.0)
    order = _top(overlap, a.key_rank[cand], k, True)
    complete = k is None or k >= len(cand)
    return Candidates(cand[order], {"overlap": overlap[order], "shared": count[cand[order]].astype(np.float64)},
                      complete)


#: Above this many rows in the graphs asked for, ``similar to`` searches FAISS rather than scanning.
EXACT_SCAN_MAX = 20_000


def similar_to(space: ConceptSpace, key: Key, graphs: set[str] | None, k: int | None) -> Candidates:
    """The nearest concept vectors by cosine similarity: FAISS for the first ``k``; an exact scan
    for every candidate, or over the rows of small graphs."""
    a = arrays(space)
    r = space.row_of(key)
    unit = space._unit  # [n, d_sae] unit rows, what the FAISS index holds
    q = unit[r]
    n_sel = a.graph_count(graphs)
    if k is None or (graphs is not None and (n_sel <= EXACT_SCAN_MAX or k >= n_sel)):
        sel = a.rows_of(graphs)
        if sel is None:
            rows, block = np.arange(a.n), unit
        elif isinstance(sel, slice):
            rows, block = np.arange(sel.start, sel.stop), unit[sel]
        else:
            rows, block = sel, unit[sel]
        # einsum, not BLAS: a threaded matrix-vector product stalls on a busy machine for small blocks
        sims = np.einsum("ij,j->i", block, q).astype(np.float64)
        keep = rows != r
        rows, sims = rows[keep], sims[keep]
        order = _top(sims, a.key_rank[rows], k, True)
        return Candidates(rows[order], {"similarity": sims[order]}, k is None or k >= len(rows))
    # Ask FAISS for enough neighbours that k of them are likely in the graphs asked for.
    want = min(a.n, int((k + 1) * a.n / max(1, n_sel) * (1.25 if graphs is not None else 1)) + (graphs is not None))
    scores, ids = space.index.search(q[None, :], want)
    ids, scores = ids[0], scores[0]
    ok = (ids >= 0) & (ids != r)
    ids, scores = ids[ok].astype(np.int64), scores[ok].astype(np.float64)
    if graphs is not None:
        ok = a.in_graphs(ids, graphs)
        ids, scores = ids[ok], scores[ok]
    order = np.lexsort((a.key_rank[ids], -scores))[:k]
    return Candidates(ids[order], {"similarity": scores[order]}, want >= a.n)


def symbols_activating(space: ConceptSpace, features: list[int], graphs: set[str] | None,
                       k: int | None) -> Candidates:
    """Symbols whose concept vectors weigh any of ``features`` above zero, by that weight (the
    largest, with the feature it belongs to)."""
    a = arrays(space)
    sel = a.rows_of(graphs)
    vec = space.table.vectors
    rows = np.arange(a.n) if sel is None else np.arange(sel.start, sel.stop) if isinstance(sel, slice) else sel
    if len(features) == 1:  # one column: no argmax over features
        col = vec[:, features[0]] if sel is None else vec[sel, features[0]]
        keep = np.flatnonzero(col > 0)
        rows, strength = rows[keep], col[keep].astype(np.float64)
        feat = np.full(len(rows), features[0], np.int64)
    else:
        block = vec[:, features] if sel is None else vec[np.ix_(_row_array(sel), features)]
        best = block.argmax(1)
        strength = block[np.arange(len(rows)), best].astype(np.float64)
        keep = strength > 0
        rows, strength, feat = rows[keep], strength[keep], np.asarray(features, np.int64)[best[keep]]
    order = _top(strength, a.key_rank[rows], k, True)
    return Candidates(rows[order], {"strength": strength[order], "feature": feat[order].astype(np.float64)},
                      k is None or k >= len(rows))


def _row_array(sel: np.ndarray | slice) -> np.ndarray:
    return np.arange(sel.start, sel.stop) if isinstance(sel, slice) else sel


def unstable_symbols(space: ConceptSpace, graphs: set[str] | None, k: int | None) -> Candidates:
    """Every symbol, lowest support stability first."""
    a = arrays(space)
    sel = a.rows_of(graphs)
    rows = np.arange(a.n) if sel is None else np.arange(sel.start, sel.stop) if isinstance(sel, slice) else sel
    st = space.table.stability[rows].astype(np.float64)
    order = _top(st, a.key_rank[rows], k, False)
    return Candidates(rows[order], {"stability": st[order]}, k is None or k >= len(rows))


def pruning_candidates(space: ConceptSpace, graphs: set[str] | None) -> Candidates:
    """Symbols with no clear neural counterpart (weak activation: strength below the 5th percentile;
    unstable support: stability below :data:`PRUNING_MIN_STABILITY`; uninformative support: over half
    its weight on features more than :data:`PRUNING_MAX_PROMISCUITY` of all symbols load on;
    isolated: its nearest other symbol farther than all but :data:`PRUNING_ISOLATION_PERCENTILE` % of
    the symbols' nearest neighbours), most reasons first,
    then the least stable, then the weakest; and the thresholds used. Column ``reasons`` is a bit
    mask: 1 weak, 2 unstable, 4 uninformative, 8 isolated; ``generic`` is the share of the support's
    weight on promiscuous features, ``nearest`` the cosine to the nearest other symbol; ``meta`` holds
    the thresholds ``min_strength`` and ``isolated_below``."""
    a = arrays(space)
    t = space.table
    strength = t.strength.astype(np.float64)
    min_strength = float(np.percentile(t.strength, 5)) if len(strength) else 0.0
    nn = space.nearest_neighbour_similarity()  # computed once per space
    isolated_below = float(np.percentile(nn, PRUNING_ISOLATION_PERCENTILE)) if len(nn) > 20 else -np.inf
    ids, w = t.support_ids, t.support_weights.astype(np.float64)
    valid = ids >= 0
    total = np.where(valid, w, 0).sum(1)
    total = np.where(total > 0, total, 1.0)
    prom = a.promiscuity[np.where(valid, ids, 0)]
    generic = np.where(valid & (prom > PRUNING_MAX_PROMISCUITY), w, 0).sum(1) / total
    stability = t.stability.astype(np.float64)
    reliability = t.reliability_or_nan().astype(np.float64)
    by_reliability = bool(len(reliability)) and not np.isnan(reliability).all()
    no_counterpart = (np.nan_to_num(reliability, nan=np.inf) < PRUNING_MIN_RELIABILITY if by_reliability
                      else t.stability < PRUNING_MIN_STABILITY)
    mask = ((t.strength < min_strength) * 1 + no_counterpart * 2 + (generic > 0.5) * 4
            + (nn < isolated_below) * 8)
    rows = np.flatnonzero(mask)
    rows = rows[a.in_graphs(rows, graphs)]
    n_reasons = np.array([bin(m).count("1") for m in range(16)])[mask[rows]]
    order = np.lexsort((a.key_rank[rows], strength[rows], stability[rows], -n_reasons))
    rows = rows[order]
    cols = {"strength": strength[rows], "stability": stability[rows], "reasons": mask[rows].astype(np.float64),
            "generic": generic[rows], "nearest": nn[rows].astype(np.float64), "reliability": reliability[rows]}
    return Candidates(rows, cols, meta={"min_strength": min_strength, "isolated_below": isolated_below,
                                        "by_reliability": float(by_reliability)})


def pruning_reasons(mask: int, strength: float, stability: float, generic: float, nearest: float,
                    limits: dict[str, float], reliability: float = float("nan")) -> str:
    """The reasons of one pruning candidate, in words (the DSL's ``reasons`` column, the report's list)."""
    out = []
    if mask & 1:
        out.append(f"weak activation ({strength:.3g} < {limits['min_strength']:.3g})")
    if mask & 2:
        if limits.get("by_reliability"):
            out.append(f"reads like a meaningless label (reliability {reliability:.2f} < {PRUNING_MIN_RELIABILITY}, "
                       "the mean of kgalign check's meaningless-label controls)")
        else:
            out.append(f"unstable support (stability {stability:.2f} < {PRUNING_MIN_STABILITY})")
    if mask & 4:
        out.append(f"uninformative support ({generic:.0%} of its weight on features shared by many symbols)")
    if mask & 8:
        out.append(f"isolated: its nearest symbol in any graph is at cosine {nearest:.3f}, below the "
                   f"{PRUNING_ISOLATION_PERCENTILE:g}th percentile ({limits['isolated_below']:.3f}); unique to its "
                   "system, or dead weight")
    return "; ".join(out)


# ---- feature questions --------------------------------------------------------------------------


def features_of(space: ConceptSpace, key: Key) -> Candidates:
    """The features of ``key``'s support, strongest first, with the fraction of contexts each fired in."""
    r = space.row_of(key)
    ids = space.table.support_ids[r]
    keep = ids >= 0
    cols = {"strength": space.table.support_weights[r][keep].astype(np.float64),
            "fired_in": space.table.support_freq[r][keep].astype(np.float64)}
    if space.stats is not None:
        cols["density"] = space.stats.density[ids[keep]].astype(np.float64)
    return Candidates(ids[keep].astype(np.int64), cols)


def blind_spots(space: ConceptSpace, graphs: set[str] | None, min_density: float) -> Candidates:
    """Features that fire often and strongly on the corpus but that no symbol (of ``graphs``) loads
    on, most salient (density × mean activation) first."""
    from kgalign.errors import WorkspaceError

    if space.stats is None:
        raise WorkspaceError("no feature statistics in this workspace: run 'kgalign embed --corpus ...'")
    a = arrays(space)
    if graphs is None:
        claimed = a.claimed
    else:
        mine = a.in_graphs(a.load_rows, graphs)
        claimed = np.bincount(a.load_f[mine], minlength=space.d_sae) > 0
    d, act = space.stats.density, space.stats.mean_activation
    salience = d * act  # in the statistics' own precision
    feats = np.flatnonzero((d >= min_density) & ~claimed)
    feats = feats[np.lexsort((feats, -salience[feats]))]
    return Candidates(feats, {"density": d[feats].astype(np.float64), "strength": act[feats].astype(np.float64),
                              "salience": salience[feats].astype(np.float64)})


#: Decimals each column is shown with (the DSL's thresholds and ``order by`` compare the numbers as
#: shown; the report words its reasons from the same numbers).
DECIMALS = {"stability": 4, "overlap": 6, "similarity": 6, "strength": 6, "density": 7, "fired_in": 3}


def rounded(cand: Candidates) -> Candidates:
    """``cand`` with its columns rounded to :data:`DECIMALS` (in place)."""
    for name, decimals in DECIMALS.items():
        if name in cand.cols:
            cand.cols[name] = np.round(cand.cols[name], decimals)
    return cand


# ---- whole-space figures (report, CLI, server) -----------------------------------------------------


def load_counts(space: ConceptSpace) -> np.ndarray:
    """``[d_sae]``: how many symbols load on each feature."""
    return arrays(space).load_count


def claimed_features(space: ConceptSpace) -> set[int]:
    """Features at least one symbol loads on."""
    return {int(f) for f in np.flatnonzero(arrays(space).claimed)}


def graph_features(space: ConceptSpace) -> dict[str, set[int]]:
    """graph -> the features its symbols load on."""
    a = arrays(space)
    out: dict[str, set[int]] = {}
    for code, g in enumerate(a.graphs):
        mine = a.graph_code[a.load_rows] == code
        out[g] = {int(f) for f in np.unique(a.load_f[mine])}
    return out


def keys_of(space: ConceptSpace, cand: Candidates, column: str) -> list[tuple[Key, float]]:
    """``[(key, value of column)]`` for symbol candidates."""
    return [(space.keys[int(i)], float(v)) for i, v in zip(cand.ids, cand.cols[column], strict=True)]


# ---- the DSL's questions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    """One question form: what it returns, how many rows by default, its natural order, its plan
    text, and (for concept-space questions) the operator that answers it."""

    kind: str
    returns: str  # "symbols", "features" or "pairs"
    default_limit: int | None
    natural_order: tuple[str, bool] | None
    #: plan text; ``{name}`` the query symbol, ``{features}``, ``{source}``/``{target}``, ``{graphs}``
    description: str
    #: ``source(space, args, graphs, k) -> Candidates``; None for questions answered elsewhere
    source: Callable[[Any, dict[str, Any], set[str] | None, int | None], Candidates] | None = None
    #: whether the operator can return only the first k candidates (and widen its window)
    windowed: bool = False


def _key(args: dict[str, Any]) -> Key:
    s = args["symbol"]
    return (s.graph, s.iri)


OPERATORS: dict[str, Operator] = {o.kind: o for o in (
    Operator("sharing_features", "symbols", 20, ("overlap", True),
             "SupportOverlap {name} via inverted feature index{graphs}",
             lambda sp, a, g, k: sharing_features(sp, _key(a), g, k), True),
    Operator("similar_to", "symbols", 10, ("similarity", True),
             "NearestConceptVectors {name} via FAISS (an exact scan over small graphs){graphs}",
             lambda sp, a, g, k: similar_to(sp, _key(a), g, k), True),
    Operator("features_of", "features", 32, ("strength", True), "Support {name}",
             lambda sp, a, g, k: features_of(sp, _key(a))),
    Operator("symbols_activating", "symbols", 20, ("strength", True), "FeatureColumn {features}{graphs}",
             lambda sp, a, g, k: symbols_activating(sp, list(a["features"]), g, k), True),
    Operator("explain_feature", "symbols", 10, ("strength", True), "ExplainFeature {features}{graphs}",
             lambda sp, a, g, k: symbols_activating(sp, list(a["features"]), g, k), True),
    Operator("blind_spots", "features", 20, ("salience", True),
             "UnclaimedFeatures by corpus density × activation{graphs}",
             lambda sp, a, g, k: blind_spots(sp, g, a.get("min_density", BLIND_SPOT_MIN_DENSITY))),
    Operator("pruning_candidates", "symbols", None, None,
             "PruningCandidates (weak, unstable or uninformative support){graphs}",
             lambda sp, a, g, k: pruning_candidates(sp, g)),
    Operator("unstable_symbols", "symbols", 20, ("stability", False), "LowestSupportStability{graphs}",
             lambda sp, a, g, k: unstable_symbols(sp, g, k), True),
    Operator("align", "pairs", None, None, "Matcher {source} ↔ {target} ({matcher}, 1:1, repair)"),
    Operator("bridges", "pairs", 20, None,
             "Bridges {source} ↔ {target} (mutual nearest neighbours in concept space, the matcher's mappings left out)"),
    Operator("sparql_source", "symbols", None, None, "SPARQL {{ {pattern} }}"),
)}
#: Each question's natural order: the column its rows are ranked by and whether descending.
NATURAL_ORDER: dict[str, tuple[str, bool] | None] = {k: o.natural_order for k, o in OPERATORS.items()}
