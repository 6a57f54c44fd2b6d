"""The scorer interface and the one registry of scorers.

A scorer looks at candidate pairs of symbols and returns, for each pair it has
something to say about, one :class:`Evidence` with a score in [0, 1]. Scorers run in
the order the matcher configuration lists them; each sees the evidence of those
before it in ``context.evidence`` (the structural scorer propagates the lexical
scores over the two graphs). A scorer may also *propose* pairs no earlier scorer
found (the neural scorer proposes nearest neighbours in concept space).

Plugging in a scorer is one entry in :data:`SCORERS` (``name -> "module:Class"``,
imported lazily) or one call to :func:`register_scorer`::

    class NeuralScorer:
        name = "neural"
        kind = "neural"
        def __init__(self, config): ...
        def propose(self, context): return set()
        def score(self, pairs, context): return {pair: Evidence("neural", 0.8, "...")}
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kgalign.align.candidates import Evidence, Pair
from kgalign.align.ontology import OntologyView
from kgalign.errors import UnknownNameError

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace


@dataclass
class MatchContext:
    """Everything a scorer may read while one pair of artefacts is matched."""

    source: OntologyView
    target: OntologyView
    config: Any  # MatcherConfig (kept untyped here to avoid an import cycle)
    workspace: Workspace | None = None
    #: scorer name -> pair -> evidence, filled as the scorers run
    evidence: dict[str, dict[Pair, Evidence]] = field(default_factory=dict)
    #: shared analyses scorers compute once (the lexicon, neighbourhood tables...)
    cache: dict[str, Any] = field(default_factory=dict)

    def scores(self, scorer: str) -> dict[Pair, float]:
        """Pair -> score of one scorer that has already run (empty when it has not)."""
        return {p: e.score for p, e in self.evidence.get(scorer, {}).items()}

    def category_of(self, pair: Pair) -> str:
        from kgalign.align.ontology import category

        a = self.source.symbols.get(pair[0])
        return category(a.kind) if a is not None else ""


@runtime_checkable
class Scorer(Protocol):
    """What the matcher asks of a scorer."""

    #: registry name (``lexical``, ``structural``, ``neural``...)
    name: str
    #: the :class:`Evidence` kind it produces
    kind: str

    def propose(self, context: MatchContext) -> Iterable[Pair]:
        """Pairs worth scoring that earlier scorers may have missed (may be empty)."""
        ...

    def score(self, pairs: Collection[Pair], context: MatchContext) -> dict[Pair, Evidence]:
        """Evidence for the pairs it can judge; pairs left out count as no evidence."""
        ...


#: name -> "module:Class"; each class is built as ``Class(config)`` with the MatcherConfig.
SCORERS: dict[str, str] = {
    "lexical": "kgalign.align.lexical:LexicalScorer",
    "structural": "kgalign.align.structural:StructuralScorer",
    "neural": "kgalign.align.neural:NeuralScorer",
    "dense": "kgalign.align.dense:DenseScorer",
}
_LOADED: dict[str, type] = {}


def register_scorer(name: str, cls: type | str) -> None:
    """Add (or replace) a scorer: a class, or a lazy ``"module:Class"`` path."""
    if isinstance(cls, str):
        SCORERS[name] = cls
        _LOADED.pop(name, None)
    else:
        SCORERS[name] = f"{cls.__module__}:{cls.__qualname__}"
        _LOADED[name] = cls


def scorer_class(name: str) -> type:
    """The scorer class registered as ``name``; an unknown name lists the known ones."""
    if name in _LOADED:
        return _LOADED[name]
    path = SCORERS.get(name)
    if path is None:
        raise UnknownNameError.among("scorer", name, SCORERS)
    module, _, attr = path.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    _LOADED[name] = cls
    return cls


def progress(items: Collection[Any], config: Any, desc: str, *, unit: str = "pair",
             min_items: int = 5000) -> Iterable[Any]:
    """``items``, with a tqdm bar (rate, ETA) on stderr when ``config.progress`` and there are
    more than ``min_items`` (fewer take well under a second)."""
    if getattr(config, "progress", False) and len(items) > min_items:
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit=unit, mininterval=0.5, leave=False)
    return items


def stage(config: Any, message: str) -> None:
    """One line on stderr about a finished matcher stage, when ``config.progress``."""
    if getattr(config, "progress", False):
        import sys

        print(f"align: {message}", file=sys.stderr, flush=True)


def make_scorer(name: str, config: Any) -> Scorer:
    return scorer_class(name)(config)
