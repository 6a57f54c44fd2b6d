"""SPARQL extension functions: the neural layer reachable from plain SPARQL.

Passed to the store's ``custom_functions`` (keyed by IRI); each takes kgalign terms and returns
an RDF term, or ``None`` (an unbound value) when an argument is not an embedded symbol::

    SELECT ?b (kga:similarity(?a, ?b) AS ?sim) WHERE { ... } ORDER BY DESC(?sim)

=============================  ===========================================================
``kga:similarity(?a, ?b)``     cosine similarity of two symbols' concept vectors
``kga:sharedFeatures(?a, ?b)`` how many support features two symbols share
``kga:overlap(?a, ?b)``        weighted Jaccard overlap of the two supports
``kga:stability(?a)``          a symbol's support stability
``kga:featureWeight(?a, ?f)``  the weight of feature ``?f`` (index or feature IRI) in ``?a``
``kga:featureLabel(?f)``       a feature's automatic label
=============================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kgalign.store.terms import Literal, NamedNode
from kgalign.symbolic.vocab import KGA, XSD

if TYPE_CHECKING:
    from kgalign.index.space import ConceptSpace

_DOUBLE = NamedNode(XSD + "double")
_INTEGER = NamedNode(XSD + "integer")
FUNCTION_NAMES = ("similarity", "sharedFeatures", "overlap", "stability", "featureWeight", "featureLabel")


def _num(x: float) -> Literal:
    return Literal(repr(float(x)), datatype=_DOUBLE)


def _int(x: int) -> Literal:
    return Literal(str(int(x)), datatype=_INTEGER)


def _feature_index(term: Any, d_sae: int) -> int | None:
    if isinstance(term, Literal):
        try:
            f = int(term.value)
        except ValueError:
            return None
    elif isinstance(term, NamedNode) and term.value.startswith("urn:kgalign:feature:"):
        try:
            f = int(term.value.rsplit(":", 1)[1])
        except ValueError:
            return None
    else:
        return None
    return f if 0 <= f < d_sae else None


def custom_functions(space: ConceptSpace) -> dict[str, Callable[..., Any]]:
    """The ``kga:`` functions over one concept space."""
    first_key: dict[str, tuple[str, str]] = {}
    for k in space.keys:
        first_key.setdefault(k[1], k)

    def key(term: Any) -> tuple[str, str] | None:
        return first_key.get(term.value) if isinstance(term, NamedNode) else None

    def similarity(a: Any, b: Any) -> Literal | None:
        ka, kb = key(a), key(b)
        return _num(space.similarity(ka, kb)) if ka and kb else None

    def shared(a: Any, b: Any) -> Literal | None:
        ka, kb = key(a), key(b)
        return _int(space.shared_feature_count(ka, kb)) if ka and kb else None

    def overlap(a: Any, b: Any) -> Literal | None:
        ka, kb = key(a), key(b)
        if not (ka and kb):
            return None
        fa = {f: w for f, w, _ in space.support_of(ka)}
        fb = {f: w for f, w, _ in space.support_of(kb)}
        union = set(fa) | set(fb)
        den = sum(max(fa.get(f, 0.0), fb.get(f, 0.0)) for f in union)
        num = sum(min(fa.get(f, 0.0), fb.get(f, 0.0)) for f in union)
        return _num(num / den if den else 0.0)

    def stability(a: Any) -> Literal | None:
        ka = key(a)
        return _num(space.stability(ka)) if ka else None

    def feature_weight(a: Any, f: Any) -> Literal | None:
        ka, fi = key(a), _feature_index(f, space.d_sae)
        if ka is None or fi is None:
            return None
        return _num(float(space.table.vectors[space.row_of(ka), fi]))

    def feature_label(f: Any) -> Literal | None:
        fi = _feature_index(f, space.d_sae)
        return Literal(space.feature_label(fi)) if fi is not None else None

    impl = {
        "similarity": similarity,
        "sharedFeatures": shared,
        "overlap": overlap,
        "stability": stability,
        "featureWeight": feature_weight,
        "featureLabel": feature_label,
    }
    return {KGA + name: fn for name, fn in impl.items()}
