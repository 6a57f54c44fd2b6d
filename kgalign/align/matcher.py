"""The matcher: scorers → combined confidence → one-to-one selection → repair.

::

    from kgalign.api import Workspace
    from kgalign.align import Matcher, MatcherConfig

    ws = Workspace.open(".kgalign")
    alignment = Matcher(MatcherConfig()).match(ws, "cmt", "Conference")
    for m in alignment:
        print(m.explain())

The stages are visible in :meth:`Matcher.match_views`: each scorer of
``config.scorers`` (looked up in :data:`kgalign.align.scoring.SCORERS`) proposes pairs
and scores them; :func:`~kgalign.align.select.combine` turns the evidence into one
confidence; pairs under the threshold go; :func:`~kgalign.align.select.select_one_to_one`
keeps one mapping per symbol; :func:`~kgalign.align.select.repair` drops what would
make the merged ontologies incoherent. Adding the neural scorer is adding ``"neural"``
to ``scorers`` (and a weight).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kgalign.align.candidates import Alignment, Evidence, MappingCandidate, Pair
from kgalign.align.config import CATEGORIES, EMBEDDING_SCORERS, MatcherConfig
from kgalign.align.ontology import OntologyView, category
from kgalign.align.scoring import MatchContext, make_scorer, stage
from kgalign.align.select import combine, repair, select_one_to_one
from kgalign.errors import ConfigError
from kgalign.symbolic.symbols import Symbol

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

__all__ = ["CATEGORIES", "Matcher", "MatcherConfig", "match", "match_all"]


class Matcher:
    """Aligns two artefacts. One instance can run many matches."""

    def __init__(self, config: MatcherConfig | None = None) -> None:
        self.config = config or MatcherConfig()

    # -- entry points --------------------------------------------------------------------

    def match(
        self,
        ws: Workspace,
        source_graph: str,
        target_graph: str,
        *,
        cache: dict[str, Any] | None = None,
        input_alignment: Alignment | None = None,
    ) -> Alignment:
        """Align the artefact graphs ``source_graph`` and ``target_graph`` of a workspace.

        ``cache`` seeds the scorers' shared cache (e.g. ``{"concept_space": space}`` to give
        the neural scorer vectors from elsewhere); ``input_alignment`` gives fixed anchors
        (see :meth:`match_views`).
        """
        ws.require_graph(source_graph)
        ws.require_graph(target_graph)
        t0 = time.perf_counter()
        source = OntologyView.from_workspace(ws, source_graph)
        target = OntologyView.from_workspace(ws, target_graph)
        t_read = time.perf_counter() - t0
        stage(self.config, f"read {source_graph} ({len(source.symbols)} symbols) and {target_graph} "
                           f"({len(target.symbols)} symbols) in {t_read:.1f} s")
        al = self.match_views(source, target, workspace=ws, cache=cache, input_alignment=input_alignment)
        al.metadata["timings"]["read"] = round(t_read, 4)
        al.source_ontology = _ontology_iri(ws, source_graph)
        al.target_ontology = _ontology_iri(ws, target_graph)
        return al

    def match_symbols(
        self,
        source: Iterable[Symbol],
        target: Iterable[Symbol],
        *,
        source_graph: str | None = None,
        target_graph: str | None = None,
        disjoint: Iterable[tuple[str, str]] = (),
        cache: dict[str, Any] | None = None,
    ) -> Alignment:
        """Align two symbol lists without a workspace (tests, symbols from elsewhere).

        ``disjoint`` lists ``owl:disjointWith`` pairs (of either side) for the repair.
        """
        src, tgt = list(source), list(target)
        sg = source_graph or (src[0].graph if src else "source")
        tg = target_graph or (tgt[0].graph if tgt else "target")
        dis = list(disjoint)
        src_iris = {s.iri for s in src}
        tgt_iris = {s.iri for s in tgt}
        sv = OntologyView.from_symbols(sg, src, disjoint=[d for d in dis if d[0] in src_iris])
        tv = OntologyView.from_symbols(tg, tgt, disjoint=[d for d in dis if d[0] in tgt_iris])
        return self.match_views(sv, tv, cache=cache)

    # -- the stages ------------------------------------------------------------------------

    @staticmethod
    def _anchors(
        input_alignment: Alignment | None, source: OntologyView, target: OntologyView
    ) -> list[MappingCandidate]:
        return _anchor_list(input_alignment, source, target)

    def score(self, context: MatchContext) -> dict[Pair, dict[str, Evidence]]:
        """Run the scorers in order; pair -> scorer name -> evidence."""
        pairs: set[Pair] = set()
        done = []
        timings = context.cache.setdefault("timings", {})
        for name in self.config.scorers:
            t0 = time.perf_counter()
            scorer = make_scorer(name, self.config)
            new = {p for p in scorer.propose(context) if _same_category(p, context)} - pairs
            if new:
                for prev in done:  # earlier scorers judge the newly proposed pairs too
                    context.evidence[prev.name].update(prev.score(new, context))
                pairs |= new
            context.evidence[scorer.name] = dict(scorer.score(pairs, context))
            done.append(scorer)
            timings[name] = round(time.perf_counter() - t0, 4)
            stage(self.config, f"{name}: {len(new)} new candidate pairs, {len(pairs)} scored, "
                               f"{time.perf_counter() - t0:.1f} s")
        by_pair: dict[Pair, dict[str, Evidence]] = defaultdict(dict)
        for name, ev in context.evidence.items():
            for pair, e in ev.items():
                if pair in pairs:
                    by_pair[pair][name] = e
        return dict(by_pair)

    def candidates(self, context: MatchContext) -> list[MappingCandidate]:
        """Every scored pair as a candidate with its combined confidence (no threshold yet)."""
        out = []
        cfg = self.config
        scored = self.score(context)
        reliability: dict[str, float] = {}
        if any(k in EMBEDDING_SCORERS for k in cfg.scorers):
            if cfg.measure_reliability:
                from kgalign.align.calibrate import measure_reliability

                reliability = measure_reliability(context, [k for k in cfg.scorers if k in EMBEDDING_SCORERS])
                context.cache["reliability"] = reliability
        mutual = _mutual_best(scored, [k for k in cfg.scorers if k in EMBEDDING_SCORERS])
        for (a, b), evs in scored.items():
            sa, sb = context.source.symbols[a], context.target.symbols[b]
            conf = self._confidence(evs, category(sa.kind), reliability, mutual.get((a, b), ()),
                                    context.cache.get("embedding_unrelated_ceiling") or context.cache.get("embedding_ceiling"))
            ordered = tuple(evs[n] for n in cfg.scorers if n in evs)
            out.append(
                MappingCandidate(
                    subject=a,
                    subject_graph=context.source.graph,
                    object=b,
                    object_graph=context.target.graph,
                    relation="=",
                    confidence=round(conf, 4),
                    evidence=ordered,
                    subject_label=sa.label,
                    object_label=sb.label,
                    category=category(sa.kind),
                )
            )
        return out

    def _confidence(self, evs: dict[str, Evidence], cat: str, reliability: dict[str, float],
                    mutual: Iterable[str] = (), ceiling: dict[str, float] | None = None) -> float:
        """Symbolic evidence as a weighted mean; embedding evidence (neural, dense) as support,
        weighted by the reliability measured on this pair (see :mod:`kgalign.align.calibrate`):
        it nudges the symbolic confidence by ``neural_boost`` (0 by default: measured, the nudge
        cost F1 when measured), and it may carry a pair on its own only when the words link the two
        symbols not at all (no lexical score), the two are each other's best in that evidence, and
        its reliability-weighted score reaches ``neural_only_threshold`` and the unrelated ceiling
        measured on the pair (see :func:`kgalign.align.calibrate.measure_reliability`)."""
        ceiling = ceiling or {}
        cfg = self.config
        weights = cfg.weights_for(cat)
        embedded = {k: e for k, e in evs.items() if k in EMBEDDING_SCORERS}
        if not embedded:
            return combine(evs, weights)
        if cfg.neural_combination == "mean":
            w = {k: (v * reliability.get(k, 1.0) if k in EMBEDDING_SCORERS else v) for k, v in weights.items()}
            return combine(evs, w)
        if not any(k not in EMBEDDING_SCORERS for k in cfg.scorers):
            return max(e.score for e in embedded.values())  # embeddings alone: their own score
        symbolic = {k: e for k, e in evs.items() if k not in EMBEDDING_SCORERS}
        base = combine(symbolic, weights) if symbolic else 0.0
        conf = base
        mutual = set(mutual)
        for k, e in embedded.items():
            r = reliability.get(k, 1.0)
            if r < cfg.min_reliability:
                continue  # not reliable on this pair: no say at all
            # a nudge only for pairs the embedding itself picks (each other's best in it): measured,
            # nudging every pair lifted borderline lexical false positives
            if base > 0.0 and cfg.neural_boost and k in mutual:
                conf += cfg.neural_boost * r * (e.score - 0.5)
            # Where the words say nothing, a reliable embedding may carry the pair alone, if it is sure;
            # it never overrides the lexical scorer's rejection of a pair it did judge (measured: on
            # Conference, dense overriding partial lexical matches added 14 pairs, none correct).
            # The bar is the higher of ``neural_only_threshold`` and the ceiling measured on this pair
            # (how high targets sharing no word with an anchor's source score in this space; the
            # older ceiling of the anchors' best wrong candidates when that could not be measured).
            lexical = evs.get("lexical")
            floor = max(cfg.neural_only_threshold, ceiling.get(k, 0.0))
            if k in mutual and (lexical is None or lexical.score == 0.0) and r * e.score >= floor:
                # it enters just above the threshold (ranked by its score), so in the one-to-one
                # selection it only fills a gap the symbolic evidence left
                conf = max(conf, min(1.0, cfg.threshold(cat) + 0.01 * r * e.score))
        return min(1.0, max(0.0, conf))

    def match_views(
        self,
        source: OntologyView,
        target: OntologyView,
        *,
        workspace: Workspace | None = None,
        cache: dict[str, Any] | None = None,
        input_alignment: Alignment | None = None,
    ) -> Alignment:
        """The whole pipeline on two prepared views.

        ``input_alignment`` (MELT's input alignment): its "=" mappings between symbols of the
        two views are kept as fixed anchors — in the output whatever their score, never
        dropped by the repair, their symbols taken out of the one-to-one competition, and
        counted as certain by the structural scorer.
        """
        cfg = self.config
        t0 = time.perf_counter()
        excluded: dict[str, object] = {}
        if cfg.exclude_imported:
            source, target = source.without_imported(), target.without_imported()
            excluded = {v.graph: v.excluded_summary() for v in (source, target) if v.excluded}
        context = MatchContext(source=source, target=target, config=cfg, workspace=workspace, cache=dict(cache or {}))
        anchors = self._anchors(input_alignment, source, target)
        context.cache["anchors"] = {m.pair for m in anchors}
        scored = self.candidates(context)
        t_score = time.perf_counter()
        above = [m for m in scored if m.confidence >= cfg.threshold(m.category) and m.category in cfg.categories]
        taken_s = {m.subject for m in anchors}
        taken_o = {m.object for m in anchors}
        rejected: list[tuple[MappingCandidate, str]] = [
            (m, "one-to-one: the input alignment maps this symbol")
            for m in above
            if (m.subject in taken_s or m.object in taken_o) and m.pair not in context.cache["anchors"]
        ]
        above = [m for m in above if m.subject not in taken_s and m.object not in taken_o]
        selected, dropped = select_one_to_one(above, cfg.selection)
        t_select = time.perf_counter()
        rejected += dropped
        timings: dict[str, float] = dict(context.cache.get("timings", {}))
        if cfg.repair:
            selected, bad = repair(selected, source, target, cfg.repair_checks, fixed=anchors,
                                 rule=cfg.repair_rule)
            rejected += bad
        selected = [*anchors, *selected]
        t_repair = time.perf_counter()
        if cfg.hermit:
            if workspace is None:
                raise ConfigError("hermit repair needs a workspace (the ontologies are read from its store)")
            from kgalign.align.select import hermit_repair

            selected, bad, info = hermit_repair(selected, workspace, source.graph, target.graph)
            rejected += bad
            timings.update({k: round(v, 4) for k, v in info.items()})
        selected.sort(key=lambda m: (-m.confidence, m.subject, m.object))
        stage(cfg, f"{len(above)} pairs above the thresholds, {len(selected)} kept after one-to-one selection"
                   + (" and repair" if cfg.repair else "") + f"; {time.perf_counter() - t0:.1f} s in all")
        timings.update(
            score=round(t_score - t0, 4),
            select=round(t_select - t_score, 4),
            repair=round(t_repair - t_select, 4),
            total=round(time.perf_counter() - t0, 4),
        )
        return Alignment(
            source_graph=source.graph,
            target_graph=target.graph,
            mappings=selected,
            rejected=rejected,
            metadata={
                "matcher": "kgalign",
                "config": cfg.to_dict(),
                "excluded": excluded,
                "reliability": context.cache.get("reliability", {}),
                "reliability_auc": context.cache.get("reliability_auc", {}),
                "embedding_ceiling": context.cache.get("embedding_ceiling", {}),
                "embedding_unrelated_ceiling": context.cache.get("embedding_unrelated_ceiling", {}),
                "timings": timings,
                "counts": {
                    "scored_pairs": len(scored),
                    "above_threshold": len(above),
                    "selected": len(selected),
                    "rejected": len(rejected),
                },
            },
        )


def _anchor_list(input_alignment: Alignment | None, source: OntologyView, target: OntologyView) -> list[MappingCandidate]:
    if input_alignment is None:
        return []
    out = []
    for m in input_alignment:
        a, b = source.symbols.get(m.subject), target.symbols.get(m.object)
        if m.relation != "=" or a is None or b is None:
            continue
        ev = m.evidence or (Evidence("external", m.confidence, "given in the input alignment"),)
        out.append(replace(m, subject_graph=source.graph, object_graph=target.graph, evidence=ev,
                           subject_label=a.label, object_label=b.label, category=category(a.kind)))
    return out


def _mutual_best(scored: dict[Pair, dict[str, Evidence]], kinds: Sequence[str]) -> dict[Pair, tuple[str, ...]]:
    """Pair -> the embedding kinds in which its two symbols are each other's best candidate."""
    out: dict[Pair, list[str]] = defaultdict(list)
    for k in kinds:
        best_s: dict[str, tuple[float, str]] = {}
        best_t: dict[str, tuple[float, str]] = {}
        for (a, b), evs in scored.items():
            e = evs.get(k)
            if e is None:
                continue
            if e.score > best_s.get(a, (-1.0, ""))[0]:
                best_s[a] = (e.score, b)
            if e.score > best_t.get(b, (-1.0, ""))[0]:
                best_t[b] = (e.score, a)
        for a, (_, b) in best_s.items():
            if best_t.get(b, (0.0, ""))[1] == a:
                out[(a, b)].append(k)
    return {p: tuple(ks) for p, ks in out.items()}


def _same_category(pair: Pair, context: MatchContext) -> bool:
    a = context.source.symbols.get(pair[0])
    b = context.target.symbols.get(pair[1])
    return a is not None and b is not None and category(a.kind) == category(b.kind) != "individual"


def _ontology_iri(ws: Workspace, graph: str) -> str:
    from kgalign.symbolic.store import escape_iri
    from kgalign.symbolic.vocab import OWL, graph_iri

    rows = ws.store.query(
        f"SELECT ?o WHERE {{ GRAPH <{escape_iri(graph_iri(graph))}> {{ ?o a <{OWL}Ontology> FILTER(isIRI(?o)) }} }} LIMIT 1"
    )
    for r in rows:
        return r["o"].value
    return ""


def match(
    ws: Workspace, source_graph: str, target_graph: str, config: MatcherConfig | None = None
) -> Alignment:
    """Shortcut for ``Matcher(config).match(ws, source_graph, target_graph)``."""
    return Matcher(config).match(ws, source_graph, target_graph)


def match_all(
    ws: Workspace, graphs: Sequence[str], config: MatcherConfig | None = None
) -> list[Alignment]:
    """Every pair of ``graphs`` (in the given order: first with later ones)."""
    m = Matcher(config)
    return [m.match(ws, a, b) for i, a in enumerate(graphs) for b in graphs[i + 1:]]
