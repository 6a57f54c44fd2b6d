"""kgalign's own RDF terms and query results: what every store returns.

The names follow RDF (and pyoxigraph, so reading code stays familiar), but these are plain
Python values: no backend's types leave a store. ``str(term)`` is the N-Triples form.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def _esc(s: str) -> str:
    return (
        s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )


@dataclass(frozen=True, slots=True)
class NamedNode:
    """An IRI.

    >>> str(NamedNode("http://e/a"))
    '<http://e/a>'
    """

    value: str

    def __str__(self) -> str:
        return f"<{self.value}>"


@dataclass(frozen=True, slots=True)
class BlankNode:
    """A blank node; ``value`` is its label (unique within one result or graph; a fresh one by default)."""

    value: str = field(default_factory=lambda: "b" + uuid.uuid4().hex)  # an NCName, as RDF/XML needs

    def __str__(self) -> str:
        return f"_:{self.value}"


@dataclass(frozen=True, slots=True, init=False)
class Literal:
    """A literal: lexical ``value``, ``datatype`` (a :class:`NamedNode`) and optional ``language``.

    >>> str(Literal("3", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer")))
    '"3"^^<http://www.w3.org/2001/XMLSchema#integer>'
    >>> str(Literal("chat", language="fr")), str(Literal('a "b"'))
    ('"chat"@fr', '"a \\\\"b\\\\""')
    """

    value: str
    datatype: NamedNode
    language: str | None

    def __init__(self, value: str, *, datatype: NamedNode | None = None, language: str | None = None) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "language", language or None)
        if language:
            datatype = NamedNode(RDF_LANG_STRING)
        object.__setattr__(self, "datatype", datatype or NamedNode(XSD_STRING))

    def __str__(self) -> str:
        if self.language:
            return f'"{_esc(self.value)}"@{self.language}'
        if self.datatype.value == XSD_STRING:
            return f'"{_esc(self.value)}"'
        return f'"{_esc(self.value)}"^^<{self.datatype.value}>'


Term = NamedNode | BlankNode | Literal


@dataclass(frozen=True, slots=True)
class DefaultGraph:
    """The default graph, as the graph of a :class:`Quad`."""

    value: str = ""

    def __str__(self) -> str:
        return "DEFAULT"


@dataclass(frozen=True, slots=True)
class Triple:
    subject: NamedNode | BlankNode
    predicate: NamedNode
    object: Term

    def __str__(self) -> str:
        return f"{self.subject} {self.predicate} {self.object} ."


@dataclass(frozen=True, slots=True)
class Quad:
    subject: NamedNode | BlankNode
    predicate: NamedNode
    object: Term
    graph_name: NamedNode | BlankNode | DefaultGraph = DefaultGraph()

    @property
    def triple(self) -> Triple:
        return Triple(self.subject, self.predicate, self.object)


class Solution:
    """One row of a SELECT: ``row["x"]`` or ``row[0]`` (None when unbound)."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: Sequence[str], values: Sequence[Term | None]) -> None:
        self._names = names
        self._values = tuple(values)

    def __getitem__(self, key: str | int) -> Term | None:
        if isinstance(key, int):
            return self._values[key]
        try:
            return self._values[self._names.index(key)]
        except ValueError:
            raise KeyError(key) from None

    def get(self, key: str, default: Term | None = None) -> Term | None:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[Term | None]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def as_dict(self) -> dict[str, Term | None]:
        return dict(zip(self._names, self._values, strict=True))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Solution) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Solution({self.as_dict()!r})"


class Solutions(list):
    """The rows of a SELECT (a list of :class:`Solution`) with their ``variables`` (names, no '?')."""

    def __init__(self, variables: Sequence[str], rows: Sequence[Solution] = ()) -> None:
        super().__init__(rows)
        self.variables = list(variables)


class Triples(list):
    """The triples of a CONSTRUCT or DESCRIBE (a list of :class:`Triple`)."""


QueryResult = Solutions | Triples | bool
