"""From scored pairs to an alignment: combine, threshold, select one-to-one, repair.

Stages, each a function:

1. :func:`combine` — one confidence per pair from the scorers' evidence: the weighted
   mean of the scores of the scorers that judged the pair (a scorer that abstains
   leaves the denominator; a scorer that judged and found nothing counts as 0).
2. :func:`select_one_to_one` — above the threshold, each symbol mapped at most once:
   greedy by confidence (the default, like a stable marriage with both sides ranking by
   the same score) or Hungarian (maximum total confidence, ``scipy``).
3. :func:`repair` — walk the selected mappings from the most to the least confident and
   drop each one that, with those kept so far, makes the merged ontologies incoherent or
   contradicts their hierarchies. Checks (all cheap graph walks):

   - ``disjointness``: a class becomes a subclass of two classes declared
     ``owl:disjointWith`` each other (through the subsumptions of both ontologies and
     the mappings as equivalences);
   - ``subsumption``: the mapping collapses two distinct classes (or properties) of one
     ontology into equivalents — e.g. ``a ⊑ c`` in one ontology, ``d ⊑ b`` in the
     other, with ``a = b`` and ``c = d`` mapped;
   - ``domain_range``: a property mapping whose two domains (or ranges) are disjoint
     given the class mappings.

   :func:`hermit_repair` (optional) runs the HermiT reasoner through owlready2 on the
   merged ontologies and drops mappings until no new class is unsatisfiable.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import networkx as nx

from kgalign.align.candidates import Evidence, MappingCandidate, Pair
from kgalign.align.ontology import OntologyView, category
from kgalign.errors import ConfigError

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

REPAIR_CHECKS = ("disjointness", "subsumption", "domain_range")
SELECTIONS = ("greedy", "hungarian", "none")


def combine(
    evidence: Mapping[str, Evidence],
    weights: Mapping[str, float],
) -> float:
    """Weighted mean of the scores of the scorers that judged the pair.

    >>> from kgalign.align.candidates import Evidence
    >>> combine({"lexical": Evidence("lexical", 1.0, ""), "structural": Evidence("structural", 0.5, "")},
    ...         {"lexical": 1.0, "structural": 0.5})
    0.8333333333333334
    """
    num = den = 0.0
    for name, e in evidence.items():
        w = weights.get(name, 0.0)
        if w <= 0:
            continue
        num += w * e.score
        den += w
    return num / den if den else 0.0


def select_one_to_one(
    candidates: Sequence[MappingCandidate], method: str = "greedy"
) -> tuple[list[MappingCandidate], list[tuple[MappingCandidate, str]]]:
    """Keep at most one mapping per subject and per object; returns (kept, dropped with reason)."""
    if method not in SELECTIONS:
        raise ConfigError(f"unknown selection {method!r}; known selections: {', '.join(SELECTIONS)}")
    ranked = sorted(candidates, key=_rank_key)
    if method == "none":
        return ranked, []
    if method == "hungarian":
        return _hungarian(ranked)
    used_s: dict[str, MappingCandidate] = {}
    used_o: dict[str, MappingCandidate] = {}
    kept: list[MappingCandidate] = []
    dropped: list[tuple[MappingCandidate, str]] = []
    for m in ranked:
        other = used_s.get(m.subject) or used_o.get(m.object)
        if other is not None:
            dropped.append((m, f"one-to-one: {other.subject_label or other.subject} = "
                               f"{other.object_label or other.object} is more confident"))
            continue
        used_s[m.subject] = m
        used_o[m.object] = m
        kept.append(m)
    return kept, dropped


def _rank_key(m: MappingCandidate) -> tuple[float, float, str, str]:
    lex = m.score_of("lexical") or 0.0
    return (-m.confidence, -lex, m.subject, m.object)


def _hungarian(ranked: list[MappingCandidate]) -> tuple[list[MappingCandidate], list[tuple[MappingCandidate, str]]]:
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    subjects = sorted({m.subject for m in ranked})
    objects = sorted({m.object for m in ranked})
    si = {s: i for i, s in enumerate(subjects)}
    oi = {o: i for i, o in enumerate(objects)}
    cost = np.zeros((len(subjects), len(objects)))  # [n_subjects, n_objects], negated confidence
    best: dict[Pair, MappingCandidate] = {}
    for m in ranked:
        if m.pair not in best:
            best[m.pair] = m
            cost[si[m.subject], oi[m.object]] = -m.confidence
    rows, cols = linear_sum_assignment(cost)
    chosen = {(subjects[r], objects[c]) for r, c in zip(rows, cols, strict=True) if cost[r, c] < 0}
    kept = [m for m in ranked if m.pair in chosen and best[m.pair] is m]
    dropped = [(m, "one-to-one: not in the maximum-confidence assignment") for m in ranked if m not in kept]
    return kept, dropped


# -- repair ---------------------------------------------------------------------------------------


@dataclass
class _Merged:
    """Both hierarchies in one directed graph (child → parent), nodes ``("s", iri)``/``("t", iri)``."""

    source: OntologyView
    target: OntologyView
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    disjoint: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for side, view in (("s", self.source), ("t", self.target)):
            for a, b in view.hierarchy.edges:
                self.graph.add_edge((side, a), (side, b))
            self.graph.add_nodes_from((side, n) for n in view.hierarchy.nodes)
            for a, bs in view.disjoint.items():
                self.disjoint.setdefault((side, a), set()).update((side, b) for b in bs)

    def anc(self, node: tuple[str, str]) -> set[tuple[str, str]]:
        if node not in self.graph:
            return {node}
        return nx.descendants(self.graph, node) | {node}

    def clash(self, node: tuple[str, str]) -> tuple[tuple[str, str], tuple[str, str]] | None:
        """Two disjoint classes among ``node``'s ancestors (itself included), if any."""
        anc = self.anc(node)
        for a in anc:
            for b in self.disjoint.get(a, ()):
                if b in anc:
                    return (a, b)
        return None

    def add(self, m: MappingCandidate) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        e = [(("s", m.subject), ("t", m.object)), (("t", m.object), ("s", m.subject))]
        self.graph.add_edges_from(e)
        return e

    def remove(self, edges: list[tuple[tuple[str, str], tuple[str, str]]]) -> None:
        self.graph.remove_edges_from(edges)


def _name(view: OntologyView, iri: str) -> str:
    s = view.symbols.get(iri)
    return s.label if s is not None else iri


def support(m: MappingCandidate) -> tuple[float, int, float, float]:
    """How well supported a mapping is: confidence, then how many kinds of evidence agree,
    then its structural and lexical scores (higher is better)."""
    return (m.confidence, len(m.evidence_kinds), m.score_of("structural") or 0.0, m.score_of("lexical") or 0.0)


def repair(
    mappings: Sequence[MappingCandidate],
    source: OntologyView,
    target: OntologyView,
    checks: Iterable[str] = REPAIR_CHECKS,
    *,
    fixed: Sequence[MappingCandidate] = (),
    max_revisits: int = 10,
    rule: str = "sum_names",
) -> tuple[list[MappingCandidate], list[tuple[MappingCandidate, str]]]:
    """Drop mappings that make the merged ontologies incoherent; returns (kept, dropped with reason).

    A first greedy pass takes mappings from the most supported down and drops each one that
    clashes with those kept so far, noting which kept mappings the clash runs through. Then the
    conflicts are revisited: a kept mapping that blocked two or more mappings that outweigh it
    (``rule``, see :func:`_outweighs`: by default each at least as well supported as itself, or
    together more confident while its names agree no better than theirs) is the least supported
    member of those conflicts — it goes, and the mappings it blocked are tried again (so one wrong
    match seen first cannot take many right ones down with it, and an exact match never goes for
    weaker-named ones). Each kept mapping gets a ``repair`` evidence naming the
    checks it passed. ``fixed`` mappings (anchors) are added first and never dropped; they are
    not in the returned lists.
    """
    checks = tuple(checks)
    unknown = set(checks) - set(REPAIR_CHECKS)
    if unknown:
        raise ConfigError(
            f"unknown repair check {sorted(unknown)[0]!r}; known checks: {', '.join(REPAIR_CHECKS)}"
        )
    ranked = sorted(mappings, key=lambda m: (tuple(-x for x in support(m)), m.subject, m.object))
    excluded: list[tuple[MappingCandidate, str]] = []
    for _ in range(max_revisits + 1):
        gone = {e.pair for e, _ in excluded}
        kept, dropped, blockers = _greedy_repair(
            [m for m in ranked if m.pair not in gone], source, target, checks, fixed
        )
        blame: dict[Pair, list[MappingCandidate]] = {}
        for m, _reason in dropped:
            for c in blockers.get(m.pair, ()):
                blame.setdefault(c, []).append(m)
        by_pair = {m.pair: m for m in kept}
        culprit = None
        for c, blocked in sorted(blame.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            cm = by_pair.get(c)
            if cm is None or len(blocked) < 2:
                continue
            if _outweighs(blocked, cm, rule):
                culprit = (cm, blocked)
                break
        if culprit is None:
            break
        cm, blocked = culprit
        names = ", ".join(f"{b.subject_label or b.subject} = {b.object_label or b.object}" for b in blocked[:3])
        excluded.append((cm, f"repair: the least supported member of {len(blocked)} conflicts (with {names})"))
    return kept, [*excluded, *dropped]


def _outweighs(blocked: Sequence[MappingCandidate], cm: MappingCandidate, rule: str) -> bool:
    """Whether the mappings ``cm`` blocked together outweigh it: ``each`` — every one is at
    least as well supported; ``sum`` — their confidences add up to more than its own (the
    cheapest hitting set of the conflicts, as AML/LogMap repair); ``sum_names`` — as ``sum``, but a
    mapping whose names agree better (lexical score) than those of every mapping it blocked stays
    unless ``each`` holds."""
    if rule == "sum":
        return sum(b.confidence for b in blocked) > cm.confidence
    each = all(support(b) >= support(cm) for b in blocked)
    if rule == "sum_names":
        names = max((b.score_of("lexical") or 0.0) for b in blocked)
        return each or ((cm.score_of("lexical") or 0.0) <= names
                        and sum(b.confidence for b in blocked) > cm.confidence)
    return each


def _involved(merged: _Merged, start: tuple[str, str], goals: Iterable[tuple[str, str]],
              kept: Mapping[tuple[tuple[str, str], tuple[str, str]], Pair]) -> set[Pair]:
    """Kept mappings whose equivalence edges lie on a path from ``start`` to one of ``goals``."""
    reach = nx.descendants(merged.graph, start) | {start}
    back: set[tuple[str, str]] = set()
    for g in goals:
        if g in merged.graph:
            back |= nx.ancestors(merged.graph, g) | {g}
    return {p for (u, v), p in kept.items() if u in reach and v in back}


def _greedy_repair(
    ranked: Sequence[MappingCandidate],
    source: OntologyView,
    target: OntologyView,
    checks: tuple[str, ...],
    fixed: Sequence[MappingCandidate],
) -> tuple[list[MappingCandidate], list[tuple[MappingCandidate, str]], dict[Pair, set[Pair]]]:
    merged = _Merged(source, target)
    views = {"s": source, "t": target}
    # Classes already unsatisfiable in their own ontology are not the mappings' fault.
    baseline = {n for n in list(merged.graph.nodes) if merged.clash(n) is not None}
    for m in fixed:
        merged.add(m)
    kept: list[MappingCandidate] = []
    dropped: list[tuple[MappingCandidate, str]] = []
    blockers: dict[Pair, set[Pair]] = {}
    edge_owner: dict[tuple[tuple[str, str], tuple[str, str]], Pair] = {}
    for m in ranked:
        reason = None
        cat = m.category or (category(source.symbols[m.subject].kind) if m.subject in source.symbols else "")
        edges = merged.add(m)
        if "disjointness" in checks and cat == "class" and merged.disjoint:
            sn = ("s", m.subject)
            affected = (nx.ancestors(merged.graph, sn) | {sn}) if sn in merged.graph else set()
            for node in sorted(affected):
                if node in baseline:
                    continue
                c = merged.clash(node)
                if c is not None:
                    (sa, a), (sb, b) = c
                    reason = (
                        f"disjointness: {_name(views[node[0]], node[1])} would be a subclass of both "
                        f"{_name(views[sa], a)} and {_name(views[sb], b)}, declared disjoint"
                    )
                    blockers[m.pair] = _involved(merged, node, c, edge_owner) - {m.pair}
                    break
        if reason is None and "subsumption" in checks:
            scc = (nx.descendants(merged.graph, ("s", m.subject)) & nx.ancestors(merged.graph, ("s", m.subject))) | {
                ("s", m.subject)
            }
            for side in ("s", "t"):
                members = sorted(n for n in scc if n[0] == side)
                view = views[side]
                for i, x in enumerate(members):
                    for y in members[i + 1:]:
                        if y[1] not in view.equivalent.get(x[1], ()) and not (
                            x[1] in view.ancestors(y[1]) and y[1] in view.ancestors(x[1])
                        ):
                            reason = (
                                f"subsumption: with the mappings kept, {_name(view, x[1])} and "
                                f"{_name(view, y[1])} of {view.graph} would become equivalent"
                            )
                            blockers[m.pair] = {p for (u, v), p in edge_owner.items() if u in scc and v in scc}
                            break
                    if reason:
                        break
                if reason:
                    break
        if reason is None and "domain_range" in checks and cat == "property":
            reason = _domain_range_clash(m, merged, source, target)
        if reason is not None:
            merged.remove(edges)
            dropped.append((m, reason))
            continue
        for e in edges:
            edge_owner[e] = m.pair
        kept.append(m.with_evidence(Evidence("repair", 1.0, "passed " + ", ".join(checks) + " checks")))
    return kept, dropped, blockers


def _domain_range_clash(
    m: MappingCandidate, merged: _Merged, source: OntologyView, target: OntologyView
) -> str | None:
    for what, a_cls, b_cls in (
        ("domains", source.domain_of(m.subject), target.domain_of(m.object)),
        ("ranges", source.range_of(m.subject), target.range_of(m.object)),
    ):
        if len(a_cls) != 1 or len(b_cls) != 1:
            continue  # unions (or none) are not checked here
        na, nb = ("s", a_cls[0]), ("t", b_cls[0])
        if na not in merged.graph or nb not in merged.graph:
            continue
        anc_a, anc_b = merged.anc(na), merged.anc(nb)
        for x in anc_a:
            for y in merged.disjoint.get(x, ()):
                if y in anc_b:
                    return (
                        f"domain_range: the {what} {_name(source, a_cls[0])} and {_name(target, b_cls[0])} "
                        f"are disjoint (via {_name(merged.source if x[0] == 's' else merged.target, x[1])})"
                    )
    return None


# -- HermiT (optional) -----------------------------------------------------------------------------


def hermit_repair(
    mappings: Sequence[MappingCandidate],
    ws: Workspace,
    source_graph: str,
    target_graph: str,
    *,
    max_rounds: int = 5,
) -> tuple[list[MappingCandidate], list[tuple[MappingCandidate, str]], dict[str, float]]:
    """Drop mappings until HermiT finds no class unsatisfiable that was satisfiable before.

    Each reasoner call merges both ontologies (read from the store) with a set of mappings
    as ``owl:equivalentClass``/``owl:equivalentProperty`` axioms and classifies with
    HermiT (owlready2, needs Java). When the merge is incoherent, a binary search over the
    mappings in decreasing confidence finds the first one whose addition makes it so
    — the same mapping the greedy cheap repair would drop — and drops it; then again, up
    to ``max_rounds`` times. Returns (kept, dropped, timings).
    """
    from kgalign.align import reasoner

    t0 = time.perf_counter()
    kept = sorted(mappings, key=_rank_key)
    dropped: list[tuple[MappingCandidate, str]] = []
    graphs = [source_graph, target_graph]
    calls = 0

    def new_unsat(ms: Sequence[MappingCandidate]) -> set[str]:
        nonlocal calls
        calls += 1
        return reasoner.unsatisfiable(ws, graphs, ms) - base

    base: set[str] = set()
    base = new_unsat([])
    rounds = 0
    while rounds < max_rounds and kept:
        unsat = new_unsat(kept)
        if not unsat:
            break
        rounds += 1
        lo, hi = 1, len(kept)  # kept[:hi] is incoherent; find the shortest incoherent prefix
        while lo < hi:
            mid = (lo + hi) // 2
            if new_unsat(kept[:mid]):
                hi = mid
            else:
                lo = mid + 1
        culprit = kept[lo - 1]
        kept = kept[: lo - 1] + kept[lo:]
        names = ", ".join(sorted(u.rsplit("#", 1)[-1] for u in unsat)[:3])
        dropped.append((culprit, f"hermit: with the more confident mappings, it makes {names} unsatisfiable"))
    timings = {"hermit_seconds": time.perf_counter() - t0, "hermit_rounds": rounds, "hermit_calls": calls}
    return kept, dropped, timings
