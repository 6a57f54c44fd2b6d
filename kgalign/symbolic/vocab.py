"""The IRIs kgalign writes and reads: its own vocabulary and the standard ones.

kgalign's vocabulary lives under ``https://w3id.org/kgalign/vocab#`` (prefix ``kga:``).
Its named graphs have ``urn:kgalign:`` IRIs: one graph per artefact
(``urn:kgalign:graph:<name>``), plus the provenance, neural and mapping graphs, and the
store's own journal and staging graphs (hidden from queries).
"""

from __future__ import annotations

KGA = "https://w3id.org/kgalign/vocab#"
GRAPH_PREFIX = "urn:kgalign:graph:"
STAGING_PREFIX = "urn:kgalign:staging:"
PROVENANCE_GRAPH = "urn:kgalign:provenance"
#: The pending-write journal of the store (never visible to queries while it holds entries).
JOURNAL_GRAPH = "urn:kgalign:journal"
NEURAL_GRAPH = "urn:kgalign:neural"
MAPPINGS_GRAPH = "urn:kgalign:mappings"

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
DC = "http://purl.org/dc/elements/1.1/"
OBO = "http://purl.obolibrary.org/obo/"
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"
PROV = "http://www.w3.org/ns/prov#"
SCHEMA = "http://schema.org/"
IAO_DEFINITION = OBO + "IAO_0000115"

#: Prefixes every query gets unless it declares its own.
STANDARD_PREFIXES: dict[str, str] = {
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "dc": DC,
    "obo": OBO,
    "oboInOwl": OBOINOWL,
    "prov": PROV,
    "schema": SCHEMA,
    "kga": KGA,
}


def graph_iri(name: str) -> str:
    """The named-graph IRI of the artefact called ``name``.

    >>> graph_iri("tort-owl")
    'urn:kgalign:graph:tort-owl'
    """
    return GRAPH_PREFIX + name


def graph_name(iri: str) -> str:
    """Inverse of :func:`graph_iri`; other IRIs are returned unchanged."""
    return iri[len(GRAPH_PREFIX):] if iri.startswith(GRAPH_PREFIX) else iri


def local_name(iri: str) -> str:
    """The part of an IRI after its last ``#``, ``/`` or ``:``.

    >>> local_name("http://cmt#Regular_author")
    'Regular_author'
    >>> local_name("https://example.org/negligence/thesaurus/c0101")
    'c0101'
    """
    for sep in ("#", "/", ":"):
        if sep in iri:
            tail = iri.rsplit(sep, 1)[1]
            if tail:
                return tail
    return iri
