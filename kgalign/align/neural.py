"""Neural evidence: how close two symbols sit in the SAE's concept space.

A thin scorer over the workspace's :class:`kgalign.index.space.ConceptSpace` (built by
``kgalign embed``): the cosine of the two concept vectors, rescaled against the
typical cosine between the two artefacts (so a space where everything is somewhat
alike does not make everything a match), and the SAE features both supports share,
named in the evidence. It proposes each source symbol's nearest target symbols, which
is how pairs no word links ("Duty of care" / "Obligation to act carefully") enter the
matcher.

Pairs where either symbol has no concept vector are left unjudged (the scorer
abstains), so the lexical and structural evidence decide them alone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kgalign.align.candidates import Evidence, Pair
from kgalign.align.scoring import MatchContext
from kgalign.errors import WorkspaceError

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

Key = tuple[str, str]  # (graph, iri)


class ConceptSource(Protocol):
    """What the scorer needs of a concept space (``ConceptSpace`` has it all)."""

    def has(self, key: Key) -> bool: ...

    def row_of(self, key: Key) -> int: ...

    def pairwise_similarity(self, rows_a: list[int], rows_b: list[int]) -> np.ndarray: ...

    def support_of(self, key: Key) -> list[tuple[int, float, float]]: ...

    def feature_label(self, f: int) -> str: ...


def neural_available(ws: Workspace | None) -> str | None:
    """Why the neural scorer cannot run on ``ws`` (``None`` when it can)."""
    if ws is None:
        return "the neural scorer needs a workspace with concept vectors"
    has_space = getattr(ws, "has_space", None)
    if has_space is None or not has_space():
        return "the workspace has no concept vectors yet (run 'kgalign embed')"
    stale = ws.stale_graphs() if hasattr(ws, "stale_graphs") else []
    if stale:
        return f"graphs changed since the last embed: {', '.join(stale)} (run 'kgalign embed')"
    return None


def concept_source(context: MatchContext) -> ConceptSource:
    """The context's concept space: one put in ``context.cache['concept_space']`` (tests,
    other sources), else the workspace's."""
    src = context.cache.get("concept_space")
    if src is not None:
        return src  # type: ignore[no-any-return]
    reason = neural_available(context.workspace)
    if reason is not None:
        raise WorkspaceError(reason)
    assert context.workspace is not None
    space = context.workspace.space
    context.cache["concept_space"] = space
    return space  # type: ignore[no-any-return]


class NeuralScorer:
    """Cosine of concept vectors, rescaled to [0, 1] above the two artefacts' median cosine."""

    name = "neural"
    kind = "neural"

    def __init__(self, config: object = None) -> None:
        self.config = config
        self.k = int(getattr(config, "neural_neighbours", 3))
        self.proposal_floor = float(getattr(config, "neural_proposal_floor", 0.5))
        self.n_features = 5

    # -- the shared table ------------------------------------------------------------------

    def _table(self, context: MatchContext) -> dict[str, Any]:
        hit = context.cache.get("neural_table")
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        space = concept_source(context)
        cats = getattr(self.config, "categories", ("class", "property"))
        table: dict[str, Any] = {"space": space, "by_cat": {}}
        for cat in cats:
            src = [s.iri for s in context.source.of_category(cat) if space.has((context.source.graph, s.iri))]
            tgt = [s.iri for s in context.target.of_category(cat) if space.has((context.target.graph, s.iri))]
            if not src or not tgt:
                continue
            rows_a = [space.row_of((context.source.graph, i)) for i in src]
            rows_b = [space.row_of((context.target.graph, i)) for i in tgt]
            sims = np.asarray(space.pairwise_similarity(rows_a, rows_b), dtype=np.float64)  # [n_src, n_tgt]
            table["by_cat"][cat] = {
                "src": {iri: i for i, iri in enumerate(src)},
                "tgt": {iri: j for j, iri in enumerate(tgt)},
                "tgt_list": tgt,
                "sims": sims,
                "baseline": float(np.median(sims)),
            }
        context.cache["neural_table"] = table
        return table

    @staticmethod
    def rescale(cos: float, baseline: float) -> float:
        """Cosine above the baseline, as a fraction of the way to 1.

        >>> NeuralScorer.rescale(0.8, 0.6), NeuralScorer.rescale(0.5, 0.6)
        (0.5000000000000001, 0.0)
        """
        if baseline >= 1.0:
            return 0.0
        return float(min(max((cos - baseline) / (1.0 - baseline), 0.0), 1.0))

    # -- the scorer interface --------------------------------------------------------------

    def propose(self, context: MatchContext) -> set[Pair]:
        table = self._table(context)
        out: set[Pair] = set()
        for t in table["by_cat"].values():
            sims, base, tgt = t["sims"], t["baseline"], t["tgt_list"]
            for iri, i in t["src"].items():
                row = sims[i]
                for j in np.argsort(-row)[: self.k]:
                    if self.rescale(float(row[j]), base) >= self.proposal_floor:
                        out.add((iri, tgt[int(j)]))
        return out

    def score(self, pairs: Collection[Pair], context: MatchContext) -> dict[Pair, Evidence]:
        table = self._table(context)
        space = table["space"]
        out: dict[Pair, Evidence] = {}
        for pair in pairs:
            cat = context.category_of(pair)
            t = table["by_cat"].get(cat)
            if t is None or pair[0] not in t["src"] or pair[1] not in t["tgt"]:
                continue
            cos = float(t["sims"][t["src"][pair[0]], t["tgt"][pair[1]]])
            s = self.rescale(cos, t["baseline"])
            shared = self._shared(space, (context.source.graph, pair[0]), (context.target.graph, pair[1]))
            detail = f"concept vectors cosine {cos:.3f} (median between the two artefacts {t['baseline']:.3f})"
            if shared:
                detail += "; shared features: " + ", ".join(shared[:3])
            out[pair] = Evidence("neural", round(s, 4), detail, tuple(shared))
        return out

    def _shared(self, space: ConceptSource, a: Key, b: Key) -> list[str]:
        try:
            sa = {f: w for f, w, _ in space.support_of(a)}
            sb = {f: w for f, w, _ in space.support_of(b)}
        except Exception:  # a source without supports
            return []
        common: Sequence[int] = sorted(set(sa) & set(sb), key=lambda f: -min(sa[f], sb[f]))
        return [f"feature {f} {space.feature_label(f)!r}" for f in common[: self.n_features]]
