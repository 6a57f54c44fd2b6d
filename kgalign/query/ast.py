"""The typed syntax tree of the query language: frozen dataclasses, each with its source span.

Spans never take part in equality (``compare=False``), so ``parse(to_dsl(parse(q))) == parse(q)``.
Every node can also be built by hand; spans then default to :data:`NO_SPAN`:

>>> SimilarTo(SymbolRef("duty_of_care"), Modifiers(limit=5))
SimilarTo(symbol=SymbolRef(name='duty_of_care', kind='name', graph=None), modifiers=Modifiers(graph=None, limit=5, thresholds=(), order_by=(), where=None))

:data:`QUESTIONS` is the one table of what each question returns and which fields its
thresholds and ``order by`` may name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

RefKind = Literal["name", "string", "curie", "iri"]
Comparator = Literal[">", ">=", "<", "<=", "=", "!="]
SetOperator = Literal["and", "or", "except"]
ResultKind = Literal["symbols", "features", "pairs", "explanation"]


@dataclass(frozen=True)
class Span:
    """Where a node sits in the query text: 1-based lines and columns, 0-based offsets; ends exclusive."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    start_offset: int
    end_offset: int

    def covering(self, other: Span) -> Span:
        """The smallest span holding both ``self`` and ``other``."""
        first = self if self.start_offset <= other.start_offset else other
        last = self if self.end_offset >= other.end_offset else other
        return Span(
            first.start_line,
            first.start_column,
            last.end_line,
            last.end_column,
            first.start_offset,
            last.end_offset,
        )

    def text(self, source: str) -> str:
        """The slice of ``source`` this span covers."""
        return source[self.start_offset : self.end_offset]


#: The span of a node built by hand rather than parsed.
NO_SPAN = Span(0, 0, 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)  # type: ignore[return-value]


# ---- references ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphRef:
    """A named graph (one per loaded artefact): a bare name, a quoted string, a CURIE or an IRI."""

    name: str
    kind: RefKind = "name"
    span: Span = _span()


@dataclass(frozen=True)
class SymbolRef:
    """A symbol as the user wrote it; ``graph`` set by ``... in graph G`` right after it.

    ``name`` holds the text without quotes (escapes resolved) or angle brackets.
    """

    name: str
    kind: RefKind = "name"
    graph: GraphRef | None = None
    span: Span = _span()


@dataclass(frozen=True)
class FeatureRef:
    """An SAE feature by its index (a latent of the dictionary)."""

    index: int
    span: Span = _span()


# ---- modifiers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """``with field op value``; ``min field value`` is ``>=`` and ``max field value`` is ``<=``."""

    field: str
    op: Comparator
    value: float
    span: Span = _span()


@dataclass(frozen=True)
class OrderBy:
    """One key of ``order by``; ascending unless ``descending``."""

    field: str
    descending: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class SparqlFilter:
    """A SPARQL group graph pattern, kept as raw text; it binds the question's variable (``?symbol``...).

    ``pattern_text`` is everything between the braces, exactly as written, and ``span`` covers
    just that text (so a SPARQL error offset ``k`` inside it is at ``span.start_offset + k``).
    """

    pattern_text: str
    span: Span = _span()


@dataclass(frozen=True)
class Modifiers:
    """What narrows or orders a question's results."""

    #: Keep only results from this graph (``in graph G``).
    graph: GraphRef | None = None
    limit: int | None = None
    thresholds: tuple[Threshold, ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    where: SparqlFilter | None = None
    span: Span = _span()

    def __bool__(self) -> bool:
        return bool(self.graph or self.limit is not None or self.thresholds or self.order_by or self.where)


# ---- questions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """Base of the questions; each subclass is one row of :data:`QUESTIONS`."""

    kind: ClassVar[str]

    @property
    def spec(self) -> QuestionSpec:
        return QUESTIONS[type(self)]


@dataclass(frozen=True)
class SharingFeatures(Question):
    """``symbols sharing features with S``: symbols whose SAE supports overlap S's."""

    kind: ClassVar[str] = "sharing_features"
    symbol: SymbolRef
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class SimilarTo(Question):
    """``symbols similar to S``: nearest concept vectors."""

    kind: ClassVar[str] = "similar_to"
    symbol: SymbolRef
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class FeaturesOf(Question):
    """``features of S``: the features in S's support, strongest first."""

    kind: ClassVar[str] = "features_of"
    symbol: SymbolRef
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class SymbolsActivating(Question):
    """``symbols activating feature F`` (or ``features F1, F2``: any of them)."""

    kind: ClassVar[str] = "symbols_activating"
    features: tuple[FeatureRef, ...]
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class ExplainFeature(Question):
    """``explain feature F``: what a feature stands for (its top symbols, label, density)."""

    kind: ClassVar[str] = "explain_feature"
    features: tuple[FeatureRef, ...]
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class BlindSpots(Question):
    """``features with no symbolic counterpart``: live features no symbol activates."""

    kind: ClassVar[str] = "blind_spots"
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class PruningCandidates(Question):
    """``symbols with no neural counterpart``: symbols with no (or a negligible) SAE support."""

    kind: ClassVar[str] = "pruning_candidates"
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class UnstableSymbols(Question):
    """``unstable symbols``: the lowest support stability first."""

    kind: ClassVar[str] = "unstable_symbols"
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class Align(Question):
    """``align G1 with G2``: merge and alias candidates between two systems."""

    kind: ClassVar[str] = "align"
    source: GraphRef
    target: GraphRef
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class Bridges(Question):
    """``bridges between G1 and G2``: symbol pairs linked through shared features."""

    kind: ClassVar[str] = "bridges"
    source: GraphRef
    target: GraphRef
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class SparqlSource(Question):
    """``symbols where { ... }``: the symbols a SPARQL pattern binds to ``?symbol``."""

    kind: ClassVar[str] = "sparql_source"
    pattern: SparqlFilter
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


@dataclass(frozen=True)
class RulesUsing(Question):
    """``rules using S``: the rule symbols whose body or head uses S (see :mod:`kgalign.symbolic.rules`)."""

    kind: ClassVar[str] = "rules_using"
    symbol: SymbolRef
    modifiers: Modifiers = Modifiers()
    span: Span = _span()


# ---- composition and statements ------------------------------------------------------------


@dataclass(frozen=True)
class SetOp:
    """``left and right`` (intersection), ``left or right`` (union), ``left except right`` (difference)."""

    op: SetOperator
    left: SetExpr
    right: SetExpr
    span: Span = _span()


@dataclass(frozen=True)
class SparqlQuery:
    """A whole SPARQL query (SELECT/ASK/CONSTRUCT/DESCRIBE, possibly after PREFIX/BASE), as raw text."""

    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Explain:
    """``explain Q``: show the plan of Q instead of running it."""

    query: SetExpr | SparqlQuery
    span: Span = _span()


AnyQuestion = (
    SharingFeatures
    | SimilarTo
    | FeaturesOf
    | SymbolsActivating
    | ExplainFeature
    | BlindSpots
    | PruningCandidates
    | UnstableSymbols
    | Align
    | Bridges
    | SparqlSource
    | RulesUsing
)
SetExpr = AnyQuestion | SetOp
#: What :func:`kgalign.query.parser.parse` returns.
Query = SetExpr | SparqlQuery | Explain


# ---- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSpec:
    """What one question returns and which modifiers make sense for it."""

    #: How the question reads, for messages (``symbols similar to``).
    phrase: str
    #: What a row of its result is; set operations need the same kind on both sides.
    returns: ResultKind
    #: Numeric fields: usable in thresholds and in ``order by``.
    numeric: tuple[str, ...]
    #: Further fields usable only in ``order by`` (names, IRIs).
    textual: tuple[str, ...]
    #: Whether ``in graph G`` may filter its results.
    graph_filter: bool
    #: SPARQL variables a ``where { ... }`` pattern binds to the result (one at least must occur).
    variables: tuple[str, ...]

    @property
    def order_fields(self) -> tuple[str, ...]:
        return self.numeric + self.textual


QUESTIONS: dict[type[Question], QuestionSpec] = {
    SharingFeatures: QuestionSpec(
        phrase="symbols sharing features with",
        returns="symbols",
        numeric=("overlap", "shared", "stability"),
        textual=("symbol",),
        graph_filter=True,
        variables=("symbol",),
    ),
    SimilarTo: QuestionSpec(
        phrase="symbols similar to",
        returns="symbols",
        numeric=("similarity", "stability"),
        textual=("symbol",),
        graph_filter=True,
        variables=("symbol",),
    ),
    FeaturesOf: QuestionSpec(
        phrase="features of",
        returns="features",
        numeric=("strength", "density"),
        textual=("feature",),
        graph_filter=False,
        variables=("feature",),
    ),
    SymbolsActivating: QuestionSpec(
        phrase="symbols activating",
        returns="symbols",
        numeric=("strength", "stability"),
        textual=("symbol",),
        graph_filter=True,
        variables=("symbol",),
    ),
    ExplainFeature: QuestionSpec(
        phrase="explain feature",
        returns="explanation",
        numeric=("strength",),
        textual=("symbol", "feature"),
        graph_filter=True,
        variables=("symbol",),
    ),
    BlindSpots: QuestionSpec(
        phrase="features with no symbolic counterpart",
        returns="features",
        numeric=("density", "strength"),
        textual=("feature",),
        graph_filter=True,
        variables=("feature",),
    ),
    PruningCandidates: QuestionSpec(
        phrase="symbols with no neural counterpart",
        returns="symbols",
        numeric=("strength", "stability"),
        textual=("symbol",),
        graph_filter=True,
        variables=("symbol",),
    ),
    UnstableSymbols: QuestionSpec(
        phrase="unstable symbols",
        returns="symbols",
        numeric=("stability",),
        textual=("symbol",),
        graph_filter=True,
        variables=("symbol",),
    ),
    Align: QuestionSpec(
        phrase="align",
        returns="pairs",
        numeric=("confidence", "similarity", "overlap"),
        textual=("source", "target"),
        graph_filter=False,
        variables=("source", "target"),
    ),
    Bridges: QuestionSpec(
        phrase="bridges between",
        returns="pairs",
        numeric=("confidence", "overlap", "strength"),
        textual=("source", "target"),
        graph_filter=False,
        variables=("source", "target"),
    ),
    SparqlSource: QuestionSpec(
        phrase="symbols where",
        returns="symbols",
        numeric=("stability",),
        textual=("symbol",),
        graph_filter=True,
        variables=("symbol",),
    ),
    RulesUsing: QuestionSpec(
        phrase="rules using",
        returns="symbols",
        numeric=("stability",),
        textual=("symbol",),
        graph_filter=True,
        variables=("symbol",),
    ),
}


def result_kind(node: SetExpr) -> ResultKind:
    """What the rows of ``node``'s result are (a set operation takes its left side's)."""
    while isinstance(node, SetOp):
        node = node.left
    return QUESTIONS[type(node)].returns
