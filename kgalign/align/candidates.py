"""Mapping candidates and the evidence behind them.

A :class:`MappingCandidate` says that a symbol of one artefact (the *subject*) and a
symbol of another (the *object*) stand in a relation, with a confidence, and carries
every piece of :class:`Evidence` that led there: which labels matched, which
neighbours agree, which repair checks it passed (and, once the neural layer is in,
which SAE features the two concepts share). An :class:`Alignment` is the list of
candidates a matcher kept for one pair of artefacts, plus metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from kgalign.errors import ConfigError
from kgalign.symbolic.vocab import SKOS

#: Relation symbols (as in the Alignment API) and the SKOS mapping property each is written as.
#: ``<``: the subject is narrower than the object, so the object is its broader match.
RELATIONS: dict[str, str] = {
    "=": SKOS + "exactMatch",
    "<": SKOS + "broadMatch",
    ">": SKOS + "narrowMatch",
    "~": SKOS + "closeMatch",
}
RELATION_NAMES = {"=": "equivalent", "<": "narrower than", ">": "broader than", "~": "related/close"}

#: What kind of reasoning a piece of evidence comes from.
EVIDENCE_KINDS = ("lexical", "structural", "neural", "repair", "external", "manual")

#: SEMAPV justification for each evidence kind (used when a mapping rests on one kind only).
JUSTIFICATIONS: dict[str, str] = {
    "lexical": "semapv:LexicalMatching",
    "structural": "semapv:StructuralMatching",
    "neural": "semapv:SemanticSimilarityThresholdMatching",
    "external": "semapv:BackgroundKnowledgeBasedMatching",
    "manual": "semapv:ManualMappingCuration",
}

Pair = tuple[str, str]
"""A candidate pair inside one match: (source IRI, target IRI)."""


@dataclass(frozen=True)
class Evidence:
    """One reason for (or against) a mapping.

    ``score`` is in [0, 1] for the scorers (1 = certain); repair evidence records a
    check the mapping passed (score 1) or failed (score 0). ``items`` names what the
    evidence rests on: the matched labels, the agreeing neighbours, the shared features.
    """

    kind: str
    score: float
    detail: str
    items: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise ConfigError(f"unknown evidence kind {self.kind!r}; known kinds: {', '.join(EVIDENCE_KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "score": self.score, "detail": self.detail, "items": list(self.items)}


@dataclass(frozen=True)
class MappingCandidate:
    """``subject`` (in ``subject_graph``) stands in ``relation`` to ``object`` (in ``object_graph``)."""

    subject: str
    subject_graph: str
    object: str
    object_graph: str
    relation: str = "="
    confidence: float = 1.0
    evidence: tuple[Evidence, ...] = ()
    subject_label: str = ""
    object_label: str = ""
    #: ``class`` or ``property`` (what the two symbols are), or ``""`` when unknown
    category: str = ""

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ConfigError(f"unknown relation {self.relation!r}; known relations: {', '.join(RELATIONS)}")

    @property
    def pair(self) -> Pair:
        return (self.subject, self.object)

    @property
    def predicate(self) -> str:
        """The SKOS mapping property for :attr:`relation`."""
        return RELATIONS[self.relation]

    @property
    def evidence_kinds(self) -> tuple[str, ...]:
        """Kinds of supporting evidence (scores above zero, repair excluded), in order of appearance."""
        return tuple(dict.fromkeys(e.kind for e in self.evidence if e.kind != "repair" and e.score > 0))

    @property
    def justification(self) -> str:
        """SEMAPV CURIE: the single kind's justification, or ``semapv:CompositeMatching`` for several."""
        kinds = self.evidence_kinds
        if len(kinds) == 1:
            return JUSTIFICATIONS.get(kinds[0], "semapv:UnspecifiedMatching")
        return "semapv:CompositeMatching" if kinds else "semapv:UnspecifiedMatching"

    def score_of(self, kind: str) -> float | None:
        """The score of the first evidence of ``kind`` (``None`` when there is none)."""
        for e in self.evidence:
            if e.kind == kind:
                return e.score
        return None

    def with_evidence(self, *more: Evidence, confidence: float | None = None) -> MappingCandidate:
        return replace(
            self,
            evidence=(*self.evidence, *more),
            confidence=self.confidence if confidence is None else confidence,
        )

    def explain(self) -> str:
        """A few lines a person can read: the mapping, then one line per piece of evidence."""
        head = (
            f"{self.subject_label or self.subject} {self.relation} {self.object_label or self.object}"
            f"  (confidence {self.confidence:.3f})"
        )
        lines = [head] + [f"  {e.kind:<10} {e.score:.3f}  {e.detail}" for e in self.evidence]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "subject_graph": self.subject_graph,
            "subject_label": self.subject_label,
            "object": self.object,
            "object_graph": self.object_graph,
            "object_label": self.object_label,
            "relation": self.relation,
            "predicate": self.predicate,
            "confidence": self.confidence,
            "category": self.category,
            "justification": self.justification,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class Alignment:
    """The mappings kept for one pair of artefacts, and how they were found.

    Behaves as a sequence of :class:`MappingCandidate`. ``rejected`` keeps what the
    selection or repair dropped, each with the reason; ``metadata`` holds the matcher
    configuration, timings and counts.
    """

    source_graph: str
    target_graph: str
    mappings: list[MappingCandidate] = field(default_factory=list)
    rejected: list[tuple[MappingCandidate, str]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: ontology IRIs (``onto1``/``onto2`` of the Alignment API format), when known
    source_ontology: str = ""
    target_ontology: str = ""

    def __iter__(self) -> Iterator[MappingCandidate]:
        return iter(self.mappings)

    def __len__(self) -> int:
        return len(self.mappings)

    def __getitem__(self, i: int) -> MappingCandidate:
        return self.mappings[i]

    def pairs(self, relation: str | None = "=") -> set[Pair]:
        """The (subject, object) pairs, for ``relation`` only unless it is ``None``."""
        return {m.pair for m in self.mappings if relation is None or m.relation == relation}

    def find(self, subject: str | None = None, object: str | None = None) -> list[MappingCandidate]:
        return [
            m
            for m in self.mappings
            if (subject is None or m.subject == subject) and (object is None or m.object == object)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_graph": self.source_graph,
            "target_graph": self.target_graph,
            "mappings": [m.to_dict() for m in self.mappings],
            "rejected": [{"mapping": m.to_dict(), "reason": r} for m, r in self.rejected],
            "metadata": self.metadata,
        }
