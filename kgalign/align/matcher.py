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
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from kgalign.align.candidates import Alignment, Evidence, MappingCandidate, Pair
from kgalign.align.ontology import OntologyView, category
from kgalign.align.scoring import SCORERS, MatchContext, make_scorer
from kgalign.align.select import REPAIR_CHECKS, SELECTIONS, combine, repair, select_one_to_one
from kgalign.errors import ConfigError
from kgalign.symbolic.symbols import Symbol

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

CATEGORIES = ("class", "property")


NEURAL_COMBINATIONS = ("mean", "support")


@dataclass(frozen=True)
class MatcherConfig:
    """How the matcher runs. Every field is validated; unknown names list the known ones.

    The defaults are hand-set (no learning from reference alignments); see
    ``benchmarks/oaei_conference.py`` for what they give on the OAEI Conference track.
    """

    #: scorers in the order they run (each sees the evidence of those before it)
    scorers: tuple[str, ...] = ("lexical", "structural")
    #: weight of each scorer in the confidence (weighted mean over the scorers that judged a pair)
    weights: dict[str, float] = field(
        default_factory=lambda: {"lexical": 1.0, "structural": 0.1, "neural": 0.5}
    )
    #: weights for property pairs, where the neighbours (domain, range) say more than the words;
    #: None = the same as ``weights``
    property_weights: dict[str, float] | None = field(
        default_factory=lambda: {"lexical": 1.0, "structural": 2.0, "neural": 0.5}
    )
    #: minimum confidence of a kept class mapping / property mapping
    class_threshold: float = 0.75
    property_threshold: float = 0.8
    #: what may be mapped to what (class to class, property to property)
    categories: tuple[str, ...] = CATEGORIES
    #: one-to-one selection: ``greedy``, ``hungarian`` or ``none``
    selection: str = "greedy"
    #: run the cheap logical repair, with these checks
    repair: bool = True
    repair_checks: tuple[str, ...] = REPAIR_CHECKS
    #: also run HermiT (owlready2, Java) on the merged ontologies; needs a workspace
    hermit: bool = False
    # -- lexical
    lexical_floor: float = 0.0
    head_match: bool = True
    use_wordnet: bool = True
    synonym_score: float = 0.9
    # -- structural
    structural_rounds: int = 2
    structural_proposals: bool = True
    structural_proposal_floor: float = 0.9
    #: divide a property pair's structural score by sqrt(n) when n properties share its domain and range
    structural_specificity: bool = False
    # -- neural (concept vectors of the workspace's SAE; see kgalign.align.neural)
    neural_neighbours: int = 3
    neural_proposal_floor: float = 0.5
    #: how neural evidence enters the confidence: ``mean`` (one more term of the weighted mean)
    #: or ``support`` (it nudges the symbolic confidence by ``neural_boost`` × (score − 0.5), and a
    #: pair with no symbolic evidence needs a neural score of ``neural_only_threshold`` on its own)
    neural_combination: str = "support"
    neural_boost: float = 0.1
    neural_only_threshold: float = 0.9

    def __post_init__(self) -> None:
        for name in self.scorers:
            if name not in SCORERS:
                known = ", ".join(sorted(SCORERS))
                raise ConfigError(f"unknown scorer {name!r}; known scorers: {known}")
        if len(set(self.scorers)) != len(self.scorers):
            raise ConfigError("a scorer is listed twice in 'scorers'")
        for name, w in (*self.weights.items(), *(self.property_weights or {}).items()):
            if w < 0:
                raise ConfigError(f"weight of {name!r} is negative ({w}); weights are >= 0")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"unknown selection {self.selection!r}; known selections: {', '.join(SELECTIONS)}")
        for c in self.categories:
            if c not in CATEGORIES:
                raise ConfigError(f"unknown category {c!r}; known categories: {', '.join(CATEGORIES)}")
        for c in self.repair_checks:
            if c not in REPAIR_CHECKS:
                raise ConfigError(f"unknown repair check {c!r}; known checks: {', '.join(REPAIR_CHECKS)}")
        for t in ("class_threshold", "property_threshold", "lexical_floor", "structural_proposal_floor",
                  "neural_proposal_floor"):
            v = getattr(self, t)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{t} must be between 0 and 1, not {v}")
        if self.neural_combination not in NEURAL_COMBINATIONS:
            raise ConfigError(
                f"unknown neural_combination {self.neural_combination!r}; known: {', '.join(NEURAL_COMBINATIONS)}"
            )
        if self.structural_rounds < 1:
            raise ConfigError("structural_rounds must be at least 1")

    def with_(self, **changes: Any) -> MatcherConfig:
        """A copy with some fields changed (validated again)."""
        known = {f.name for f in fields(self)}
        for k in changes:
            if k not in known:
                raise ConfigError(f"unknown matcher setting {k!r}; known settings: {', '.join(sorted(known))}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def weights_for(self, cat: str) -> dict[str, float]:
        """The scorer weights for pairs of category ``cat``."""
        if cat == "property" and self.property_weights is not None:
            return self.property_weights
        return self.weights

    def threshold(self, cat: str) -> float:
        return self.class_threshold if cat == "class" else self.property_threshold


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
        for (a, b), evs in self.score(context).items():
            sa, sb = context.source.symbols[a], context.target.symbols[b]
            conf = self._confidence(evs, category(sa.kind))
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

    def _confidence(self, evs: dict[str, Evidence], cat: str) -> float:
        cfg = self.config
        weights = cfg.weights_for(cat)
        neural = evs.get("neural")
        if neural is None or cfg.neural_combination == "mean":
            return combine(evs, weights)
        symbolic = {k: e for k, e in evs.items() if k != "neural"}
        base = combine(symbolic, weights) if symbolic else 0.0
        nudged = min(1.0, max(0.0, base + cfg.neural_boost * (neural.score - 0.5))) if base > 0.0 else 0.0
        # Where the words say little, the concept space may carry the pair alone, if it is sure.
        alone = neural.score * cfg.threshold(cat) / cfg.neural_only_threshold
        return max(nudged, alone)

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
            selected, bad = repair(selected, source, target, cfg.repair_checks, fixed=anchors)
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
