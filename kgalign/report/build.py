"""Build the pruning report of an embedded workspace: one function per section, then :func:`build_report`.

Sources: the concept space (:class:`kgalign.index.space.ConceptSpace`) for pruning candidates, blind spots,
unstable symbols, coverage, stability and the map; the matcher's alignments (:mod:`kgalign.align.matcher`)
for merge candidates; :mod:`kgalign.align.bridges` for bridges; :mod:`kgalign.align.behaviour` for the
behavioural checks; the files beside the SAE (``metrics.json``, ``MODEL_CARD.md``, ``cfg.json``) for its
quality figures.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.errors import KgalignError, WorkspaceError
from kgalign.index import operators
from kgalign.report.model import (
    BehaviourSection,
    BlindSpot,
    BridgeEntry,
    ConceptMap,
    Coverage,
    CoverageOverlap,
    EvidenceItem,
    FeatureRef,
    GraphSummary,
    MapPoint,
    MergeCandidate,
    PruningCandidate,
    Report,
    SAEQuality,
    Snippet,
    StabilityHistogram,
    Summary,
    SymbolRef,
    UnstableSymbol,
)

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.index.space import ConceptSpace
    from kgalign.query.context import QueryContext

#: The map shows at most this many symbols (a seeded sample beyond it).
MAP_MAX_POINTS = 3000
#: Support stability below this counts as unstable (:data:`kgalign.index.operators.UNSTABLE_BELOW`).
MIN_STABILITY = operators.UNSTABLE_BELOW
#: Rows shown per list section (the JSON carries the same lists). The unstable symbols are the DSL's
#: ``unstable symbols`` (its operator and default limit), so the report and the console list the same.
DEFAULT_LIMITS = {"unstable": operators.OPERATORS["unstable_symbols"].default_limit or 20, "blind_spots": 20,
                  "bridges": 100, "merge_candidates": 500}
#: Blind spots that fire on more of the corpus' tokens than this are left out as generic.
MAX_BLIND_DENSITY = 0.1
#: ...and so are those whose top activations fall mostly on punctuation and function words.
MIN_CONTENT_SHARE = 0.5
#: Metrics of ``metrics.json`` shown as the SAE's headline figures, in this order.
HEADLINE_METRICS = ("fraction_of_variance_explained", "l0", "dead_fraction", "mse", "n_tokens")
#: English function words: a feature that fires only on these tracks syntax, not a concept.
_STOP = frozenset("""
a about above after again against all also an and any are as at be been being before below between both but by
can could did do does doing down during each either else ever every few for from further had has have having he
her here hers herself him himself his how however i if in into is it its itself just may me might more most must
my myself neither no nor not now of off on once one only or other others otherwise our ours ourselves out over own
per same shall she should so some someone something such than that the their theirs them themselves then there
these they this those though through thus to too under until up upon us very was we were what when where whether
which while who whom whose why will with within without would yet you your yours yourself
""".split())


# ------------------------------------------------------------------------------------------- helpers


def _label(ws: QueryContext, key: tuple[str, str]) -> str:
    s = ws.symbol_table.get(key[1], key[0])
    return s.label if s is not None else key[1]


def _features(space: ConceptSpace, key: tuple[str, str], n: int = 5) -> list[FeatureRef]:
    if not space.has(key):
        return []
    return [FeatureRef(f, space.feature_label(f), round(w, 4)) for f, w, _ in space.support_of(key)[:n]]


def _graph_features(space: ConceptSpace) -> dict[str, set[int]]:
    """graph -> the features its symbols load on (:func:`kgalign.index.operators.graph_features`)."""
    return operators.graph_features(space)


def default_alignments(ws: QueryContext) -> list[Any]:
    """The report's alignments when none are given (one rule for ``kgalign report``, ``Workspace.report``
    and ``GET /report``): those recorded in the mappings graph (``kgalign align --format rdf``) when there
    are any, else every pair of graphs through the workspace's matcher policy (``match_all``)."""
    return _default_alignments(ws)[0]


def _default_alignments(ws: QueryContext) -> tuple[list[Any], str]:
    from kgalign.align.formats import read_from_store
    from kgalign.symbolic.vocab import MAPPINGS_GRAPH

    live = set(ws.graph_names())
    if ws.store.has_graph(MAPPINGS_GRAPH):
        stored = [al for al in read_from_store(ws) if {al.source_graph, al.target_graph} <= live]
        if stored:
            pairs = ", ".join(f"{al.source_graph}–{al.target_graph}" for al in stored)
            return stored, (f"merge candidates are the alignments recorded in the mappings graph ({pairs}); "
                            "other pairs of graphs were not matched")
    return ws.match_all(), ""


# ------------------------------------------------------------------------------------------ sections


def graph_summaries(ws: QueryContext, space: ConceptSpace) -> list[GraphSummary]:
    feats = _graph_features(space)
    out = []
    for g in ws.graph_names():
        rows = [i for i, k in enumerate(space.keys) if k[0] == g]
        mine = feats.get(g, set())
        others = set().union(*(v for h, v in feats.items() if h != g)) if len(feats) > 1 else set()
        out.append(
            GraphSummary(
                name=g,
                n_symbols=len(ws.symbols(g)),
                n_embedded=len(rows),
                mean_stability=float(space.table.stability[rows].mean()) if rows else None,
                n_features=len(mine),
                n_exclusive_features=len(mine - others),
            )
        )
    return out


def merge_candidates(ws: QueryContext, space: ConceptSpace, alignments: Iterable[Any]) -> list[MergeCandidate]:
    """The matcher's mappings, most confident first, with the concept-space figures beside them."""
    out = []
    for al in alignments:
        for m in al:
            a, b = (m.subject_graph, m.subject), (m.object_graph, m.object)
            sim = space.similarity(a, b) if space.has(a) and space.has(b) else None
            shared: list[FeatureRef] = []
            if sim is not None:
                wa = {f: w for f, w, _ in space.support_of(a)}
                both = [(f, min(w, wa[f])) for f, w, _ in space.support_of(b) if f in wa]
                both.sort(key=lambda x: -x[1])
                shared = [FeatureRef(f, space.feature_label(f), round(w, 4)) for f, w in both[:5]]
            out.append(
                MergeCandidate(
                    source_graph=m.subject_graph, source=m.subject,
                    source_label=m.subject_label or _label(ws, a),
                    target_graph=m.object_graph, target=m.object, target_label=m.object_label or _label(ws, b),
                    relation=m.relation, relation_name=_relation_name(m.relation),
                    confidence=float(m.confidence),
                    evidence=[EvidenceItem(e.kind, float(e.score), e.detail) for e in m.evidence],
                    concept_similarity=sim, shared_features=shared,
                )
            )
    out.sort(key=lambda c: (-c.confidence, c.source_graph, c.source, c.target))
    return out


def _relation_name(relation: str) -> str:
    try:
        from kgalign.align.candidates import RELATION_NAMES

        return RELATION_NAMES.get(relation, relation)
    except ImportError:  # pragma: no cover
        return relation


def bridges(ws: QueryContext, space: ConceptSpace, alignments: Sequence[Any]) -> list[BridgeEntry]:
    from kgalign.align.bridges import find_bridges

    out = []
    for b in find_bridges(ws, alignments):
        out.append(
            BridgeEntry(
                source_graph=b.source[0], source=b.source[1], source_label=b.source_label,
                target_graph=b.target[0], target=b.target[1], target_label=b.target_label,
                similarity=b.similarity, relation=b.relation, relation_name=b.relation_name, reason=b.reason,
                shared_features=[FeatureRef(f, space.feature_label(f)) for f in b.shared_features[:5]],
            )
        )
    return out


def pruning_candidates(ws: QueryContext, space: ConceptSpace, alignments: Sequence[Any]) -> list[PruningCandidate]:
    """The DSL's ``symbols with no neural counterpart`` (:func:`kgalign.index.operators.pruning_candidates`,
    same rows, order and reasons) with each symbol's label, definition, features and nearest symbol in
    another graph."""
    mapped = {(m.subject_graph, m.subject) for al in alignments for m in al}
    mapped |= {(m.object_graph, m.object) for al in alignments for m in al}
    graphs = {k[0] for k in space.keys}
    cand = operators.rounded(operators.pruning_candidates(space, None))  # the numbers the DSL shows
    c = cand.cols
    from kgalign.symbolic.rules import rules_using

    used = rules_using(ws, [space.keys[int(row)][1] for row in cand.ids])
    out = []
    for j, row in enumerate(cand.ids):
        key = space.keys[int(row)]
        s = ws.symbol_table.get(key[1], key[0])
        others = graphs - {key[0]}
        near = None
        if others:
            hits = space.similar(key, k=1, graphs=others)
            if hits:
                (g, iri), sim = hits[0]
                near = SymbolRef(g, iri, _label(ws, (g, iri)), round(sim, 4))
        text = operators.pruning_reasons(int(c["reasons"][j]), float(c["strength"][j]), float(c["stability"][j]),
                                         float(c["generic"][j]), float(c["nearest"][j]), cand.meta,
                                         float(c["reliability"][j]))
        out.append(
            PruningCandidate(
                graph=key[0], iri=key[1], label=s.label if s else key[1], kind=s.kind if s else "",
                reasons=text.split("; "), strength=float(c["strength"][j]), stability=float(c["stability"][j]),
                informativeness=1.0 - float(c["generic"][j]), definition=(s.definition or "") if s else "",
                top_features=_features(space, key), nearest_elsewhere=near, mapped=key in mapped,
                breaks_rules=used.get(key[1], []),
            )
        )
    return out


def _fired_word(sn: dict) -> str:
    """The content word a snippet's feature fired on, or ``""`` (punctuation, a number, a function word)."""
    if not re.search(r"[^\W\d_]", str(sn.get("token", "x"))):
        return ""  # it fired on punctuation or a number, not on the word around it
    w = re.sub(r"^[^\w]+|[^\w']+$", "", str(sn.get("word") or sn.get("token") or "").lower())
    return "" if not w or w in _STOP or not re.search(r"[a-z]", w) else w


def content_share(snippets: Sequence[dict]) -> float:
    """The share of a feature's top activations that fall on content words (0 when there are none).

    >>> content_share([{"token": "duty", "word": "duty", "activation": 3.0},
    ...                {"token": "of", "word": "of", "activation": 1.0}])
    0.75
    """
    total = sum(float(sn.get("activation") or 0.0) for sn in snippets)
    content = sum(float(sn.get("activation") or 0.0) for sn in snippets if _fired_word(sn))
    return content / total if total > 0 else 0.0


def suggest_label(snippets: Sequence[dict]) -> str:
    """A name a curator might give a blind-spot feature: the phrase it fires on most in its snippets.

    The fired word, joined with the word after it when that pairing recurs (``"occupiers' liability"``).

    >>> suggest_label([{"text": "the duty of care owed", "word": "duty", "activation": 2.0},
    ...                {"text": "a duty of care", "word": "duty", "activation": 1.0}])
    'Duty'
    >>> suggest_label([{"text": "the employer, then", "token": "employer", "word": "employer,", "activation": 1.0}])
    'Employer'
    >>> suggest_label([{"text": "the employer, then", "token": ",", "word": "employer,", "activation": 1.0}])
    ''
    >>> suggest_label([{"text": "pure economic loss here", "word": "economic", "activation": 1.0},
    ...                {"text": "economic loss again", "word": "economic", "activation": 1.0}])
    'Economic loss'
    """
    words: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for sn in snippets:
        w = _fired_word(sn)
        if not w:
            continue
        act = float(sn.get("activation") or 1.0)
        words[w] += act
        text = str(sn.get("text", "")).lower()
        m = re.search(rf"(?<![\w'-]){re.escape(w)}(?![\w'-])\s+([\w'-]+)", text)
        if m and m.group(1) not in _STOP and re.search(r"[a-z]", m.group(1)):
            pairs[f"{w} {m.group(1)}"] += act
    if not words:
        return ""
    top = words.most_common(1)[0][0]
    best_pair = next((p for p, _ in pairs.most_common() if p.startswith(top + " ")), None)
    recurring = best_pair is not None and sum(
        1 for sn in snippets if best_pair in str(sn.get("text", "")).lower()
    ) >= 2
    phrase = best_pair if recurring else top
    return phrase[:1].upper() + phrase[1:]


def blind_spots(ws: QueryContext, space: ConceptSpace, limit: int, max_density: float = MAX_BLIND_DENSITY) -> list[BlindSpot]:
    """The DSL's ``features with no symbolic counterpart`` (:func:`kgalign.index.operators.blind_spots`) with evidence and a suggested label, without the features that fire on
    more than ``max_density`` of all tokens or whose top activations fall mostly on punctuation and function
    words (those track syntax or position, not a concept a symbol could name)."""
    if space.stats is None:
        return []
    out = []
    cand = operators.blind_spots(space, None, operators.BLIND_SPOT_MIN_DENSITY)
    for f, density, mean_act in zip(cand.ids.tolist(), cand.cols["density"].tolist(), cand.cols["strength"].tolist(),
                                    strict=True):
        if density > max_density:
            continue
        if len(out) >= limit:
            break
        raw = space.stats.snippets[f] if f < len(space.stats.snippets) else []
        suggested = suggest_label(raw)
        if not suggested or content_share(raw) < MIN_CONTENT_SHARE:
            continue  # fires mostly on punctuation or function words: syntax, not a concept
        snippets = [
            Snippet(str(sn.get("text", "")), str(sn.get("token", "")), sn.get("start"), sn.get("end"),
                    float(sn.get("activation", 0.0)))
            for sn in raw[:5]
        ]
        near = [SymbolRef(k[0], k[1], _label(ws, k), round(w, 4)) for k, w in space.symbols_activating(f, 3)]
        out.append(BlindSpot(f, space.feature_label(f), suggested, density, mean_act, snippets, near))
    return out


def unstable(ws: QueryContext, space: ConceptSpace, limit: int) -> list[UnstableSymbol]:
    """The DSL's ``unstable symbols`` (:func:`kgalign.index.operators.unstable_symbols`): the least stable
    symbols, lowest first, the same rows the console lists (those below :data:`MIN_STABILITY` are the ones
    the pruning candidates call unstable)."""
    out = []
    for key, stab in operators.keys_of(space, operators.unstable_symbols(space, None, limit), "stability"):
        r = space.row_of(key)
        out.append(UnstableSymbol(key[0], key[1], _label(ws, key), stab, int(space.table.n_contexts[r]),
                                  _features(space, key, 3)))
    return out


def coverage(space: ConceptSpace, graphs: list[GraphSummary]) -> Coverage:
    feats = _graph_features(space)
    names = [g.name for g in graphs]
    overlaps = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            fa, fb = feats.get(a, set()), feats.get(b, set())
            union = fa | fb
            overlaps.append(CoverageOverlap(a, b, len(fa & fb), len(fa & fb) / len(union) if union else 0.0))
    return Coverage(space.d_sae, len(space.claimed_features()), graphs, overlaps)


def stability_histogram(space: ConceptSpace, graphs: Sequence[str], bins: int = 20) -> StabilityHistogram:
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = {}
    stab = space.table.stability
    for g in graphs:
        rows = [i for i, k in enumerate(space.keys) if k[0] == g]
        c, _ = np.histogram(np.clip(stab[rows], 0.0, 1.0), bins=edges)
        counts[g] = [int(x) for x in c]
    return StabilityHistogram([round(float(e), 4) for e in edges], counts, MIN_STABILITY)


def pca_2d(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """``([n, 2] coordinates, [explained fraction of PC1, PC2])`` of the unit rows of ``vectors [n, d]``.

    Exact SVD for small inputs; for large ones a randomized range finder (a Gaussian sketch of 32 columns
    and two power iterations) reduces the matrix before numpy's SVD. Signs are fixed so that each
    component's largest loading is positive (the same map on every run).
    """
    x = np.asarray(vectors, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, 2)), [0.0, 0.0]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    x = x - x.mean(axis=0, keepdims=True)
    total = float((x * x).sum()) or 1.0
    if n < 3:
        return np.zeros((n, 2)), [0.0, 0.0]
    if x.size <= 4_000_000:
        _, s, vt = np.linalg.svd(x, full_matrices=False)
    else:
        rng = np.random.default_rng(seed)
        y = x @ rng.standard_normal((x.shape[1], 32))
        for _ in range(2):
            y = x @ (x.T @ y)
        q, _ = np.linalg.qr(y)
        _, s, vt = np.linalg.svd(q.T @ x, full_matrices=False)
    vt = vt[:2]
    for i in range(vt.shape[0]):
        if vt[i, np.argmax(np.abs(vt[i]))] < 0:
            vt[i] = -vt[i]
    coords = x @ vt.T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    explained = [float(v) / total for v in (s[:2] ** 2)] + [0.0] * (2 - len(s[:2]))
    return coords, explained


def concept_map(ws: QueryContext, space: ConceptSpace, pruned: set[tuple[str, str]]) -> ConceptMap:
    n = len(space.keys)
    rows = np.arange(n)
    if n > MAP_MAX_POINTS:
        rows = np.sort(np.random.default_rng(0).choice(n, MAP_MAX_POINTS, replace=False))
    coords, explained = pca_2d(space.table.vectors[rows])
    points = []
    for j, r in enumerate(rows):
        k = space.keys[int(r)]
        points.append(MapPoint(k[0], k[1], _label(ws, k), round(float(coords[j, 0]), 5),
                               round(float(coords[j, 1]), 5), round(float(space.table.stability[r]), 4),
                               k in pruned))
    return ConceptMap(points, [round(e, 5) for e in explained], n)


def sae_quality(ws: QueryContext, space: ConceptSpace) -> SAEQuality:
    from kgalign.index.build import default_sae_dir

    run_path = space.run.get("sae_path")
    sae_dir = Path(ws.config.sae) if ws.config.sae else Path(run_path) if run_path else default_sae_dir()

    def read_json(p: Path) -> dict:
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    cfg = read_json(sae_dir / "cfg.json")
    metrics = read_json(sae_dir / "metrics.json")
    inner = metrics.get("metrics") if isinstance(metrics.get("metrics"), dict) else metrics
    headline = {k: inner[k] for k in HEADLINE_METRICS if isinstance(inner.get(k), (int, float))}
    for k in ("targets_met",):
        if k in metrics:
            headline[k] = metrics[k]
    details = {
        k: v for k, v in metrics.items()
        if isinstance(v, (int, float, str, bool)) and k not in headline and k != "command"
    }
    hist = None
    for src in (inner, metrics):
        h = src.get("density_histogram") if isinstance(src, dict) else None
        if isinstance(h, dict) and "log10_bin_edges" in h and "counts" in h:
            hist = {"log10_bin_edges": [float(x) for x in h["log10_bin_edges"]],
                    "counts": [float(x) for x in h["counts"]]}
            break
    card_path = sae_dir / "MODEL_CARD.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    stats = space.stats
    return SAEQuality(
        path=str(sae_dir), name=sae_dir.name, architecture=cfg.get("architecture"),
        d_in=cfg.get("d_in"), d_sae=cfg.get("d_sae", space.d_sae), k=cfg.get("k"),
        headline=headline, details=details, density_histogram=hist, model_card=card,
        feature_stats_corpus=stats.corpus if stats is not None else "",
        feature_stats_tokens=stats.n_tokens if stats is not None else None,
        silent_features=int((np.asarray(stats.density) <= 0).sum()) if stats is not None else None,
        features_claimed=len(space.claimed_features()),
    )


def behaviour_section(
    ws: QueryContext, alignments: Sequence[Any], enabled: bool, options: dict[str, Any] | None
) -> BehaviourSection:
    from kgalign.align.behaviour import behavioural_checks, summarise

    if not enabled:
        return BehaviourSection([], summarise([]), False, "behavioural checks were not run (--no-behaviour)")
    opts = {"time_budget": 120.0, **(options or {})}
    try:
        checks = behavioural_checks(ws, alignments=alignments, **opts)
    except KgalignError as e:
        return BehaviourSection([], summarise([]), False, f"behavioural checks could not run: {e}")
    return BehaviourSection(checks, summarise(checks), True, "")


# ------------------------------------------------------------------------------------------ the report


def build_report(
    ws: QueryContext,
    *,
    alignments: Sequence[Any] | None = None,
    behaviour: bool = True,
    behaviour_options: dict[str, Any] | None = None,
    limits: dict[str, int] | None = None,
) -> Report:
    """The pruning report of an embedded workspace.

    ``alignments``: the matcher's :class:`~kgalign.align.candidates.Alignment` objects (``None`` runs the
    matcher on every pair of graphs; ``[]`` means no merge candidates). ``behaviour``: run the behavioural
    checks of the links the report relies on (``behaviour_options`` go to
    :func:`kgalign.align.behaviour.behavioural_checks`).
    """
    if not ws.has_space():
        raise WorkspaceError(f"the workspace at {ws.path} is not embedded yet: run 'kgalign embed' first")
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    space = ws.space
    notes: list[str] = []
    stale = ws.stale_graphs()
    if stale:
        notes.append(f"graphs changed since the last embed (run 'kgalign embed'): {', '.join(stale)}")
    if alignments is None:
        alignments, note = _default_alignments(ws)
        if note:
            notes.append(note)
    alignments = list(alignments)
    graphs = graph_summaries(ws, space)
    merges = merge_candidates(ws, space, alignments)[: lim["merge_candidates"]]
    brs = bridges(ws, space, alignments)[: lim["bridges"]]
    prune = pruning_candidates(ws, space, alignments)
    if space.stats is None:
        notes.append("no feature statistics in this workspace: blind spots need them (kgalign embed --corpus)")
    elif "artefact" in (space.stats.corpus or ""):
        notes.append(
            "feature statistics come from the artefacts' own labels and definitions, not a corpus: blind spots "
            "are features that the artefacts' wording activates but no symbol loads on "
            "(kgalign embed --corpus FILES for a corpus view)"
        )
    blinds = blind_spots(ws, space, lim["blind_spots"])
    unst = unstable(ws, space, lim["unstable"])
    cov = coverage(space, graphs)
    hist = stability_histogram(space, [g.name for g in graphs])
    cmap = concept_map(ws, space, {(p.graph, p.iri) for p in prune})
    sae = sae_quality(ws, space)
    if not sae.headline:
        notes.append(f"no metrics.json beside the SAE at {sae.path}: its quality figures are not known")
    beh = behaviour_section(ws, alignments, behaviour, behaviour_options)
    if beh.note:
        notes.append(beh.note)
    stab = space.table.stability
    summary = Summary(
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
        workspace=str(ws.path),
        model=str(space.run.get("model", ws.config.model)),
        layer=space.run.get("layer", ws.config.layer),
        sae=str(space.run.get("sae", sae.name)),
        d_sae=space.d_sae,
        n_graphs=len(graphs),
        n_symbols=sum(g.n_symbols for g in graphs),
        n_embedded=len(space.keys),
        n_merge_candidates=len(merges),
        n_bridges=len(brs),
        n_pruning_candidates=len(prune),
        n_blind_spots=len(blinds),
        n_unstable=len(unst),
        n_features_claimed=len(space.claimed_features()),
        mean_stability=float(stab.mean()) if len(stab) else None,
        n_behavioural_checks=len(beh.checks),
        n_behavioural_passed=sum(c.passed for c in beh.checks),
        graphs=graphs,
    )
    from kgalign.report.check_section import bridge_check
    from kgalign.report.curate import curate

    report = Report(summary, merges, brs, prune, blinds, unst, cov, hist, cmap, beh, sae, notes,
                    bridge_check=bridge_check(ws))
    return curate(report, ws, space)
