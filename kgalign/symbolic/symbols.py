"""The ``Symbol`` model: what kgalign knows of one named thing in one artefact.

Symbols are read from the store graph by graph. Where an artefact has no labels
(the OAEI Conference ontologies use local names like ``Regular_author``), a
readable label is derived from the local name.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from kgalign.store.base import Store, escape_iri
from kgalign.store.terms import Literal, NamedNode
from kgalign.symbolic.vocab import (
    DC,
    DCTERMS,
    IAO_DEFINITION,
    OBO,
    OBOINOWL,
    OWL,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    graph_iri,
    graph_name,
    local_name,
)

KINDS = ("class", "object_property", "data_property", "annotation_property", "property", "individual", "concept",
         "rule")
SWRL = "http://www.w3.org/2003/11/swrl#"
SWRLB = "http://www.w3.org/2003/11/swrlb#"

_TYPE_KIND = {
    OWL + "Class": "class",
    RDFS + "Class": "class",
    OWL + "ObjectProperty": "object_property",
    OWL + "DatatypeProperty": "data_property",
    OWL + "AnnotationProperty": "annotation_property",
    RDF + "Property": "property",
    OWL + "TransitiveProperty": "object_property",
    OWL + "SymmetricProperty": "object_property",
    OWL + "FunctionalProperty": "property",
    OWL + "InverseFunctionalProperty": "object_property",
    SKOS + "Concept": "concept",
    OWL + "NamedIndividual": "individual",
    SWRL + "Imp": "rule",
}
# When a subject has several types, the most specific kind wins.
_KIND_RANK = {k: i for i, k in enumerate(("rule", "concept", "class", "object_property", "data_property",
                                          "annotation_property", "property", "individual"))}

_PREF_LABEL = (SKOS + "prefLabel", RDFS + "label", SCHEMA + "name", DCTERMS + "title", DC + "title")
#: alternative names and the scope each encoding gives them (``exact`` names the same thing;
#: ``related``/``narrow``/``broad`` are weaker evidence; ``hidden`` is for resolution only — a
#: misspelling or search form, never a display or probing name). Objects may be literals or
#: resources carrying the text in ``rdfs:label`` (OBO-derived OWL writes synonyms that way).
SYNONYM_SCOPES: dict[str, str] = {
    SKOS + "altLabel": "exact",
    OBOINOWL + "hasExactSynonym": "exact",
    OBO + "IAO_0000118": "exact",  # IAO "alternative term"
    SCHEMA + "alternateName": "exact",
    OBOINOWL + "hasRelatedSynonym": "related",
    OBOINOWL + "hasNarrowSynonym": "narrow",
    OBOINOWL + "hasBroadSynonym": "broad",
    SKOS + "hiddenLabel": "hidden",
}
_ALT_LABEL = tuple(SYNONYM_SCOPES)
_DEFINITION = (SKOS + "definition", IAO_DEFINITION, RDFS + "comment", DCTERMS + "description",
               SCHEMA + "description", SKOS + "scopeNote")
_PARENT = (RDFS + "subClassOf", RDFS + "subPropertyOf", SKOS + "broader")
_CHILD_OF_SUBJECT = (SKOS + "narrower",)  # ?s skos:narrower ?o  means ?s is a parent of ?o
#: Kept for resolution only: hidden labels (often misspellings) are never synonyms in probing or matching.
_HIDDEN_LABEL = (SKOS + "hiddenLabel",)
_NOTATION = (SKOS + "notation",)
_STANDARD_NS = (RDF, RDFS, OWL, "http://www.w3.org/2001/XMLSchema#", SKOS, SWRL, SWRLB)


@dataclass(frozen=True)
class Symbol:
    """One named thing of one artefact: an OWL class or property, an individual, a SKOS concept."""

    iri: str
    graph: str
    kind: str
    label: str
    alt_labels: tuple[str, ...] = ()
    definitions: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    label_derived: bool = False
    #: every alternative name with its scope: ``(scope, text)``, scope in ``exact``, ``related``,
    #: ``narrow``, ``broad``, ``hidden`` (see :data:`SYNONYM_SCOPES`); ``alt_labels`` holds all but
    #: the hidden ones (a hidden label is for resolution only, never a display or probing name)
    synonyms: tuple[tuple[str, str], ...] = ()
    #: skos:hiddenLabel values: found by resolution, never used as synonyms.
    hidden_labels: tuple[str, ...] = ()
    #: skos:notation values (codes such as "C0101"): found by resolution.
    notations: tuple[str, ...] = ()

    @property
    def lookup_names(self) -> tuple[str, ...]:
        """Every name resolution accepts: label, alternative and hidden labels, notations."""
        return tuple(dict.fromkeys((*self.names, *self.hidden_labels, *self.notations)))

    def __post_init__(self) -> None:
        if any(not isinstance(x, tuple) for x in self.synonyms):  # from JSON: lists of lists
            object.__setattr__(self, "synonyms", tuple(tuple(x) for x in self.synonyms))

    @property
    def local_name(self) -> str:
        return local_name(self.iri)

    @property
    def definition(self) -> str | None:
        return self.definitions[0] if self.definitions else None

    @property
    def names(self) -> tuple[str, ...]:
        """The label, then every alternative label, without repeats."""
        return tuple(dict.fromkeys((self.label, *self.alt_labels)))

    def to_dict(self) -> dict[str, object]:
        return {
            "iri": self.iri,
            "graph": self.graph,
            "kind": self.kind,
            "label": self.label,
            "alt_labels": list(self.alt_labels),
            "definitions": list(self.definitions),
            "parents": list(self.parents),
            "children": list(self.children),
            "types": list(self.types),
            "domains": list(self.domains),
            "ranges": list(self.ranges),
            "label_derived": self.label_derived,
            "synonyms": [list(x) for x in self.synonyms],
            "hidden_labels": list(self.hidden_labels),
            "notations": list(self.notations),
        }


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])")


def split_words(name: str) -> list[str]:
    """Split an identifier into words at underscores, hyphens, spaces and camelCase humps.

    >>> split_words("hasSubjectArea")
    ['has', 'Subject', 'Area']
    >>> split_words("Regular_author")
    ['Regular', 'author']
    >>> split_words("PCMember")
    ['PC', 'Member']
    """
    parts = re.split(r"[\s_\-./]+", name)
    words: list[str] = []
    for part in parts:
        if part:
            words.extend(w for w in _CAMEL.split(part) if w)
    return words


def derive_label(name: str) -> str:
    """A readable label from a local name: words split, lower-cased except acronyms.

    >>> derive_label("Regular_author")
    'regular author'
    >>> derive_label("hasSubjectArea")
    'has subject area'
    >>> derive_label("PC_member")
    'PC member'
    """
    words = split_words(name)
    return " ".join(w if (w.isupper() and len(w) > 1) else w.lower() for w in words) or name


def normalise(text: str) -> str:
    """The key names are matched on: words split, lower-cased, joined by single spaces.

    >>> normalise("DutyOfCare") == normalise("duty_of_care") == normalise("Duty of  care")
    True
    """
    return " ".join(w.lower() for w in split_words(text))


def name_key(text: str) -> str:
    """The loosest key names are matched on: case, spaces, underscores, hyphens, punctuation and
    camelCase humps all ignored (Unicode-aware: any case variant of a name has the same key).

    >>> name_key("Regular_author") == name_key("regularAuthor") == name_key("REGULAR AUTHOR")
    True
    >>> name_key("rEgUlAr-AuThOr")
    'regularauthor'
    """
    def fold(t: str) -> str:
        return unicodedata.normalize("NFKC", t).casefold()

    folded = fold(fold(text).upper())
    key = "".join(ch for ch in folded if ch.isalnum())
    return key or " ".join(folded.split())


def _pick_literal(values: list[Literal]) -> list[str]:
    """Literal strings, English and untagged first, without repeats."""
    def rank(lit: Literal) -> int:
        lang = (lit.language or "").lower()
        return 0 if lang in ("en", "") or lang.startswith("en-") else 1

    return list(dict.fromkeys(v.value.strip() for v in sorted(values, key=rank) if v.value.strip()))


def _values(store: Store, g: str, preds: tuple[str, ...], keep: set[str] | None = None,
            iris_only: bool = False) -> dict[str, dict[str, list]]:
    """subject IRI -> predicate -> [object terms] for the given predicates in graph ``g`` (only the
    subjects in ``keep`` when given; only IRI objects, as strings, when ``iris_only``). Rows are
    streamed: only what is kept is held."""
    vals = " ".join(f"<{p}>" for p in preds)
    rows = store.select_iter(
        f"SELECT ?s ?p ?o WHERE {{ GRAPH <{escape_iri(g)}> {{ VALUES ?p {{ {vals} }} ?s ?p ?o . FILTER(isIRI(?s)) }} }}"
    )
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    pred = {p: p for p in preds}  # one string per predicate, not one per row
    for r in rows:
        s = r["s"].value
        if keep is None or s in keep:
            o = r["o"]
            if iris_only:
                if not isinstance(o, NamedNode):
                    continue
                o = o.value
            out[s][pred[r["p"].value]].append(o)
    return out


def _synonym_resource_labels(store: Store, g: str) -> dict[str, list[str]]:
    """Synonym objects that are resources (IRIs or blank nodes) -> their ``rdfs:label`` texts."""
    vals = " ".join(f"<{p}>" for p in _ALT_LABEL)
    rows = store.select_iter(
        f"SELECT DISTINCT ?o ?l WHERE {{ GRAPH <{escape_iri(g)}> {{ VALUES ?p {{ {vals} }} "
        f"?s ?p ?o . FILTER(!isLiteral(?o)) ?o <{RDFS}label> ?l . FILTER(isLiteral(?l)) }} }}"
    )
    out: dict[str, list[Literal]] = defaultdict(list)
    for r in rows:
        out[str(r["o"])].append(r["l"])
    return {k: _pick_literal(v) for k, v in out.items()}


def read_symbols(store: Store, graph: str) -> list[Symbol]:
    """Every symbol of the artefact ``graph`` (a name), sorted by IRI."""
    g = graph_iri(graph)
    kinds: dict[str, str] = {}
    types: dict[str, list[str]] = defaultdict(list)
    q = f"SELECT ?s ?t WHERE {{ GRAPH <{escape_iri(g)}> {{ ?s a ?t . FILTER(isIRI(?s) && isIRI(?t)) }} }}"
    for r in store.select_iter(q):
        s, t = r["s"].value, r["t"].value
        kind = _TYPE_KIND.get(t)
        if kind is None:
            types[s].append(t)
            continue
        if s.startswith(_STANDARD_NS):
            continue
        prev = kinds.get(s)
        if prev is None or _KIND_RANK[kind] < _KIND_RANK[prev]:
            kinds[s] = kind
    # SWRL variables (and anything typed with the SWRL vocabulary) are never symbols.
    variables = {s for s, ts in types.items() if SWRL + "Variable" in ts}
    for v in variables:
        kinds.pop(v, None)
    # Individuals: subjects typed with a class of their own vocabulary (declared here or not) or
    # owl:Thing, unless they are already something else. Types from the standard vocabularies
    # (owl:Ontology, rdfs:Datatype, skos:ConceptScheme...) do not make an individual.
    for s, ts in types.items():
        if s not in kinds and s not in variables and not s.startswith(_STANDARD_NS) and any(
            t == OWL + "Thing" or not t.startswith(_STANDARD_NS) for t in ts
        ):
            kinds[s] = "individual"
    # Classes used in subClassOf without a declaration are still classes.
    for r in store.select_iter(
        f"SELECT DISTINCT ?c WHERE {{ GRAPH <{escape_iri(g)}> {{ {{ ?c <{RDFS}subClassOf> ?x }} UNION {{ ?x <{RDFS}subClassOf> ?c }} FILTER(isIRI(?c)) }} }}"
    ):
        c = r["c"].value
        if c not in kinds and not c.startswith(_STANDARD_NS):
            kinds[c] = "class"

    # One streamed read of every name and definition of the symbols (the predicate sets are
    # disjoint, so one dict per subject serves them all), and one of the relations (IRIs only).
    values = _values(store, g, _PREF_LABEL + _ALT_LABEL + _NOTATION + _DEFINITION, set(kinds))
    syn_labels = _synonym_resource_labels(store, g)
    rels = _values(store, g, _PARENT + _CHILD_OF_SUBJECT + (RDFS + "domain", RDFS + "range"), iris_only=True)

    parents: dict[str, list[str]] = defaultdict(list)
    for s, by_p in rels.items():
        for p in _PARENT:
            for o in by_p.get(p, ()):
                if o != s and not o.startswith(_STANDARD_NS):
                    parents[s].append(o)
        for o in by_p.get(SKOS + "narrower", ()):
            if o != s:
                parents[o].append(s)
    children: dict[str, list[str]] = defaultdict(list)
    for s, ps in parents.items():
        for p in dict.fromkeys(ps):
            children[p].append(s)

    symbols: list[Symbol] = []
    for iri in sorted(kinds):
        # each subject's rows are dropped once its symbol is built: the read's peak is not rows + symbols
        by_label = by_alt = by_def = values.pop(iri, {})
        names: list[str] = []
        for p in _PREF_LABEL:
            names.extend(_pick_literal([o for o in by_label.get(p, ()) if isinstance(o, Literal)]))
        names = list(dict.fromkeys(names))
        alt: list[str] = []
        scoped: list[tuple[str, str]] = []
        for p in _ALT_LABEL:
            terms = by_alt.get(p, ())
            texts = _pick_literal([o for o in terms if isinstance(o, Literal)])
            for o in terms:  # resource-valued synonyms: the text is the resource's rdfs:label
                if not isinstance(o, Literal):
                    texts.extend(t for t in syn_labels.get(str(o), ()) if t not in texts)
            scope = SYNONYM_SCOPES[p]
            scoped.extend((scope, t) for t in texts)
            if scope != "hidden":
                alt.extend(texts)
        definitions: list[str] = []
        for p in _DEFINITION:
            definitions.extend(_pick_literal([o for o in by_def.get(p, ()) if isinstance(o, Literal)]))
        hidden = _pick_literal([o for o in by_alt.get(_HIDDEN_LABEL[0], ()) if isinstance(o, Literal)])
        notations = _pick_literal([o for o in by_alt.get(_NOTATION[0], ()) if isinstance(o, Literal)])
        if kinds[iri] == "rule" and not names:
            from kgalign.symbolic.rules import rule_label

            names = [rule_label(store, graph, iri)]
        derived = not names
        label = names[0] if names else derive_label(local_name(iri))
        alt_labels = tuple(dict.fromkeys(a for a in (*names[1:], *alt) if a != label))
        r = rels.pop(iri, {})
        symbols.append(
            Symbol(
                iri=iri,
                graph=graph,
                kind=kinds[iri],
                label=label,
                alt_labels=alt_labels,
                definitions=tuple(dict.fromkeys(definitions)),
                parents=tuple(dict.fromkeys(parents.get(iri, ()))),
                children=tuple(dict.fromkeys(children.get(iri, ()))),
                types=tuple(dict.fromkeys(types.get(iri, ()))),
                domains=tuple(r.get(RDFS + "domain", ())),
                ranges=tuple(r.get(RDFS + "range", ())),
                label_derived=derived,
                synonyms=tuple(dict.fromkeys(x for x in scoped if x[1] != label)),
                hidden_labels=tuple(h for h in hidden if h != label and h not in alt_labels),
                notations=tuple(notations),
            )
        )
    return symbols


def artefact_names(store: Store) -> list[str]:
    return [gi.name for gi in store.graphs()]


__all__ = [
    "KINDS",
    "Symbol",
    "derive_label",
    "name_key",
    "normalise",
    "read_symbols",
    "split_words",
    "graph_name",
    "artefact_names",
]
