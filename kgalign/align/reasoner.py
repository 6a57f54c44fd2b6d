"""HermiT on the merged ontologies (owlready2 + Java), for the optional repair pass.

:func:`unsatisfiable` writes each artefact graph from the store as N-Triples (with
datatypes outside the OWL 2 datatype map, like ``xsd:date``, turned into
``rdfs:Literal`` so HermiT accepts them), adds the mappings as
``owl:equivalentClass``/``owl:equivalentProperty`` axioms, classifies, and returns the
IRIs of the unsatisfiable classes. Each call starts a JVM: count on a second or more.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kgalign.align.candidates import MappingCandidate
from kgalign.errors import KgalignError
from kgalign.store import terms as ox  # kgalign's own RDF terms (named as pyoxigraph names them)
from kgalign.store.rdfio import serialize_triples
from kgalign.symbolic.vocab import OWL, RDF, RDFS, XSD, graph_iri

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

#: The OWL 2 datatype map (https://www.w3.org/TR/owl2-syntax/#Datatype_Maps).
OWL2_DATATYPES = frozenset(
    [XSD + t for t in (
        "decimal integer nonNegativeInteger nonPositiveInteger positiveInteger negativeInteger long int "
        "short byte unsignedLong unsignedInt unsignedShort unsignedByte double float string "
        "normalizedString token language Name NCName NMTOKEN boolean hexBinary base64Binary anyURI "
        "dateTime dateTimeStamp"
    ).split()]
    + [RDF + "PlainLiteral", RDF + "XMLLiteral", RDF + "langString", RDFS + "Literal", OWL + "real", OWL + "rational"]
)


class ReasonerError(KgalignError):
    """HermiT could not run (no Java, or the ontologies are outside what it handles)."""

    exit_code = 8


def _sanitised(quads: Sequence[ox.Quad]) -> list[ox.Triple]:
    out = []
    lit = ox.NamedNode(RDFS + "Literal")
    for q in quads:
        o = q.object
        if isinstance(o, ox.NamedNode) and o.value.startswith(XSD) and o.value not in OWL2_DATATYPES:
            o = lit
        elif isinstance(o, ox.Literal) and o.datatype.value.startswith(XSD) and o.datatype.value not in OWL2_DATATYPES:
            o = ox.Literal(o.value)
        out.append(ox.Triple(q.subject, q.predicate, o))
    return out


def _write_graph(ws: Workspace, graph: str, path: Path) -> None:
    triples = _sanitised(list(ws.store.quads(graph=graph_iri(graph))))
    with open(path, "wb") as f:
        f.write(serialize_triples(triples))


def unsatisfiable(ws: Workspace, graphs: Sequence[str], mappings: Sequence[MappingCandidate]) -> set[str]:
    """IRIs of the classes HermiT finds unsatisfiable in ``graphs`` merged with ``mappings``."""
    try:
        from owlready2 import World, sync_reasoner
        from owlready2.base import OwlReadyError
    except ImportError as e:  # pragma: no cover - owlready2 is a dependency
        raise ReasonerError(f"owlready2 is not installed: {e}") from None
    with tempfile.TemporaryDirectory(prefix="kgalign-hermit-") as tmp:
        world = World()
        for g in graphs:
            p = Path(tmp) / f"{g}.nt"
            _write_graph(ws, g, p)
            world.get_ontology(p.as_uri()).load(format="ntriples")
        lines = []
        for m in mappings:
            if m.relation != "=":
                continue
            pred = OWL + ("equivalentClass" if m.category in ("class", "") else "equivalentProperty")
            lines.append(f"<{m.subject}> <{pred}> <{m.object}> .")
        mp = Path(tmp) / "mappings.nt"
        mp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        world.get_ontology(mp.as_uri()).load(format="ntriples")
        try:
            with world.get_ontology("urn:kgalign:hermit"):
                sync_reasoner(world, infer_property_values=False, debug=0)
        except FileNotFoundError:
            raise ReasonerError("HermiT needs Java: 'java' was not found on PATH") from None
        except OwlReadyError as e:
            first = str(e).strip().splitlines()
            msg = next((ln for ln in first if "Exception" in ln), first[-1] if first else "unknown error")
            raise ReasonerError(f"HermiT failed: {msg}") from None
        out = set()
        for c in world.inconsistent_classes():
            iri = getattr(c, "iri", None)
            if iri and iri != OWL + "Nothing":
                out.add(iri)
        return out
