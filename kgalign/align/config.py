"""How the matcher runs: :class:`MatcherConfig`, validated, loadable from a TOML or JSON file.

::

    cfg = MatcherConfig.from_file("matcher.toml")      # any subset of the fields
    cfg = MatcherConfig().with_(class_threshold=0.8, scorers=("lexical",))

The defaults were chosen across two benchmarks with known answers, not one: OAEI
Conference ra1 (21 pairs) and the WordNet-derived thesaurus pair of
``benchmarks/wordnet_pair.py``; see the figures in those scripts. No field is learnt
from a reference alignment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kgalign.errors import ConfigError

CATEGORIES = ("class", "property")
NEURAL_COMBINATIONS = ("mean", "support")
REPAIR_RULES = ("each", "sum", "sum_names")
#: scorers whose evidence is a vector similarity: weighted by the reliability measured on the pair
EMBEDDING_SCORERS = ("neural", "dense")


@dataclass(frozen=True)
class MatcherConfig:
    """How the matcher runs. Every field is validated; unknown names list the known ones."""

    #: scorers in the order they run (each sees the evidence of those before it)
    scorers: tuple[str, ...] = ("lexical", "structural")
    #: weight of each scorer in the confidence (weighted mean over the scorers that judged a pair)
    weights: dict[str, float] = field(
        default_factory=lambda: {"lexical": 1.0, "structural": 0.1, "neural": 0.5, "dense": 0.5}
    )
    #: weights for property pairs, where the neighbours (domain, range) say more than the words;
    #: None = the same as ``weights``
    property_weights: dict[str, float] | None = field(
        default_factory=lambda: {"lexical": 1.0, "structural": 2.0, "neural": 0.5, "dense": 0.5}
    )
    #: minimum confidence of a kept class mapping / property mapping; 0.72 was better than 0.75 on
    #: both Conference ra1 (.721 vs .713) and the WordNet pair (.711 vs .703), and than 0.70 on one
    class_threshold: float = 0.72
    property_threshold: float = 0.8
    #: what may be mapped to what (class to class, property to property)
    categories: tuple[str, ...] = CATEGORIES
    #: one-to-one selection: ``greedy``, ``hungarian`` or ``none``
    selection: str = "greedy"
    #: run the cheap logical repair, with these checks
    repair: bool = True
    repair_checks: tuple[str, ...] = ("disjointness", "subsumption", "domain_range")
    #: when a kept mapping blocked two or more others, it goes if they outweigh it: ``each`` (each
    #: as well supported), ``sum`` (their confidences add up to more than its own) or ``sum_names``
    #: (as ``sum``, unless its names agree better than those of every mapping it blocked)
    #: ``sum_names`` is the default: on Conference ra1 it keeps accepted/submitted contribution = accepted/
    #: submitted paper that one "camera ready contribution = camera ready paper" blocked (.744 -> .750); on
    #: the WordNet pair (no disjointness) and the demo pairs it changes nothing (measured)
    repair_rule: str = "sum_names"
    #: also run HermiT (owlready2, Java) on the merged ontologies; needs a workspace
    hermit: bool = False
    #: leave imported and meta vocabulary (OWL/RDFS/SKOS/oboInOwl/DC terms, ``UNDEFINED_*``,
    #: classes of a clearly foreign namespace) out of matching; the alignment's metadata lists them
    exclude_imported: bool = True
    #: show a progress bar (rate, ETA) while scoring large pairs
    progress: bool = False
    # -- lexical
    lexical_floor: float = 0.0
    head_match: bool = True
    use_wordnet: bool = True
    synonym_score: float = 0.9
    #: WordNet pertainyms/derivations, plural/adjective rules, Roman numerals as lexical evidence
    morphology: bool = True
    #: score of a name pair that matches only through morphology ("gastric" / "stomach")
    morphology_score: float = 0.9
    #: score of a match through a related/narrow/broad synonym (an exact synonym counts as a label)
    related_synonym_score: float = 0.8
    #: read property names other ways too: domain/range words dropped ("writePaper" on Paper →
    #: "write"), agent nouns as their verbs with the direction kept ("has reviewer" = "reviewed by")
    property_readings: bool = True
    #: learn word correspondences from the pair's own class names ("Accepted_contribution" /
    #: "Accepted_Paper" and "Rejected_contribution" / "Rejected_Paper" → "contribution" ~ "paper")
    learn_words: bool = True
    # -- structural
    structural_rounds: int = 2
    structural_proposals: bool = True
    structural_proposal_floor: float = 0.9
    #: divide a property pair's structural score by sqrt(n) when n properties share its domain and range
    structural_specificity: bool = False
    #: count two data properties' equal datatype ranges (string / string) as agreement; off by
    #: default: nearly every data property has range string, so only the domains say anything
    datatype_range_evidence: bool = False
    #: qualifier words (left/right, upper/lower...) that disagree between two class names, or with
    #: the restriction fillers of the other side, cut the score by this factor
    qualifier_penalty: float = 0.5
    # -- neural (concept vectors of the workspace's SAE; see kgalign.align.neural)
    neural_neighbours: int = 3
    neural_proposal_floor: float = 0.5
    #: how neural evidence enters the confidence: ``mean`` (one more term of the weighted mean)
    #: or ``support`` (it nudges the symbolic confidence by ``neural_boost`` × reliability ×
    #: (score − 0.5) — 0 by default, the nudge cost F1 when measured — and carries a pair alone
    #: when no word links the pair, the pair is mutual best in it and reliability × score reaches
    #: both ``neural_only_threshold`` and the *unrelated ceiling* measured on the pair — how high
    #: targets sharing no word with an anchor's source score in that space; such a pair enters
    #: just above the threshold, so it only fills gaps the symbolic evidence left)
    neural_combination: str = "support"
    neural_boost: float = 0.0
    #: 0.7 chosen across two cases (dense): Conference ra1 default + dense .743 at 0.7, .741 at 0.65,
    #: .731 at 0.6, .737 at 0.75-0.9; WordNet pair without WordNet + dense .500 at 0.7, .501 at 0.65,
    #: .502 at 0.6, about .48 at 0.8 and .467 at 0.9; default + dense .711 at every value
    neural_only_threshold: float = 0.7
    #: embedding evidence whose reliability measured on the pair is below this has no say
    min_reliability: float = 0.5
    #: weight embedding evidence (neural, dense) by its reliability measured on the pair itself
    #: (how well it separates high-precision lexical anchors from random pairs); off = weight 1
    measure_reliability: bool = True
    # -- dense (sentence embeddings of the base model; see kgalign.align.dense)
    dense_neighbours: int = 3
    #: the dense scorer proposes a target only at this cosine or above (below the alone-route bar)
    dense_proposal_floor: float = 0.6

    def __post_init__(self) -> None:
        from kgalign.align.scoring import SCORERS
        from kgalign.align.select import REPAIR_CHECKS, SELECTIONS

        object.__setattr__(self, "scorers", tuple(self.scorers))
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "repair_checks", tuple(self.repair_checks))
        for name in self.scorers:
            if name not in SCORERS:
                known = ", ".join(sorted(SCORERS))
                raise ConfigError(f"unknown scorer {name!r}; known scorers: {known}")
        if len(set(self.scorers)) != len(self.scorers):
            raise ConfigError("a scorer is listed twice in 'scorers'")
        for name, w in (*self.weights.items(), *(self.property_weights or {}).items()):
            if not isinstance(w, (int, float)) or w < 0:
                raise ConfigError(f"weight of {name!r} is {w!r}; weights are numbers >= 0")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"unknown selection {self.selection!r}; known selections: {', '.join(SELECTIONS)}")
        for c in self.categories:
            if c not in CATEGORIES:
                raise ConfigError(f"unknown category {c!r}; known categories: {', '.join(CATEGORIES)}")
        for c in self.repair_checks:
            if c not in REPAIR_CHECKS:
                raise ConfigError(f"unknown repair check {c!r}; known checks: {', '.join(REPAIR_CHECKS)}")
        for t in ("class_threshold", "property_threshold", "lexical_floor", "structural_proposal_floor",
                  "neural_proposal_floor", "dense_proposal_floor", "morphology_score",
                  "related_synonym_score", "qualifier_penalty", "synonym_score", "min_reliability"):
            v = getattr(self, t)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                raise ConfigError(f"{t} must be a number between 0 and 1, not {v!r}")
        if self.repair_rule not in REPAIR_RULES:
            raise ConfigError(f"unknown repair_rule {self.repair_rule!r}; known: {', '.join(REPAIR_RULES)}")
        if self.neural_combination not in NEURAL_COMBINATIONS:
            raise ConfigError(
                f"unknown neural_combination {self.neural_combination!r}; known: {', '.join(NEURAL_COMBINATIONS)}"
            )
        if self.structural_rounds < 1:
            raise ConfigError("structural_rounds must be at least 1")
        for t in ("neural_neighbours", "dense_neighbours"):
            if getattr(self, t) < 1:
                raise ConfigError(f"{t} must be at least 1")

    # -- building ----------------------------------------------------------------------------

    def with_(self, **changes: Any) -> MatcherConfig:
        """A copy with some fields changed (validated again)."""
        known = {f.name for f in fields(self)}
        for k in changes:
            if k not in known:
                raise ConfigError(f"unknown matcher setting {k!r}; known settings: {', '.join(sorted(known))}")
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatcherConfig:
        """A config from a mapping of field names (lists become tuples); unknown names are refused."""
        changes = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls().with_(**changes)

    @classmethod
    def from_file(cls, path: str | Path) -> MatcherConfig:
        """A config from a TOML (``.toml``) or JSON file; a ``[matcher]`` table is read when present."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"{p}: cannot read the matcher config ({e.strerror})") from None
        if p.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{p}: line {e.lineno}, column {e.colno}: {e.msg}") from None
        else:
            import tomllib

            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{p}: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: the matcher config must be a table/object of settings")
        if isinstance(data.get("matcher"), dict):
            data = data["matcher"]
        try:
            return cls.from_dict(data)
        except ConfigError as e:
            raise ConfigError(f"{p}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # -- reading -----------------------------------------------------------------------------

    def weights_for(self, cat: str) -> dict[str, float]:
        """The scorer weights for pairs of category ``cat``."""
        if cat == "property" and self.property_weights is not None:
            return self.property_weights
        return self.weights

    def threshold(self, cat: str) -> float:
        return self.class_threshold if cat == "class" else self.property_threshold
