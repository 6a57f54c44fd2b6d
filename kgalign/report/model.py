"""The pruning report as data: plain dataclasses, one per section, and :func:`report_to_dict`.

Everything a renderer shows is here, already computed (figures, the points of the map, the bins of the
histograms), so the JSON, Markdown and HTML renderers only lay it out. Strings that come from the
ontologies (labels, definitions, IRIs) are stored as they are; every renderer escapes them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from kgalign.align.behaviour import BehaviouralCheck

Key = tuple[str, str]

#: The sections of a report, in the order the renderers show them.
SECTIONS: tuple[str, ...] = (
    "summary",
    "merge_candidates",
    "bridges",
    "pruning_candidates",
    "blind_spots",
    "unstable",
    "coverage",
    "stability",
    "map",
    "behaviour",
    "sae",
    "prune_list",
)

#: Severities of a prune-list row, as in ROBOT's report: ERROR (act), WARN (review), INFO (for the record).
SEVERITIES: tuple[str, ...] = ("ERROR", "WARN", "INFO")


@dataclass(frozen=True)
class FeatureRef:
    """An SAE feature as a report names it: its index, automatic label, and a weight where one applies."""

    index: int
    label: str
    weight: float | None = None
    #: fraction of the statistics corpus' tokens it fires on (None when unknown)
    density: float | None = None
    #: ``content``, or why it carries no shared meaning: ``generic``, ``sub-word``, ``punctuation``, ...
    kind: str = ""


@dataclass(frozen=True)
class SymbolRef:
    graph: str
    iri: str
    label: str
    score: float | None = None


@dataclass(frozen=True)
class GraphSummary:
    name: str
    n_symbols: int
    n_embedded: int
    mean_stability: float | None
    n_features: int  # SAE features the graph's symbols load on
    n_exclusive_features: int  # ...that no other graph's symbols load on


@dataclass(frozen=True)
class Summary:
    """The headline figures."""

    generated_at: str
    workspace: str
    model: str
    layer: int | None
    sae: str
    d_sae: int
    n_graphs: int
    n_symbols: int
    n_embedded: int
    n_merge_candidates: int
    n_bridges: int
    n_pruning_candidates: int
    n_blind_spots: int
    n_unstable: int
    n_features_claimed: int
    mean_stability: float | None
    n_behavioural_checks: int
    n_behavioural_passed: int
    graphs: list[GraphSummary] = field(default_factory=list)


@dataclass(frozen=True)
class EvidenceItem:
    kind: str
    score: float
    detail: str


@dataclass(frozen=True)
class MergeCandidate:
    """A mapping the matcher kept: ``source`` stands in ``relation`` to ``target``."""

    source_graph: str
    source: str
    source_label: str
    target_graph: str
    target: str
    target_label: str
    relation: str
    relation_name: str
    confidence: float
    evidence: list[EvidenceItem] = field(default_factory=list)
    concept_similarity: float | None = None
    shared_features: list[FeatureRef] = field(default_factory=list)
    #: shared features left out of ``shared_features`` as generic, sub-word or punctuation
    hidden_features: int = 0


@dataclass(frozen=True)
class BridgeEntry:
    """A link the concept space suggests and no mapping makes (see :mod:`kgalign.align.bridges`)."""

    source_graph: str
    source: str
    source_label: str
    target_graph: str
    target: str
    target_label: str
    similarity: float
    relation: str
    relation_name: str
    reason: str
    shared_features: list[FeatureRef] = field(default_factory=list)
    hidden_features: int = 0


@dataclass(frozen=True)
class PruningCandidate:
    """A symbol with no clear neural counterpart, and the reasons (from ``ConceptSpace.pruning_candidates``)."""

    graph: str
    iri: str
    label: str
    kind: str
    reasons: list[str]
    strength: float
    stability: float
    informativeness: float
    definition: str = ""
    top_features: list[FeatureRef] = field(default_factory=list)
    #: the closest symbol of another graph, as context for a curator
    nearest_elsewhere: SymbolRef | None = None
    mapped: bool = False
    #: ERROR / WARN / INFO (see :data:`SEVERITIES`) and what a curator might do
    severity: str = ""
    action: str = ""
    #: why it is kept after all (a near-identical counterpart or a confident mapping in another graph)
    kept_because: str = ""
    #: the rules (SWRL, N3) that use the symbol and would break if it were pruned:
    #: ``{"graph", "rule", "text", "side"}`` each (see :func:`kgalign.symbolic.rules.rules_using`)
    breaks_rules: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PruneRow:
    """One line of the exportable prune list (``prune.tsv``), after ROBOT's report columns."""

    severity: str
    rule: str
    graph: str
    iri: str
    label: str
    reason: str
    action: str
    related_iri: str = ""
    related_label: str = ""


@dataclass(frozen=True)
class Snippet:
    text: str
    token: str
    start: int | None
    end: int | None
    activation: float


@dataclass(frozen=True)
class BlindSpot:
    """A feature that fires often and strongly in the corpus but that no symbol loads on."""

    feature: int
    label: str
    suggested_label: str
    density: float
    mean_activation: float
    snippets: list[Snippet] = field(default_factory=list)
    #: symbols with some (sub-threshold) weight on the feature: where a new symbol might go
    near_symbols: list[SymbolRef] = field(default_factory=list)


@dataclass(frozen=True)
class UnstableSymbol:
    graph: str
    iri: str
    label: str
    stability: float
    n_contexts: int
    top_features: list[FeatureRef] = field(default_factory=list)


@dataclass(frozen=True)
class CoverageOverlap:
    a: str
    b: str
    shared: int
    jaccard: float


@dataclass(frozen=True)
class Coverage:
    """How many SAE features each graph's symbols load on, and how much the graphs share."""

    d_sae: int
    claimed: int
    graphs: list[GraphSummary]
    overlaps: list[CoverageOverlap]


@dataclass(frozen=True)
class StabilityHistogram:
    """Support stability of every embedded symbol, binned per graph: ``counts[graph][bin]``."""

    edges: list[float]
    counts: dict[str, list[int]]
    threshold: float


@dataclass(frozen=True)
class MapPoint:
    graph: str
    iri: str
    label: str
    x: float
    y: float
    stability: float
    pruning: bool = False


@dataclass(frozen=True)
class ConceptMap:
    """A 2-D map of the concept vectors: their first two principal components (of the unit rows)."""

    points: list[MapPoint]
    explained: list[float]  # fraction of variance of PC1, PC2
    sampled_from: int  # how many symbols there were (the map shows at most MAP_MAX_POINTS)
    #: mean share of each point's 10 nearest neighbours in concept space that are also among its 10
    #: nearest on the map (1 = the map keeps every neighbourhood; chance is about 10/n)
    neighbour_overlap: float | None = None


@dataclass(frozen=True)
class SAEQuality:
    """The SAE's own figures, from ``metrics.json`` / ``MODEL_CARD.md`` / ``cfg.json`` beside it."""

    path: str
    name: str
    architecture: str | None
    d_in: int | None
    d_sae: int | None
    k: int | None
    headline: dict[str, Any] = field(default_factory=dict)  # fve, l0, dead fraction, mse...
    details: dict[str, Any] = field(default_factory=dict)  # every other scalar of metrics.json
    density_histogram: dict[str, list[float]] | None = None  # log10_bin_edges, counts
    model_card: str | None = None
    feature_stats_corpus: str = ""
    feature_stats_tokens: int | None = None
    silent_features: int | None = None  # features that never fired on the statistics corpus
    features_claimed: int = 0


@dataclass(frozen=True)
class BehaviourSection:
    checks: list[BehaviouralCheck]
    summary: dict[str, Any]
    ran: bool
    note: str = ""
    #: share of random control features that would pass the same rule against the other controls
    false_positive_rate: float | None = None
    #: chance of at least this many passes if every link were a random feature (binomial tail)
    p_value: float | None = None


@dataclass
class Report:
    """The whole pruning report (see :data:`SECTIONS`)."""

    summary: Summary
    merge_candidates: list[MergeCandidate]
    bridges: list[BridgeEntry]
    pruning_candidates: list[PruningCandidate]
    blind_spots: list[BlindSpot]
    unstable: list[UnstableSymbol]
    coverage: Coverage
    stability: StabilityHistogram
    map: ConceptMap
    behaviour: BehaviourSection
    sae: SAEQuality
    notes: list[str] = field(default_factory=list)
    format: str = "kgalign-report/1"
    #: pruning candidates judged across graphs and kept (not dead weight)
    kept: list[PruningCandidate] = field(default_factory=list)
    #: the exportable prune list (``prune.tsv``)
    prune_list: list[PruneRow] = field(default_factory=list)
    #: the saved ``kgalign check`` of this embed run (see :mod:`kgalign.report.check_section`), or None
    bridge_check: dict | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, BehaviouralCheck):
        return _plain(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _plain(value.item())
    return value


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (non-finite numbers become ``null``)."""
    return _plain(report)
