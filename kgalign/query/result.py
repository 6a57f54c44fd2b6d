"""Typed query results: symbols, features, pairs, SPARQL rows.

Every result is a :class:`Result` with a ``kind``, ordered ``columns`` and typed ``rows``;
``records()`` flattens them to dicts for tables, JSON, CSV and TSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SymbolHit:
    graph: str
    iri: str
    label: str
    kind: str
    score: float | None = None
    fields: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.graph, self.iri)

    def record(self) -> dict[str, Any]:
        return {"symbol": self.label, "graph": self.graph, "iri": self.iri, "kind": self.kind,
                "score": self.score, **self.fields}


@dataclass(frozen=True)
class FeatureHit:
    feature: int
    label: str
    density: float | None = None
    strength: float | None = None
    fields: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> int:
        return self.feature

    def record(self) -> dict[str, Any]:
        return {"feature": self.feature, "label": self.label, "density": self.density, "strength": self.strength,
                **self.fields}


@dataclass(frozen=True)
class PairHit:
    source_graph: str
    source: str
    source_label: str
    target_graph: str
    target: str
    target_label: str
    relation: str
    confidence: float
    fields: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source_graph, self.source, self.target_graph, self.target)

    def record(self) -> dict[str, Any]:
        return {"source": self.source_label, "target": self.target_label, "relation": self.relation,
                "confidence": self.confidence, "source_iri": self.source, "target_iri": self.target,
                "source_graph": self.source_graph, "target_graph": self.target_graph, **self.fields}


@dataclass
class Result:
    """What a query returns. ``kind``: symbols, features, pairs, explanation, sparql, boolean, plan."""

    kind: str
    columns: list[str]
    rows: list[Any]
    plan: str = ""
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def records(self) -> list[dict[str, Any]]:
        return [r.record() if hasattr(r, "record") else dict(r) for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "rows": self.records(),
            "plan": self.plan,
            "elapsed_ms": round(self.elapsed_ms, 3),
            **({"extra": self.extra} if self.extra else {}),
        }


DEFAULT_COLUMNS = {
    "symbols": ["symbol", "graph", "score", "iri"],
    "features": ["feature", "label", "strength", "density"],
    "pairs": ["source", "target", "relation", "confidence", "source_graph", "target_graph"],
    "explanation": ["feature", "label", "symbol", "graph", "strength"],
}
