"""Bridges: links between artefacts that the concept space suggests and no mapping makes yet.

A bridge is a pair of symbols from two different graphs that are *mutual* nearest neighbours in concept
space (each is the other's closest symbol of the same category in the other graph), similar well above what
is typical between the two graphs, and not already linked: neither symbol is mapped to the other graph by
any of the given alignments. Each bridge carries a suggested relation:

- ``=`` (equivalent) when the labels also match (the same words, up to case and punctuation);
- ``<`` / ``>`` (narrower / broader than) when one label is the other with words put in front ("defective
  product liability" < "product liability": same head, one more modifier), or when one side's parents sit
  at least as close to the other symbol as the symbol itself does, and closer than the other side's
  parents do the other way — the other symbol lives at the level of this one's parents;
- ``~`` (related) otherwise.

Relations use the matcher's symbols (:data:`kgalign.align.candidates.RELATIONS`): ``a < b`` says ``a`` is
narrower than ``b``. :meth:`Bridge.to_mapping` turns a bridge into a :class:`MappingCandidate` with neural
evidence, for export next to the matcher's mappings.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.align.candidates import RELATION_NAMES, Evidence, MappingCandidate
from kgalign.align.ontology import category

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.index.context import SpaceContext as Workspace
    from kgalign.index.space import ConceptSpace
    from kgalign.symbolic.symbols import Symbol

Key = tuple[str, str]

#: Bridges need at least this cosine, and at least the ``QUANTILE`` of cross-graph cosines for the pair.
MIN_SIMILARITY = 0.5
QUANTILE = 0.99
#: How much closer one side's parents must be than the other's to call a bridge broader/narrower.
PARENT_MARGIN = 0.02
#: How far below the pair's own similarity a parent may sit and still count as "at least as close".
LEVEL_SLACK = 0.05


@dataclass(frozen=True)
class Bridge:
    """``source`` (graph, iri) and ``target`` (graph, iri), with the suggested ``relation`` and why."""

    source: Key
    target: Key
    similarity: float
    relation: str
    reason: str
    source_label: str = ""
    target_label: str = ""
    shared_features: tuple[int, ...] = ()
    #: the cosine above which a pair of these two graphs counts as a bridge
    threshold: float = 0.0

    @property
    def relation_name(self) -> str:
        return RELATION_NAMES[self.relation]

    def to_mapping(self) -> MappingCandidate:
        items = tuple(f"feature {f}" for f in self.shared_features)
        return MappingCandidate(
            subject=self.source[1], subject_graph=self.source[0],
            object=self.target[1], object_graph=self.target[0],
            relation=self.relation, confidence=float(self.similarity),
            evidence=(Evidence("neural", float(max(0.0, self.similarity)),
                               f"bridge: mutual nearest neighbours in concept space; {self.reason}", items),),
            subject_label=self.source_label, object_label=self.target_label,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_graph": self.source[0], "source": self.source[1], "source_label": self.source_label,
            "target_graph": self.target[0], "target": self.target[1], "target_label": self.target_label,
            "similarity": round(self.similarity, 6), "relation": self.relation,
            "relation_name": self.relation_name, "reason": self.reason,
            "shared_features": list(self.shared_features), "threshold": round(self.threshold, 6),
        }


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def labels_match(a: Symbol, b: Symbol) -> bool:
    """Whether any name of ``a`` equals any name of ``b`` up to case and punctuation."""
    na = {_norm(n) for n in a.names if _norm(n)}
    return any(_norm(n) in na for n in b.names)


def mapped_keys(alignments: Iterable[Any]) -> set[tuple[Key, str]]:
    """``((graph, iri), other graph)`` for every symbol some mapping links to another graph."""
    out: set[tuple[Key, str]] = set()
    for al in alignments:
        for m in al:
            out.add(((m.subject_graph, m.subject), m.object_graph))
            out.add(((m.object_graph, m.object), m.subject_graph))
    return out


def _cross_threshold(space: ConceptSpace, rows_a: list[int], rows_b: list[int], floor: float) -> float:
    rng = np.random.default_rng(0)
    a = rows_a if len(rows_a) <= 300 else sorted(rng.choice(rows_a, 300, replace=False).tolist())
    b = rows_b if len(rows_b) <= 300 else sorted(rng.choice(rows_b, 300, replace=False).tolist())
    sims = space.pairwise_similarity(a, b)
    return max(floor, float(np.quantile(sims, QUANTILE))) if sims.size else floor


def suggest_relation(space: ConceptSpace, a: Symbol, b: Symbol, sim: float) -> tuple[str, str]:
    """``(relation, reason)`` for a bridge from ``a`` to ``b`` (see the module docstring)."""
    if labels_match(a, b):
        return "=", "the labels match"
    wa, wb = _norm(a.label).split(), _norm(b.label).split()
    if wb and len(wa) > len(wb) and wa[-len(wb):] == wb:
        return "<", f"{a.label!r} is {b.label!r} with a modifier in front"
    if wa and len(wb) > len(wa) and wb[-len(wa):] == wa:
        return ">", f"{b.label!r} is {a.label!r} with a modifier in front"

    def parent_sim(child: Symbol, other: Symbol) -> tuple[float, str]:
        best, name = -1.0, ""
        for p in child.parents:
            pk = (child.graph, p)
            if space.has(pk):
                s = space.similarity(pk, (other.graph, other.iri))
                if s > best:
                    best, name = s, p
        return best, name

    pa, pa_iri = parent_sim(a, b)  # how close a's parents are to b
    pb, pb_iri = parent_sim(b, a)  # how close b's parents are to a
    if pa >= sim - LEVEL_SLACK and pa > pb + PARENT_MARGIN:
        return "<", f"{b.label!r} is as close to {a.label!r}'s parent ({pa:.2f}) as to {a.label!r} ({sim:.2f})"
    if pb >= sim - LEVEL_SLACK and pb > pa + PARENT_MARGIN:
        return ">", f"{a.label!r} is as close to {b.label!r}'s parent ({pb:.2f}) as to {b.label!r} ({sim:.2f})"
    return "~", f"close in concept space ({sim:.2f}) with different labels and no parent nearer"


def find_bridges(
    ws: Workspace,
    alignments: Iterable[Any] = (),
    *,
    graphs: Sequence[str] | None = None,
    min_similarity: float | None = None,
    limit: int | None = None,
) -> list[Bridge]:
    """Bridges between every pair of ``graphs`` (default: all embedded graphs), strongest first.

    ``min_similarity`` fixes the cosine threshold; by default it is, per pair of graphs, the larger of
    :data:`MIN_SIMILARITY` and the :data:`QUANTILE` of the cosines between the two graphs' symbols.
    """
    space = ws.space
    table = ws.symbol_table
    covered = mapped_keys(alignments)
    names = sorted({k[0] for k in space.keys}) if graphs is None else list(graphs)
    rows_of: dict[str, list[int]] = {g: [] for g in names}
    for i, k in enumerate(space.keys):
        if k[0] in rows_of:
            rows_of[k[0]].append(i)
    out: list[Bridge] = []
    for ga, gb in itertools.combinations(names, 2):
        ra, rb = rows_of[ga], rows_of[gb]
        if not ra or not rb:
            continue
        threshold = (
            float(min_similarity) if min_similarity is not None
            else _cross_threshold(space, ra, rb, MIN_SIMILARITY)
        )
        for cat in ("class", "property", "individual"):
            ca = [r for r in ra if (s := table.get(space.keys[r][1], ga)) is not None and category(s.kind) == cat]
            cb = [r for r in rb if (s := table.get(space.keys[r][1], gb)) is not None and category(s.kind) == cat]
            if not ca or not cb:
                continue
            sims = space.pairwise_similarity(ca, cb)  # [len(ca), len(cb)]
            best_b = sims.argmax(1)
            best_a = sims.argmax(0)
            for i, j in enumerate(best_b):
                if best_a[j] != i or sims[i, j] < threshold:
                    continue
                ka, kb = space.keys[ca[i]], space.keys[cb[j]]
                if (ka, gb) in covered or (kb, ga) in covered:
                    continue
                a, b = table.get(ka[1], ga), table.get(kb[1], gb)
                assert a is not None and b is not None
                sim = float(sims[i, j])
                relation, reason = suggest_relation(space, a, b, sim)
                fa = {f for f, _, _ in space.support_of(ka)}
                shared = tuple(f for f, _, _ in space.support_of(kb) if f in fa)
                out.append(Bridge(ka, kb, sim, relation, reason, a.label, b.label, shared[:8], threshold))
    out.sort(key=lambda br: (-br.similarity, br.source, br.target))
    return out if limit is None else out[:limit]


__all__ = ["Bridge", "find_bridges", "labels_match", "mapped_keys", "suggest_relation"]
