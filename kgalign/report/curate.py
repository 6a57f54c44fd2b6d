"""Curation judgements over a built report: what a curator reads before acting on it.

:func:`curate` runs after :func:`kgalign.report.build.build_report` has gathered the data and

- keeps generic and form features (firing on a large share of all tokens, or on sub-words, punctuation,
  function words, positions) out of the *shared features* of merge candidates and bridges: they are
  shared by everything and say nothing about shared meaning;
- judges pruning candidates across graphs: a symbol with a near-identical counterpart in another graph
  (cosine >= :data:`NEAR_IDENTICAL`) or a confident mapping (>= :data:`CONFIDENT_MAPPING`) is not dead
  weight, and moves to ``report.kept``;
- adds individuals of different graphs with identical labels as merge candidates (they are the same
  individual far more often than not, and the concept space alone only shows them as bridges);
- gives every remaining candidate a severity (ERROR / WARN / INFO, as in ROBOT's report) and a suggested
  action, and writes the exportable prune list;
- measures how faithful the concept map is (neighbourhood overlap) and how often the behavioural rule
  passes a random feature (the false-positive rate, and the p-value of the observed passes).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.report.model import (
    BehaviourSection,
    ConceptMap,
    EvidenceItem,
    FeatureRef,
    MergeCandidate,
    PruneRow,
    PruningCandidate,
    Report,
)

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.index.space import ConceptSpace
    from kgalign.query.context import QueryContext as Workspace

#: A feature firing on more than this share of the statistics corpus' tokens is generic.
GENERIC_DENSITY = 0.1
#: Label kinds (kgalign.neural.labels) that name a form, not a meaning.
FORM_KINDS = frozenset({"punctuation", "function-word", "sub-word", "positional", "silent", "generic"})
#: A counterpart at this cosine or above in another graph makes a pruning candidate a duplicate, not dead.
NEAR_IDENTICAL = 0.95
#: ...and so does a mapping at this confidence or above.
CONFIDENT_MAPPING = 0.9
#: A counterpart at this cosine or above makes the suggested action "merge", not "remove".
CLOSE_COUNTERPART = 0.8
#: Shared features shown per merge candidate or bridge.
SHARED_SHOWN = 5
#: Neighbours compared when measuring the concept map's faithfulness.
MAP_K = 10


# ------------------------------------------------------------------------------------------ features


def _labels(ws: Workspace | None) -> Any:
    """The grounded feature labels of the workspace (kgalign.neural.labels), or None."""
    if ws is None:
        return None
    try:
        from kgalign.neural.labels import load_labels
    except ImportError:
        return None
    try:
        return load_labels(ws)
    except Exception:  # noqa: BLE001 - labels are an optional refinement of the density rule
        return None


def _snippet_kind(snippets: Sequence[dict]) -> str:
    """``sub-word`` / ``punctuation`` / ``function-word`` when most activation falls there, else ``""``."""
    from kgalign.report.build import _STOP

    total = sum(float(sn.get("activation") or 0.0) for sn in snippets)
    if total <= 0:
        return ""
    mass: dict[str, float] = defaultdict(float)
    for sn in snippets:
        tok = str(sn.get("token", ""))
        word = re.sub(r"^[^\w]+|[^\w']+$", "", str(sn.get("word") or tok).lower())
        act = float(sn.get("activation") or 0.0)
        if tok.startswith("##"):
            mass["sub-word"] += act
        elif not re.search(r"[^\W\d_]", tok):
            mass["punctuation"] += act
        elif word in _STOP:
            mass["function-word"] += act
    if not mass:
        return ""
    kind, m = max(mass.items(), key=lambda kv: kv[1])
    return kind if sum(mass.values()) >= 0.5 * total else ""


class FeatureKinds:
    """The kind of every feature: the grounded label's kind where there is one, else density and snippets."""

    def __init__(self, space: ConceptSpace, ws: Workspace | None = None) -> None:
        self.space = space
        self.labels = _labels(ws)
        self._cache: dict[int, tuple[float | None, str]] = {}

    def info(self, f: int) -> tuple[float | None, str]:
        """``(density, kind)``; kind is ``content`` or the reason the feature carries no shared meaning."""
        if f in self._cache:
            return self._cache[f]
        stats = self.space.stats
        density = float(stats.density[f]) if stats is not None and f < len(stats.density) else None
        kind = ""
        if self.labels is not None:
            try:
                kind = str(self.labels[f].kind)
            except (IndexError, KeyError, AttributeError, TypeError):
                kind = ""
        if density is not None and density > GENERIC_DENSITY:
            kind = "generic"
        elif kind in ("", "ungrounded") and stats is not None and f < len(stats.snippets):
            kind = _snippet_kind(stats.snippets[f]) or kind
        kind = kind or "content"
        self._cache[f] = (density, kind)
        return density, kind

    def is_meaning(self, f: int) -> bool:
        return self.info(f)[1] not in FORM_KINDS

    def ref(self, f: int, weight: float | None = None) -> FeatureRef:
        density, kind = self.info(f)
        return FeatureRef(int(f), self.space.feature_label(int(f)), weight, density, kind)


def shared_meaning(space: ConceptSpace, kinds: FeatureKinds, a: tuple[str, str], b: tuple[str, str],
                   n: int = SHARED_SHOWN) -> tuple[list[FeatureRef], int]:
    """The features both symbols load on, strongest first (min of the two weights), without the generic
    and form features; and how many of those were left out."""
    if not (space.has(a) and space.has(b)):
        return [], 0
    wa = {f: w for f, w, _ in space.support_of(a)}
    both = sorted(((f, min(w, wa[f])) for f, w, _ in space.support_of(b) if f in wa), key=lambda x: -x[1])
    keep = [(f, w) for f, w in both if kinds.is_meaning(f)]
    return [kinds.ref(f, round(float(w), 4)) for f, w in keep[:n]], len(both) - len(keep)


# -------------------------------------------------------------------------------------- individuals


def _norm(label: str) -> str:
    return " ".join(re.sub(r"[_\W]+", " ", label.casefold()).split())


def identical_individuals(ws: Workspace, space: ConceptSpace | None) -> list[MergeCandidate]:
    """Individuals of different graphs whose labels are identical (case, spacing and punctuation aside)."""
    by_label: dict[str, list[Any]] = defaultdict(list)
    for s in ws.symbols():
        if s.kind == "individual" and s.label:
            by_label[_norm(s.label)].append(s)
    out = []
    for norm, group in by_label.items():
        if not norm:
            continue
        group = sorted(group, key=lambda s: (s.graph, s.iri))
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.graph == b.graph:
                    continue
                ka, kb = (a.graph, a.iri), (b.graph, b.iri)
                sim = space.similarity(ka, kb) if space is not None and space.has(ka) and space.has(kb) else None
                detail = f"both individuals are labelled {a.label!r}" + (
                    f"; concept similarity {sim:.2f}" if sim is not None else "")
                out.append(MergeCandidate(
                    source_graph=a.graph, source=a.iri, source_label=a.label,
                    target_graph=b.graph, target=b.iri, target_label=b.label,
                    relation="=", relation_name="same individual", confidence=1.0,
                    evidence=[EvidenceItem("identical label", 1.0, detail)], concept_similarity=sim,
                ))
    return out


# ------------------------------------------------------------------------------------------ pruning


def _mapping_index(merges: Sequence[MergeCandidate]) -> dict[tuple[str, str], MergeCandidate]:
    """symbol -> its most confident mapping."""
    best: dict[tuple[str, str], MergeCandidate] = {}
    for m in merges:
        for k in ((m.source_graph, m.source), (m.target_graph, m.target)):
            if k not in best or m.confidence > best[k].confidence:
                best[k] = m
    return best


def _other_side(m: MergeCandidate, key: tuple[str, str]) -> tuple[str, str, str]:
    if (m.source_graph, m.source) == key:
        return m.target_graph, m.target, m.target_label
    return m.source_graph, m.source, m.source_label


def judge(p: PruningCandidate, mapping: MergeCandidate | None) -> PruningCandidate:
    """Severity, suggested action, and whether the candidate is kept because of a counterpart elsewhere."""
    key = (p.graph, p.iri)
    near = p.nearest_elsewhere
    near_sim = near.score if near is not None and near.score is not None else None
    if mapping is not None and mapping.confidence >= CONFIDENT_MAPPING:
        g, _, lab = _other_side(mapping, key)
        return dataclasses.replace(
            p, severity="INFO", action=f"keep: mapped to {lab} ({g}) at confidence {mapping.confidence:.2f}",
            kept_because=f"a confident mapping ({mapping.relation_name}, {mapping.confidence:.2f}) to {lab} in {g}")
    if near is not None and near_sim is not None and near_sim >= NEAR_IDENTICAL:
        return dataclasses.replace(
            p, severity="INFO", action=f"keep, or merge with {near.label} ({near.graph})",
            kept_because=f"a near-identical counterpart in {near.graph}: {near.label} (cosine {near_sim:.2f})")
    if mapping is not None:
        g, _, lab = _other_side(mapping, key)
        return dataclasses.replace(p, severity="INFO",
                                   action=f"review the mapping to {lab} ({g}, {mapping.confidence:.2f}) before pruning")
    if near is not None and near_sim is not None and near_sim >= CLOSE_COUNTERPART:
        return dataclasses.replace(p, severity="WARN",
                                   action=f"merge with {near.label} ({near.graph}, cosine {near_sim:.2f}) or remove")
    if len(p.reasons) >= 2:
        return dataclasses.replace(p, severity="ERROR", action="remove, or give it a definition and a clearer label")
    action = "add a definition or a clearer label" if not p.definition else "review: clarify the label"
    return dataclasses.replace(p, severity="WARN", action=action)


def _rule(p: PruningCandidate) -> str:
    text = " ".join(p.reasons).lower()
    if "unstable" in text or "stabil" in text:
        return "unstable-support"
    if "weak" in text or "activation" in text or "strength" in text:
        return "weak-activation"
    if "share" in text or "promisc" in text or "generic" in text:
        return "generic-support"
    return "no-neural-counterpart"


def prune_rows(candidates: Sequence[PruningCandidate], kept: Sequence[PruningCandidate],
               merges: Sequence[MergeCandidate]) -> list[PruneRow]:
    """The prune list: candidates by severity, then identical individuals to merge, then what was kept."""
    order = {"ERROR": 0, "WARN": 1, "INFO": 2}
    rows = []
    for p in sorted(candidates, key=lambda p: (order.get(p.severity, 3), p.strength, p.graph, p.iri)):
        near = p.nearest_elsewhere
        rows.append(PruneRow(p.severity, _rule(p), p.graph, p.iri, p.label, "; ".join(p.reasons), p.action,
                             near.iri if near else "", near.label if near else ""))
    for m in merges:
        if any(e.kind == "identical label" for e in m.evidence):
            rows.append(PruneRow("WARN", "duplicate-individual", m.source_graph, m.source, m.source_label,
                                 f"an individual of {m.target_graph} has the same label",
                                 f"merge with {m.target_label} ({m.target_graph}) or state owl:sameAs",
                                 m.target, m.target_label))
    for p in kept:
        near = p.nearest_elsewhere
        rows.append(PruneRow("INFO", "kept-counterpart", p.graph, p.iri, p.label,
                             "; ".join(p.reasons) + f" — but {p.kept_because}", p.action,
                             near.iri if near else "", near.label if near else ""))
    return rows


def prune_tsv(rows: Sequence[PruneRow]) -> str:
    """The prune list as TSV with a header (tabs and newlines inside values become spaces)."""
    cols = [f.name for f in dataclasses.fields(PruneRow)]

    def clean(v: object) -> str:
        return re.sub(r"[\t\r\n]+", " ", str(v))

    lines = ["\t".join(cols)] + ["\t".join(clean(getattr(r, c)) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------- map, behaviour


def neighbour_overlap(space: ConceptSpace, cmap: ConceptMap, k: int = MAP_K) -> float | None:
    """Mean share of each point's ``k`` nearest neighbours (cosine, full space) kept among its ``k``
    nearest on the map (Euclidean)."""
    pts = [p for p in cmap.points if space.has((p.graph, p.iri))]
    n = len(pts)
    if n <= k + 1:
        return None
    vec = np.asarray([space.table.vectors[space.row_of((p.graph, p.iri))] for p in pts], dtype=np.float32)
    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
    xy = np.asarray([(p.x, p.y) for p in pts], dtype=np.float64)
    total = 0.0
    for start in range(0, n, 512):
        sl = slice(start, min(n, start + 512))
        sim = vec[sl] @ vec.T
        d2 = ((xy[sl, None, :] - xy[None, :, :]) ** 2).sum(-1)
        for j, i in enumerate(range(sl.start, sl.stop)):
            sim[j, i], d2[j, i] = -np.inf, np.inf
        hi = np.argpartition(-sim, k, axis=1)[:, :k]
        lo = np.argpartition(d2, k, axis=1)[:, :k]
        total += sum(len(set(a) & set(b)) for a, b in zip(hi.tolist(), lo.tolist(), strict=True)) / k
    return round(total / n, 4)


def control_false_positive_rate(checks: Sequence[Any], z_threshold: float = 2.0, percentile: float = 0.9) -> float | None:
    """How often the pass rule passes a random feature: each control in turn is scored against the other
    controls of its check with the same rule (z >= 2 and above their 90th percentile)."""
    hits = total = 0
    for c in checks:
        ctrl = np.asarray([x for x in getattr(c, "controls", ()) if math.isfinite(x)], dtype=np.float64)
        if len(ctrl) < 3:
            continue
        for i in range(len(ctrl)):
            rest = np.delete(ctrl, i)
            sd = rest.std(ddof=1)
            z = (ctrl[i] - rest.mean()) / sd if sd > 0 else 0.0
            hits += bool(z >= z_threshold and ctrl[i] > np.quantile(rest, percentile))
            total += 1
    return hits / total if total else None


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p).

    >>> round(binomial_tail(3, 20, 0.1), 4)
    0.3231
    """
    if k <= 0:
        return 1.0
    p = min(max(p, 0.0), 1.0)
    return float(min(1.0, sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))))


def behaviour_figures(beh: BehaviourSection) -> BehaviourSection:
    if not beh.checks:
        return beh
    fpr = control_false_positive_rate(beh.checks)
    n, k = len(beh.checks), sum(bool(c.passed) for c in beh.checks)
    # with no control ever passing, bound the rate by the rule's own design (1 - percentile)
    p_null = fpr if fpr is not None and fpr > 0 else 0.1
    return dataclasses.replace(beh, false_positive_rate=fpr, p_value=round(binomial_tail(k, n, p_null), 6))


# ------------------------------------------------------------------------------------------ the step


def curate(report: Report, ws: Workspace, space: ConceptSpace) -> Report:
    """Apply every judgement of this module to ``report`` (in place) and return it."""
    kinds = FeatureKinds(space, ws)
    merges = []
    for m in report.merge_candidates:
        shared, hidden = shared_meaning(space, kinds, (m.source_graph, m.source), (m.target_graph, m.target))
        merges.append(dataclasses.replace(m, shared_features=shared, hidden_features=hidden))
    known = {frozenset({(m.source_graph, m.source), (m.target_graph, m.target)}) for m in merges}
    twins = [m for m in identical_individuals(ws, space)
             if frozenset({(m.source_graph, m.source), (m.target_graph, m.target)}) not in known]
    for m in twins:
        shared, hidden = shared_meaning(space, kinds, (m.source_graph, m.source), (m.target_graph, m.target))
        merges.append(dataclasses.replace(m, shared_features=shared, hidden_features=hidden))
    twin_pairs = {frozenset({(m.source_graph, m.source), (m.target_graph, m.target)}) for m in twins}
    bridges = []
    for b in report.bridges:
        pair = frozenset({(b.source_graph, b.source), (b.target_graph, b.target)})
        if pair in twin_pairs:
            continue  # now a merge candidate
        shared, hidden = shared_meaning(space, kinds, (b.source_graph, b.source), (b.target_graph, b.target))
        bridges.append(dataclasses.replace(b, shared_features=shared, hidden_features=hidden))
    mapping = _mapping_index(merges)
    judged = [judge(p, mapping.get((p.graph, p.iri))) for p in report.pruning_candidates]
    report.pruning_candidates = [p for p in judged if not p.kept_because]
    report.kept = [p for p in judged if p.kept_because]
    report.merge_candidates = merges
    report.bridges = bridges
    report.prune_list = prune_rows(report.pruning_candidates, report.kept, merges)
    still = {(p.graph, p.iri) for p in report.pruning_candidates}
    points = [dataclasses.replace(pt, pruning=(pt.graph, pt.iri) in still) for pt in report.map.points]
    report.map = dataclasses.replace(report.map, points=points,
                                     neighbour_overlap=neighbour_overlap(space, report.map))
    report.behaviour = behaviour_figures(report.behaviour)
    report.summary = dataclasses.replace(
        report.summary, n_merge_candidates=len(merges), n_bridges=len(bridges),
        n_pruning_candidates=len(report.pruning_candidates))
    if twins:
        report.notes.append(f"{len(twins)} pairs of individuals with identical labels in different graphs were "
                            "added as merge candidates")
    if report.kept:
        report.notes.append(f"{len(report.kept)} pruning candidates were kept: each has a near-identical "
                            f"counterpart (cosine >= {NEAR_IDENTICAL}) or a confident mapping "
                            f"(>= {CONFIDENT_MAPPING}) in another graph")
    return report
