"""What the matcher knows of one side of an alignment: its symbols and a few axioms.

:class:`OntologyView` gathers, for one artefact graph, the :class:`Symbol` objects
(labels, parents, domains, ranges) and the axioms the symbolic ``Symbol`` model does
not carry but matching and repair need: ``owl:disjointWith`` (and
``owl:AllDisjointClasses``), ``owl:inverseOf``, named ``owl:equivalentClass``,
domains and ranges given as ``owl:unionOf`` lists, and the properties used in
``owl:Restriction`` superclasses. Build it from a workspace with
:meth:`OntologyView.from_workspace`, or from bare symbols (tests, other sources) with
:meth:`OntologyView.from_symbols`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import networkx as nx

from kgalign.symbolic.store import escape_iri
from kgalign.symbolic.symbols import Symbol
from kgalign.symbolic.vocab import DC, DCTERMS, OBO, OBOINOWL, OWL, RDF, RDFS, SKOS, XSD, graph_iri

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

CLASS_KINDS = frozenset({"class", "concept"})
PROPERTY_KINDS = frozenset({"object_property", "data_property", "property", "annotation_property"})
OWL_THING = OWL + "Thing"
#: namespaces of meta vocabulary: never matched (their terms are declared in many artefacts)
META_NAMESPACES = (RDF, RDFS, OWL, XSD, SKOS, OBOINOWL, DC, DCTERMS, "http://www.w3.org/ns/prov#",
                   "http://xmlns.com/foaf/0.1/", "http://schema.org/", "http://purl.org/vocab/vann/")
#: a namespace is "clearly imported" when it holds at most this share of an artefact's classes
#: and properties while one main namespace holds at least :data:`MAIN_SHARE`
IMPORTED_SHARE = 0.05
MAIN_SHARE = 0.5
_OBO_ID = re.compile(r"^([A-Za-z][A-Za-z0-9]*)_")


def namespace(iri: str) -> str:
    """The namespace of an IRI: up to the last ``#`` or ``/``; for OBO PURLs, with the ID space.

    >>> namespace("http://purl.obolibrary.org/obo/UBERON_0000948")
    'http://purl.obolibrary.org/obo/UBERON_'
    >>> namespace("http://cmt#Paper")
    'http://cmt#'
    """
    if iri.startswith(OBO):
        m = _OBO_ID.match(iri[len(OBO):])
        if m:
            return OBO + m.group(1) + "_"
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1] if cut >= 0 else iri


def imported_symbols(symbols: Iterable[Symbol]) -> dict[str, str]:
    """Symbols left out of matching by default, each with the reason: meta vocabulary
    (OWL/RDFS/SKOS/oboInOwl/DC... terms), annotation properties, ``UNDEFINED_*`` placeholders
    (OBO conversions), and classes or properties of a namespace that is clearly imported."""
    syms = [s for s in symbols if category(s.kind) != "individual"]
    ns_count = Counter(namespace(s.iri) for s in syms)
    main, n_main = ns_count.most_common(1)[0] if ns_count else ("", 0)
    total = max(len(syms), 1)
    out: dict[str, str] = {}
    for s in syms:
        ns = namespace(s.iri)
        if s.iri.startswith(META_NAMESPACES):
            out[s.iri] = "meta vocabulary"
        elif s.kind == "annotation_property":
            out[s.iri] = "annotation property"
        elif s.local_name.startswith("UNDEFINED_"):
            out[s.iri] = "UNDEFINED_ placeholder"
        elif ns != main and n_main / total >= MAIN_SHARE and ns_count[ns] / total <= IMPORTED_SHARE:
            out[s.iri] = f"imported namespace {ns}"
    return out


def category(kind: str) -> str:
    """The matching category of a symbol kind: ``class``, ``property`` or ``individual``.

    >>> category("concept"), category("data_property"), category("individual")
    ('class', 'property', 'individual')
    """
    if kind in CLASS_KINDS:
        return "class"
    if kind in PROPERTY_KINDS:
        return "property"
    return "individual"


@dataclass
class OntologyView:
    """One artefact as the matcher sees it. Every IRI key is a symbol IRI of this graph."""

    graph: str
    symbols: dict[str, Symbol]
    disjoint: dict[str, set[str]] = field(default_factory=dict)
    inverse: dict[str, set[str]] = field(default_factory=dict)
    equivalent: dict[str, set[str]] = field(default_factory=dict)
    #: property -> classes (named domains plus members of union domains)
    domains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: class -> (property, filler class or None) from restriction superclasses
    restrictions: dict[str, tuple[tuple[str, str | None], ...]] = field(default_factory=dict)
    #: symbols left out of matching (see :meth:`without_imported`): IRI -> reason
    excluded: dict[str, str] = field(default_factory=dict)

    # -- building ------------------------------------------------------------------------

    @classmethod
    def from_symbols(
        cls,
        graph: str,
        symbols: Iterable[Symbol],
        *,
        disjoint: Iterable[tuple[str, str]] = (),
        inverse: Iterable[tuple[str, str]] = (),
        equivalent: Iterable[tuple[str, str]] = (),
    ) -> OntologyView:
        """A view from symbols alone, with optional axioms given as IRI pairs."""
        syms = {s.iri: s for s in symbols}
        view = cls(graph=graph, symbols=syms)
        for a, b in disjoint:
            view.disjoint.setdefault(a, set()).add(b)
            view.disjoint.setdefault(b, set()).add(a)
        for a, b in inverse:
            view.inverse.setdefault(a, set()).add(b)
            view.inverse.setdefault(b, set()).add(a)
        for a, b in equivalent:
            view.equivalent.setdefault(a, set()).add(b)
            view.equivalent.setdefault(b, set()).add(a)
        view.domains = {s.iri: s.domains for s in syms.values() if s.domains}
        view.ranges = {s.iri: s.ranges for s in syms.values() if s.ranges}
        return view

    @classmethod
    def from_workspace(cls, ws: Workspace, graph: str) -> OntologyView:
        """Symbols of ``graph`` plus the axioms read from its named graph in the store."""
        view = cls.from_symbols(graph, ws.symbols(graph))
        g = escape_iri(graph_iri(graph))

        def rows(where: str, *names: str) -> list[tuple[str, ...]]:
            res = ws.store.query(f"SELECT {' '.join('?' + n for n in names)} WHERE {{ GRAPH <{g}> {{ {where} }} }}")
            out = []
            for r in res:
                terms = [r[n] for n in names]
                if all(t is not None for t in terms):
                    out.append(tuple(t.value for t in terms))
            return out

        iri_filter = "FILTER(isIRI(?a) && isIRI(?b) && ?a != ?b)"
        for a, b in rows(f"?a <{OWL}disjointWith> ?b . {iri_filter}", "a", "b"):
            view.disjoint.setdefault(a, set()).add(b)
            view.disjoint.setdefault(b, set()).add(a)
        for a, b in rows(
            f"?x a <{OWL}AllDisjointClasses> ; <{OWL}members> ?l . ?l <{RDF}rest>*/<{RDF}first> ?a . "
            f"?l <{RDF}rest>*/<{RDF}first> ?b . {iri_filter}",
            "a",
            "b",
        ):
            view.disjoint.setdefault(a, set()).add(b)
        for a, b in rows(f"?a <{OWL}inverseOf> ?b . {iri_filter}", "a", "b"):
            view.inverse.setdefault(a, set()).add(b)
            view.inverse.setdefault(b, set()).add(a)
        for a, b in rows(
            f"{{ ?a <{OWL}equivalentClass> ?b }} UNION {{ ?a <{OWL}equivalentProperty> ?b }} {iri_filter}", "a", "b"
        ):
            view.equivalent.setdefault(a, set()).add(b)
            view.equivalent.setdefault(b, set()).add(a)
        for pred, target in ((RDFS + "domain", view.domains), (RDFS + "range", view.ranges)):
            extra: dict[str, list[str]] = defaultdict(list)
            for p, c in rows(
                f"?p <{pred}> ?u . ?u <{OWL}unionOf> ?l . ?l <{RDF}rest>*/<{RDF}first> ?c . FILTER(isIRI(?p) && isIRI(?c))",
                "p",
                "c",
            ):
                extra[p].append(c)
            for p, cs in extra.items():
                target[p] = tuple(dict.fromkeys((*target.get(p, ()), *cs)))
        restr: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        res = ws.store.query(
            f"""SELECT ?c ?p ?f WHERE {{ GRAPH <{g}> {{
                {{ ?c <{RDFS}subClassOf> ?r }} UNION {{ ?c <{OWL}equivalentClass> ?r }}
                ?r <{OWL}onProperty> ?p .
                OPTIONAL {{ ?r <{OWL}someValuesFrom>|<{OWL}allValuesFrom>|<{OWL}onClass> ?f . FILTER(isIRI(?f)) }}
                FILTER(isIRI(?c) && isIRI(?p)) }} }}"""
        )
        for r in res:
            f = r["f"]
            restr[r["c"].value].append((r["p"].value, f.value if f is not None else None))
        view.restrictions = {c: tuple(dict.fromkeys(v)) for c, v in restr.items()}
        return view

    def without_imported(self) -> OntologyView:
        """This view without meta and imported vocabulary (:func:`imported_symbols`); what was
        left out is in ``excluded``. Axioms keep naming them (a restriction on an imported
        property still counts), but they are never matched."""
        gone = imported_symbols(self.symbols.values())
        if not gone:
            return self
        view = OntologyView(
            graph=self.graph,
            symbols={k: v for k, v in self.symbols.items() if k not in gone},
            disjoint=self.disjoint,
            inverse=self.inverse,
            equivalent=self.equivalent,
            domains=self.domains,
            ranges=self.ranges,
            restrictions=self.restrictions,
            excluded={**self.excluded, **gone},
        )
        return view

    def excluded_summary(self) -> dict[str, object]:
        """What was left out: counts by reason and a few examples."""
        by: dict[str, list[str]] = defaultdict(list)
        for iri, why in sorted(self.excluded.items()):
            by[why].append(iri)
        return {why: {"count": len(iris), "examples": iris[:3]} for why, iris in by.items()}

    # -- reading -------------------------------------------------------------------------

    def __contains__(self, iri: object) -> bool:
        return iri in self.symbols

    def of_category(self, cat: str) -> list[Symbol]:
        """Symbols whose kind falls in ``cat`` (``class``/``property``/``individual``), by IRI."""
        return [s for s in self.symbols.values() if category(s.kind) == cat]

    def parents(self, iri: str) -> tuple[str, ...]:
        s = self.symbols.get(iri)
        return tuple(p for p in s.parents if p in self.symbols) if s else ()

    def children(self, iri: str) -> tuple[str, ...]:
        s = self.symbols.get(iri)
        return tuple(c for c in s.children if c in self.symbols) if s else ()

    def domain_of(self, prop: str) -> tuple[str, ...]:
        return self.domains.get(prop, ())

    def range_of(self, prop: str) -> tuple[str, ...]:
        return self.ranges.get(prop, ())

    @cached_property
    def properties_by_domain(self) -> dict[str, tuple[str, ...]]:
        """class -> properties whose domain names it."""
        out: dict[str, list[str]] = defaultdict(list)
        for p, cs in self.domains.items():
            for c in cs:
                out[c].append(p)
        return {c: tuple(ps) for c, ps in out.items()}

    @cached_property
    def properties_by_range(self) -> dict[str, tuple[str, ...]]:
        """class -> properties whose range names it."""
        out: dict[str, list[str]] = defaultdict(list)
        for p, cs in self.ranges.items():
            for c in cs:
                out[c].append(p)
        return {c: tuple(ps) for c, ps in out.items()}

    @cached_property
    def hierarchy(self) -> nx.DiGraph:
        """Subsumption among this view's symbols: an edge child → parent (classes and properties)."""
        g = nx.DiGraph()
        g.add_nodes_from(self.symbols)
        for s in self.symbols.values():
            for p in s.parents:
                if p in self.symbols:
                    g.add_edge(s.iri, p)
        for a, bs in self.equivalent.items():
            for b in bs:
                if a in self.symbols and b in self.symbols:
                    g.add_edge(a, b)
                    g.add_edge(b, a)
        return g

    def ancestors(self, iri: str) -> set[str]:
        """Every strict superclass (or superproperty) of ``iri`` in this view."""
        if iri not in self.hierarchy:
            return set()
        return nx.descendants(self.hierarchy, iri) - {iri}

    def descendants(self, iri: str) -> set[str]:
        if iri not in self.hierarchy:
            return set()
        return nx.ancestors(self.hierarchy, iri) - {iri}
