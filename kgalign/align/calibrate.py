"""Calibration without references: what a true mapping looks like on *this* pair of artefacts.

As LogMap and AML do, the matcher first takes *anchors*: pairs whose lexical evidence is
near-certain (same label up to case and spacing, or an exact synonym) and unambiguous (each
symbol has exactly one such partner). Nothing here reads a reference alignment.

:func:`measure_reliability` then asks of each embedding evidence kind (the SAE concept vectors,
the dense sentence embeddings): on this pair, how often does it rank an anchor's partner above
the other candidates of the same symbol (the pairs the scorers proposed for it, the hard
negatives, plus a few random ones)? The answer, rescaled so that chance is 0 and always is 1,
is the weight the matcher gives that evidence — a space that does not separate true pairs from
near misses on these two artefacts gets no say (below ``min_reliability``, none at all). The
AUC of anchors against random pairs is recorded beside it (``context.cache["reliability_auc"]``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from kgalign.align.candidates import Pair
from kgalign.align.ontology import category
from kgalign.align.scoring import MatchContext, make_scorer

#: lexical score of an anchor (same label up to spacing, or an exact synonym)
ANCHOR_SCORE = 0.98
#: at most this many anchors are measured (a seeded sample beyond)
MAX_ANCHORS = 400
#: random extra negatives per anchor
RANDOM_NEGATIVES = 3
#: quantile of the anchors' best wrong candidates an embedding must beat to carry a pair alone
CEILING_QUANTILE = 0.9
#: fewer anchors than this: nothing to measure on (tiny artefacts), the evidence keeps full weight
MIN_ANCHORS = 5
#: the unrelated ceiling: at most this many anchors, each against at most this many targets
UNRELATED_ANCHORS = 100
UNRELATED_TARGETS = 300


def anchors(context: MatchContext) -> list[Pair]:
    """Near-certain, unambiguous lexical pairs of the context (needs the lexical evidence)."""
    lex = context.evidence.get("lexical", {})
    strong = [p for p, e in lex.items() if e.score >= ANCHOR_SCORE]
    n_s: dict[str, int] = defaultdict(int)
    n_t: dict[str, int] = defaultdict(int)
    for a, b in strong:
        n_s[a] += 1
        n_t[b] += 1
    return sorted(p for p in strong if n_s[p[0]] == 1 and n_t[p[1]] == 1)


def measure_reliability(context: MatchContext, kinds: Sequence[str], seed: int = 0) -> dict[str, float]:
    """Kind -> weight in [0, 1]: ``(hits@1 − chance) / (1 − chance)`` over the anchors, where a hit
    is the anchor's partner scoring above every other candidate of its source symbol."""
    anc = anchors(context)
    rng = random.Random(seed)
    if len(anc) > MAX_ANCHORS:
        anc = sorted(rng.sample(anc, MAX_ANCHORS))
    out: dict[str, float] = {}
    by_source: dict[str, set[str]] = defaultdict(set)
    for ev in context.evidence.values():
        for a, b in ev:
            by_source[a].add(b)
    targets = sorted(context.target.symbols)
    groups: list[tuple[Pair, list[Pair]]] = []
    randoms: list[Pair] = []
    for a, b in anc:
        negs = {x for x in by_source.get(a, ()) if x != b}
        cat = context.category_of((a, b))
        pool = [t for t in rng.sample(targets, min(len(targets), 4 * RANDOM_NEGATIVES))
                if t != b and context.category_of((a, t)) == cat]
        negs.update(pool[:RANDOM_NEGATIVES])
        randoms.extend((a, x) for x in pool[:RANDOM_NEGATIVES])
        if negs:
            groups.append(((a, b), sorted((a, x) for x in negs)))
    auc = context.cache.setdefault("reliability_auc", {})
    ceiling = context.cache.setdefault("embedding_ceiling", {})
    for kind in kinds:
        if len(groups) < MIN_ANCHORS:
            out[kind] = 1.0
            continue
        scorer = make_scorer(kind, context.config)
        pairs = {p for pos, negs in groups for p in (pos, *negs)}
        ev = scorer.score(pairs, context)
        hits = 0.0
        chance = 0.0
        runner_up: list[float] = []
        for pos, negs in groups:
            s = ev[pos].score if pos in ev else 0.0
            others = [ev[n].score if n in ev else 0.0 for n in negs]
            hits += 1.0 if s > max(others) else 0.0
            chance += 1.0 / (len(negs) + 1)
            runner_up.append(max(others))
        # how high a wrong pair scores next to a true one in this space, on this pair: the
        # CEILING_QUANTILE of the anchors' best wrong candidates; carrying a pair alone needs more
        runner_up.sort()
        ceiling[kind] = round(runner_up[min(len(runner_up) - 1, int(CEILING_QUANTILE * len(runner_up)))], 4)
        hits /= len(groups)
        chance /= len(groups)
        # AUC: how often an anchor scores above a random pair of the same category (ties count half)
        pos = [ev[p].score if p in ev else 0.0 for p, _ in groups]
        neg = [ev[p].score if p in ev else 0.0 for p in randoms]
        if pos and neg:
            wins = sum((x > y) + 0.5 * (x == y) for x in pos for y in neg)
            auc[kind] = round(wins / (len(pos) * len(neg)), 4)
        out[kind] = round(max(0.0, (hits - chance) / (1.0 - chance)), 4) if chance < 1 else 0.0
    _unrelated_ceiling(context, kinds, anc, seed)
    return out


def _unrelated_ceiling(context: MatchContext, kinds: Sequence[str], anc: list[Pair], seed: int) -> None:
    """How high a target whose names share no word with the source symbol scores in each
    embedding, on this pair: for a sample of anchors, the best score among a sample of
    same-category targets sharing no word with the anchor's source (its partner left out);
    the :data:`CEILING_QUANTILE` of those, in ``context.cache["embedding_unrelated_ceiling"]``.
    A pair the words do not link at all must beat it to be carried by the embedding alone."""
    out = context.cache.setdefault("embedding_unrelated_ceiling", {})
    lex = context.cache.get("lexicon")
    if lex is None or len(anc) < MIN_ANCHORS:
        return
    rng = random.Random(seed + 1)
    sample = sorted(rng.sample(anc, min(len(anc), UNRELATED_ANCHORS)))
    by_cat: dict[str, list[str]] = defaultdict(list)
    for t, sym in sorted(context.target.symbols.items()):
        by_cat[category(sym.kind)].append(t)
    lexical = context.evidence.get("lexical", {})

    def words(iri: str) -> set[str]:
        return {t for nm in lex.names(iri) for t in nm.tokens}

    groups: list[list[Pair]] = []
    for a, b in sample:
        cat = context.category_of((a, b))
        wa = words(a)
        pool = by_cat.get(cat, [])
        picks = rng.sample(pool, min(len(pool), UNRELATED_TARGETS))
        negs = [(a, t) for t in picks
                if t != b and not (words(t) & wa) and not (lexical.get((a, t)) and lexical[(a, t)].score > 0)]
        if negs:
            groups.append(negs)
    if len(groups) < MIN_ANCHORS:
        return
    for kind in kinds:
        scorer = make_scorer(kind, context.config)
        ev = scorer.score({p for g in groups for p in g}, context)
        best = sorted(max(ev[p].score if p in ev else 0.0 for p in g) for g in groups)
        out[kind] = round(best[min(len(best) - 1, int(CEILING_QUANTILE * len(best)))], 4)
