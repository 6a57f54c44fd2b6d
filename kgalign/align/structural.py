"""Structural evidence: do the neighbours of two symbols match too?

Each ontology becomes a networkx multigraph (:func:`ontology_graph`): an edge per
subclass/subproperty link, per ``rdfs:domain`` and ``rdfs:range`` (union members
included), per ``owl:inverseOf`` and per restriction on a property. For a candidate
pair the scorer compares the pair's neighbourhoods relation by relation —

====================  =================================  ==============
relation              class pair                          property pair
====================  =================================  ==============
``parent``            direct superclasses                 superproperties
``child``             direct subclasses                   subproperties
``domain``            properties whose domain it is       domain classes
``range``             properties whose range it is        range classes
``inverse``           –                                   inverse properties
``filler``            classes its restrictions point to   –
``part_of``           fillers of part-of restrictions      –
``has_part``          fillers of has-part restrictions     –
====================  =================================  ==============

— scoring each relation by how well its neighbours match under the current pair
similarities (best match per neighbour, averaged over the neighbours) and averaging
the relations both sides have. Two data properties' equal datatype ranges (string / string) are
no evidence — nearly every data property has one — so only their domains are judged. This is similarity flooding kept short: ``rounds``
rounds, the first over the earlier scorers' combined scores, each later one over the
scores updated by the round before.

The scorer also proposes property pairs no word links, when the two properties'
domains and ranges match well and no other property of either ontology has that
same domain and range ("hasAuthor" on Paper→Author / "isWrittenBy" on Paper→Author).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import networkx as nx

from kgalign.align.candidates import Evidence, Pair
from kgalign.align.ontology import OntologyView, category
from kgalign.align.scoring import MatchContext, progress
from kgalign.align.select import combine

CLASS_RELATIONS = {"ancestor": 1.0, "child": 0.5, "domain": 0.5, "range": 0.5, "part_of": 1.0, "has_part": 0.5,
                   "filler": 0.5}
#: restricted properties read as part-of / has-part (by name, or the OBO Relation Ontology IRIs)
PART_OF = re.compile(r"(^|[^a-z])part_?of($|[^a-z])|partof|BFO_0000050", re.IGNORECASE)
HAS_PART = re.compile(r"has_?part|haspart|BFO_0000051", re.IGNORECASE)
PROPERTY_RELATIONS = {"domain": 1.0, "range": 1.0, "parent": 0.5, "child": 0.25, "inverse": 0.25}


def ontology_graph(view: OntologyView) -> nx.MultiDiGraph:
    """The ontology as a labelled multigraph: nodes are IRIs, each edge has a ``rel`` attribute
    (``subClassOf``, ``subPropertyOf``, ``domain``, ``range``, ``inverseOf``, ``restriction``)."""
    g = nx.MultiDiGraph(name=view.graph)
    for s in view.symbols.values():
        g.add_node(s.iri, kind=s.kind, label=s.label, category=category(s.kind))
    for s in view.symbols.values():
        cat = category(s.kind)
        for p in s.parents:
            g.add_edge(s.iri, p, rel="subClassOf" if cat == "class" else "subPropertyOf")
    for p, cs in view.domains.items():
        for c in cs:
            g.add_edge(p, c, rel="domain")
    for p, cs in view.ranges.items():
        for c in cs:
            g.add_edge(p, c, rel="range")
    for p, qs in view.inverse.items():
        for q in qs:
            g.add_edge(p, q, rel="inverseOf")
    for c, rs in view.restrictions.items():
        for prop, filler in rs:
            g.add_edge(c, prop, rel="restriction", filler=filler)
    return g


@dataclass(frozen=True)
class Neighbourhood:
    """The neighbours of every symbol of one view, by relation name, plus each class's
    *family* (direct parents and children), used to let a property's domain ``Contribution``
    meet a domain ``Paper`` one level down."""

    by_symbol: dict[str, dict[str, tuple[str, ...]]]
    family: dict[str, tuple[str, ...]]
    #: property -> how many properties of its ontology share its exact domain and range
    signature_count: dict[str, int]

    @classmethod
    def of(cls, view: OntologyView) -> Neighbourhood:
        g = ontology_graph(view)
        out: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        family: dict[str, list[str]] = defaultdict(list)
        for u, v, data in g.edges(data=True):
            rel = data["rel"]
            if rel in ("subClassOf", "subPropertyOf"):
                if v in view.symbols:
                    out[u]["parent"].append(v)
                    out[v]["child"].append(u)
                    family[u].append(v)
                    family[v].append(u)
            elif rel in ("domain", "range"):
                out[u][rel].append(v)  # property -> its domain/range classes (or datatypes)
                out[v][rel].append(u)  # class -> properties having it as domain/range
            elif rel == "inverseOf":
                out[u]["inverse"].append(v)
            elif rel == "restriction":
                # the filler is what a restriction says about the class: "part of: Heart"
                filler = data.get("filler")
                if filler is None:
                    continue
                out[u]["filler"].append(filler)
                name = v.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
                prop = view.symbols.get(v)
                label = prop.label if prop is not None else name
                if PART_OF.search(name) or PART_OF.search(label.replace(" ", "_")):
                    out[u]["part_of"].append(filler)
                elif HAS_PART.search(name) or HAS_PART.search(label.replace(" ", "_")):
                    out[u]["has_part"].append(filler)
        for iri, sym in view.symbols.items():
            if category(sym.kind) == "class":
                anc = sorted(view.ancestors(iri))
                if anc:
                    out[iri]["ancestor"] = anc
        sigs = {
            p: (frozenset(view.domain_of(p)), frozenset(view.range_of(p)))
            for p, sym in view.symbols.items()
            if category(sym.kind) == "property"
        }
        counts: dict[tuple, int] = defaultdict(int)
        for sig in sigs.values():
            counts[sig] += 1
        return cls(
            {s: {r: tuple(dict.fromkeys(ns)) for r, ns in rels.items()} for s, rels in out.items()},
            {s: tuple(dict.fromkeys(fs)) for s, fs in family.items()},
            {p: counts[sig] for p, sig in sigs.items()},
        )

    def get(self, iri: str, rel: str) -> tuple[str, ...]:
        return self.by_symbol.get(iri, {}).get(rel, ())


def _agreement(
    na: tuple[str, ...],
    nb: tuple[str, ...],
    sim: Mapping[Pair, float],
    lenient: bool,
    family: tuple[Neighbourhood, Neighbourhood] | None = None,
) -> tuple[float, list[tuple[str, str, float]]]:
    """How well two neighbour sets match: mean best-match similarity, both directions.

    ``lenient`` (for open-ended sets like children or ancestors) takes the better
    direction instead of the mean of both, so a coarse ontology is not punished for
    having fewer. With ``family``, a neighbour may also meet the other's parent or child
    at :data:`FAMILY_FACTOR` of the similarity.
    """

    def s(x: str, y: str) -> float:
        if x == y:
            return 1.0  # shared IRIs: datatypes, owl:Thing, imported terms
        v = sim.get((x, y), 0.0)
        if family is not None and v < 1.0:
            fa, fb = family
            for y2 in fb.family.get(y, ()):
                v = max(v, FAMILY_FACTOR * sim.get((x, y2), 0.0))
            for x2 in fa.family.get(x, ()):
                v = max(v, FAMILY_FACTOR * sim.get((x2, y), 0.0))
        return v

    best_a = [max(((s(x, y), y) for y in nb), default=(0.0, "")) for x in na]
    best_b = [max(((s(x, y), x) for x in na), default=(0.0, "")) for y in nb]
    da = sum(v for v, _ in best_a) / len(na)
    db = sum(v for v, _ in best_b) / len(nb)
    score = max(da, db) if lenient else (da + db) / 2
    matched = [(x, y, v) for x, (v, y) in zip(na, best_a, strict=True) if v > 0]
    return score, matched


#: how much a match one level up or down the hierarchy counts, for a property's domain and range
FAMILY_FACTOR = 0.8


class StructuralScorer:
    """Agreement of parents, children, domains, ranges and inverses, over ``rounds`` rounds."""

    name = "structural"
    kind = "structural"

    def __init__(self, config: object = None) -> None:
        self.config = config
        self.rounds = int(getattr(config, "structural_rounds", 2))
        self.propose_properties = bool(getattr(config, "structural_proposals", True))
        self.proposal_floor = float(getattr(config, "structural_proposal_floor", 0.9))
        self.specificity = bool(getattr(config, "structural_specificity", False))
        self.datatype_ranges_uninformative = not bool(getattr(config, "datatype_range_evidence", False))

    # -- neighbourhoods --------------------------------------------------------------------

    @staticmethod
    def _hoods(context: MatchContext) -> tuple[Neighbourhood, Neighbourhood]:
        hit = context.cache.get("neighbourhoods")
        if hit is None:
            hit = (Neighbourhood.of(context.source), Neighbourhood.of(context.target))
            context.cache["neighbourhoods"] = hit
        return hit

    def _seed(self, context: MatchContext) -> dict[Pair, float]:
        """Combined scores of the scorers that ran before this one."""
        out: dict[Pair, float] = {}
        by_pair: dict[Pair, dict[str, Evidence]] = defaultdict(dict)
        for scorer, ev in context.evidence.items():
            if scorer == self.name:
                continue
            for pair, e in ev.items():
                by_pair[pair][scorer] = e
        for pair, evs in by_pair.items():
            out[pair] = combine(evs, _weights(self.config, context.category_of(pair)))
        for pair in context.cache.get("anchors", ()):
            out[pair] = 1.0  # mappings given as input are certain
        return out

    # -- proposing -------------------------------------------------------------------------

    def propose(self, context: MatchContext) -> set[Pair]:
        if not self.propose_properties:
            return set()
        seed = self._seed(context)
        src, tgt = context.source, context.target

        def signature(view: OntologyView, p: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
            d, r = view.domain_of(p), view.range_of(p)
            return (d, r) if len(d) == 1 and len(r) == 1 else None

        def best(view_a: OntologyView, x: str, view_b: OntologyView, y: str) -> float:
            if x == y:
                return 1.0
            return seed.get((x, y), 0.0)

        src_props = {p.iri: signature(src, p.iri) for p in src.of_category("property")}
        tgt_props = {p.iri: signature(tgt, p.iri) for p in tgt.of_category("property")}
        src_count: dict[tuple, int] = defaultdict(int)
        tgt_count: dict[tuple, int] = defaultdict(int)
        for sig in src_props.values():
            if sig:
                src_count[sig] += 1
        for sig in tgt_props.values():
            if sig:
                tgt_count[sig] += 1
        out: set[Pair] = set()
        for p, sp in src_props.items():
            if sp is None or src_count[sp] != 1:
                continue
            for q, sq in tgt_props.items():
                if sq is None or tgt_count[sq] != 1:
                    continue
                if (best(src, sp[0][0], tgt, sq[0][0]) >= self.proposal_floor
                        and best(src, sp[1][0], tgt, sq[1][0]) >= self.proposal_floor):
                    out.add((p, q))
        return out

    # -- scoring ---------------------------------------------------------------------------

    def score(self, pairs: Collection[Pair], context: MatchContext) -> dict[Pair, Evidence]:
        ha, hb = self._hoods(context)
        base = self._seed(context)
        sim = dict(base)
        prev_evidence: dict[str, dict[Pair, Evidence]] = {}
        out: dict[Pair, Evidence] = {}
        for r in range(max(self.rounds, 1)):
            out = {}
            for pair in progress(pairs, self.config, f"structural round {r + 1}"):
                ev = self._score_pair(pair, context, ha, hb, sim)
                if ev is not None:
                    out[pair] = ev
            # the next round's similarities: earlier scorers' evidence plus this round's
            prev_evidence = {k: v for k, v in context.evidence.items() if k != self.name}
            prev_evidence[self.name] = out
            sim = {}
            by_pair: dict[Pair, dict[str, Evidence]] = defaultdict(dict)
            for scorer, ev in prev_evidence.items():
                for pair, e in ev.items():
                    by_pair[pair][scorer] = e
            for pair, evs in by_pair.items():
                sim[pair] = combine(evs, _weights(self.config, context.category_of(pair)))
            for pair in context.cache.get("anchors", ()):
                sim[pair] = 1.0
        return out

    def _score_pair(
        self,
        pair: Pair,
        context: MatchContext,
        ha: Neighbourhood,
        hb: Neighbourhood,
        sim: Mapping[Pair, float],
    ) -> Evidence | None:
        a, b = pair
        sa = context.source.symbols.get(a)
        if sa is None or b not in context.target.symbols:
            return None
        rels = CLASS_RELATIONS if category(sa.kind) == "class" else PROPERTY_RELATIONS
        num = den = 0.0
        parts: list[str] = []
        items: list[str] = []
        for rel, w in rels.items():
            na, nb = ha.get(a, rel), hb.get(b, rel)
            if not na or not nb:
                continue
            if rel == "range" and self.datatype_ranges_uninformative and set(na) == set(nb) and all(
                x not in context.source.symbols for x in na
            ):
                continue  # both say "a string": nearly every data property does, so it is no evidence
            is_class = category(sa.kind) == "class"
            agree, matched = _agreement(
                na, nb, sim, lenient=is_class, family=(ha, hb) if not is_class and rel in ("domain", "range") else None
            )
            num += w * agree
            den += w
            parts.append(f"{rel} {agree:.2f}")
            for x, y, v in sorted(matched, key=lambda t: -t[2])[:3]:
                items.append(f"{rel}: {_label(context.source, x)} ~ {_label(context.target, y)} ({v:.2f})")
        if den == 0:
            return None
        score = num / den
        detail = "neighbours agree: " + ", ".join(parts)
        if self.specificity and category(sa.kind) == "property":
            n = max(ha.signature_count.get(a, 1), hb.signature_count.get(b, 1))
            if n > 1:
                score /= math.sqrt(n)
                detail += f"; {n} properties share that domain and range (score / sqrt({n}))"
        return Evidence("structural", round(score, 4), detail, tuple(items))


def _weights(config: object, cat: str) -> dict[str, float]:
    if hasattr(config, "weights_for"):
        return config.weights_for(cat)  # type: ignore[no-any-return, attr-defined]
    return {"lexical": 1.0, "structural": 0.25}


def _label(view: OntologyView, iri: str) -> str:
    s = view.symbols.get(iri)
    if s is not None:
        return s.label
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


# -- context words and qualifiers ------------------------------------------------------------------

#: qualifier words and their opposites: a name with one of them names a part or a kind, not the whole
QUALIFIER_PAIRS = (
    ("left", "right"), ("upper", "lower"), ("anterior", "posterior"), ("superior", "inferior"),
    ("medial", "lateral"), ("dorsal", "ventral"), ("internal", "external"), ("proximal", "distal"),
    ("inner", "outer"), ("major", "minor"), ("greater", "lesser"), ("male", "female"), ("early", "late"),
    ("cranial", "caudal"), ("afferent", "efferent"), ("central", "peripheral"), ("deep", "superficial"),
)

#: more qualifiers for property names, where an ordinal names a different value ("has first name" is
#: not "name"); for class names they cost the WordNet pair a little (measured: .711 -> .710)
PROPERTY_QUALIFIER_PAIRS = (("first", "last"),)


class ContextWords:
    """The words around a class: the names of its ancestors and of the fillers of its (and its
    ancestors') restrictions — "heart" for a Right_Ventricle that is part of Heart. Used to
    check a name's extra words and qualifiers against the other side's structure."""

    def __init__(self, view: OntologyView, lex: object) -> None:
        self.view = view
        self.lex = lex
        self._cache: dict[str, frozenset[str]] = {}
        self._explains: dict[tuple[str, str], bool] = {}
        def opposites(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
            out: dict[str, str] = {}
            for x, y in pairs:
                for a, b in ((x, y), (y, x)):
                    out[a] = b
                    out[lex.lemma(a)] = lex.lemma(b)  # type: ignore[attr-defined]
            return out

        self.opposite = opposites(QUALIFIER_PAIRS)
        self.property_opposite = opposites(QUALIFIER_PAIRS + PROPERTY_QUALIFIER_PAIRS)

    def explains(self, iri: str, token: str) -> bool:
        """Whether a word around ``iri`` is ``token`` or near-equal to it (cached)."""
        key = (iri, token)
        hit = self._explains.get(key)
        if hit is None:
            around = self.words(iri)
            hit = token in around or any(self.lex.token_similarity(token, u)[0] > 0 for u in around)  # type: ignore[attr-defined]
            self._explains[key] = hit
        return hit

    def words(self, iri: str) -> frozenset[str]:
        hit = self._cache.get(iri)
        if hit is not None:
            return hit
        around = set(self.view.ancestors(iri))
        for c in (iri, *around):
            for _prop, filler in self.view.restrictions.get(c, ()):
                if filler is not None:
                    around.add(filler)
        out: set[str] = set()
        for c in around:
            for nm in self.lex.names(c):  # type: ignore[attr-defined]
                out.update(nm.tokens)
        hit = self._cache[iri] = frozenset(out)
        return hit


def check_context(
    lex: object, na: object, nb: object, a: str, b: str, ctx_a: ContextWords, ctx_b: ContextWords,
    score: float, penalty: float, *, prop: bool = False,
) -> tuple[float, str]:
    """Adjust a class pair's lexical score by the other side's context: words of one name that
    the other class's ancestors or restriction fillers name explain it ("heart right ventricle"
    ~ Right_Ventricle part of Heart); a qualifier (left/right...) one name has and the other
    lacks costs ``penalty``, and an opposite qualifier costs ``penalty`` squared; with ``prop`` (property
    names) :data:`PROPERTY_QUALIFIER_PAIRS` count as qualifiers too."""
    from kgalign.align.lexical import SAME_TOKENS

    note = ""
    ta, tb = set(na.tokens), set(nb.tokens)  # type: ignore[attr-defined]
    opp = ctx_a.property_opposite if prop else ctx_a.opposite
    qa = {t for t in ta if t in opp}
    qb = {t for t in tb if t in opp}
    if any(opp[q] in qb for q in qa):
        return score * penalty * penalty, "; opposite qualifiers " + "/".join(sorted(qa | qb))
    best = score
    for x_names, y_names, extra_side, ctx, other in (
        (na, nb, ta - tb, ctx_b, b),
        (nb, na, tb - ta, ctx_a, a),
    ):
        extra = {t for t in extra_side if not any(lex.token_similarity(t, u)[0] > 0 for u in y_names.tokens)}  # type: ignore[attr-defined]
        if not extra:
            continue
        around = ctx.words(other)
        quals = {t for t in extra if t in opp}
        if any(opp[q] in around for q in quals):
            return score * penalty * penalty, f"; qualifier {'/'.join(sorted(quals))} contradicts the context"
        unexplained = {t for t in extra if not ctx.explains(other, t)}
        if unexplained & quals:
            best = min(best, score * penalty)
            note = f"; qualifier {'/'.join(sorted(unexplained & quals))} not on the other side"
            continue
        if not unexplained:
            rest = [t for t in x_names.tokens if t not in extra]  # type: ignore[attr-defined]
            s2, _ = lex.soft_tfidf(rest, y_names.tokens)  # type: ignore[attr-defined]
            if rest and sorted(rest) == sorted(y_names.tokens):  # type: ignore[attr-defined]
                s2 = SAME_TOKENS
            s2 *= 0.95
            if s2 > best:
                best = s2
                note = f"; {' '.join(sorted(extra))!r} named by the other class's ancestors or restrictions"
    return best, note
