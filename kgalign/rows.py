"""kgalign's own typed SPARQL results, independent of the store library.

:meth:`kgalign.api.Workspace.sparql` returns a :class:`SparqlResult`: rows of
:class:`Term` values for SELECT, a truth value for ASK, :class:`Triple` values for
CONSTRUCT and DESCRIBE. Every value is a plain frozen dataclass; ``Term.python``
converts literals to ``int``/``float``/``bool``/``str``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTS = {_XSD + t for t in ("integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
                             "negativeInteger", "nonPositiveInteger", "unsignedInt", "unsignedLong")}
_FLOATS = {_XSD + t for t in ("double", "float", "decimal")}


@dataclass(frozen=True)
class Term:
    """One RDF term: ``kind`` is ``iri``, ``literal``, ``bnode`` or ``triple``."""

    kind: str
    value: str
    datatype: str | None = None
    language: str | None = None

    @property
    def python(self) -> Any:
        """The value as Python: numbers and booleans converted, everything else a string."""
        if self.kind != "literal" or self.datatype is None:
            return self.value
        try:
            if self.datatype in _INTS:
                return int(self.value)
            if self.datatype in _FLOATS:
                return float(self.value)
            if self.datatype == _XSD + "boolean":
                return self.value in ("true", "1")
        except ValueError:
            return self.value
        return self.value

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Triple:
    subject: Term
    predicate: Term
    object: Term


class Row(Mapping[str, "Term | None"]):
    """One SELECT solution: variable name (without ``?``) -> :class:`Term`, or None when unbound."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Term | None]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> Term | None:
        return self._values[name.lstrip("?$")]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        """Variable -> Python value (None when unbound)."""
        return {k: (None if v is None else v.python) for k, v in self._values.items()}

    def __repr__(self) -> str:
        return f"Row({self.to_dict()!r})"


@dataclass
class SparqlResult:
    """A query's whole result: ``kind`` is ``select``, ``ask`` or ``graph``."""

    kind: str
    variables: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()
    boolean: bool | None = None
    triples: tuple[Triple, ...] = ()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.triples if self.kind == "graph" else self.rows)

    def __len__(self) -> int:
        return len(self.triples) if self.kind == "graph" else len(self.rows)

    def __bool__(self) -> bool:
        return bool(self.boolean) if self.kind == "ask" else len(self) > 0

    def records(self) -> list[dict[str, Any]]:
        """SELECT rows as plain dicts of Python values."""
        return [r.to_dict() for r in self.rows]


class Resolution(list):
    """The symbols a name may mean (a list, best first); when empty, ``suggestions`` holds the
    closest known names, as the CLI's "did you mean" shows them."""

    def __init__(self, name: str, symbols: Any = (), suggestions: Any = ()) -> None:
        super().__init__(symbols)
        self.name = name
        self.suggestions: list[str] = list(suggestions)

    @property
    def message(self) -> str:
        """What the CLI would say about an empty resolution."""
        if self:
            return f"{len(self)} symbol(s) for {self.name!r}"
        hint = f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        return f"unknown symbol {self.name!r}{hint}"

    def __repr__(self) -> str:
        return super().__repr__() if self else f"Resolution([], {self.message!r})"


def term_of(t: Any) -> Term | None:
    """A store term (:mod:`kgalign.store.terms`, or None) as a :class:`Term`."""
    from kgalign.store import terms as st

    if t is None:
        return None
    if isinstance(t, st.NamedNode):
        return Term("iri", t.value)
    if isinstance(t, st.Literal):
        return Term("literal", t.value, t.datatype.value if t.datatype else None, t.language or None)
    if isinstance(t, st.BlankNode):
        return Term("bnode", t.value)
    return Term("triple", str(t))


def from_store(res: Any) -> SparqlResult:
    """A store result (:data:`kgalign.store.terms.QueryResult`) as a :class:`SparqlResult`."""
    from kgalign.store import terms as st

    if isinstance(res, bool):
        return SparqlResult("ask", boolean=res)
    if isinstance(res, st.Triples):
        return SparqlResult("graph", triples=tuple(
            Triple(term_of(t.subject), term_of(t.predicate), term_of(t.object)) for t in res  # type: ignore[arg-type]
        ))
    names = tuple(res.variables)
    rows = tuple(Row({n: term_of(sol[n]) for n in names}) for sol in res)
    return SparqlResult("select", variables=names, rows=rows)


__all__ = ["Resolution", "Row", "SparqlResult", "Term", "Triple", "from_store"]
