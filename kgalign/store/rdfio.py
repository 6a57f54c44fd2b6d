"""Conversions between kgalign's terms and pyoxigraph's, and result (de)serialisation.

pyoxigraph is kgalign's RDF library (parser, serialiser, embedded engine); only the store
package touches its types: everything here turns them into :mod:`kgalign.store.terms`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import pyoxigraph as ox

from kgalign.store.terms import (
    XSD_STRING,
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    Solution,
    Solutions,
    Term,
    Triple,
    Triples,
)

#: Result media types kgalign writes for SELECT/ASK, and RDF media types for CONSTRUCT.
RESULT_TYPES = (
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
)
RDF_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
    "text/n3": ox.RdfFormat.N3,
}

#: Result formats pyoxigraph writes exactly as :func:`serialize_results` does (up to JSON white space
#: and XML escaping); TSV is not among them (pyoxigraph abbreviates numbers there).
NATIVE_RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
}

#: How many source graph names of an N-Quads/TriG/JSON-LD file the provenance keeps.
MAX_SOURCE_GRAPHS = 100


def _clean_parser_message(e: SyntaxError) -> str:
    """pyoxigraph's message without the position (kgalign prints it as file:line:column).

    >>> _clean_parser_message(SyntaxError("Parser error at line 2 between columns 93 and 115: Quads must be followed by a dot"))
    'Quads must be followed by a dot'
    >>> _clean_parser_message(SyntaxError("Parser error between line 3 column 11 and line 4 column 1: Unexpected end of file"))
    'Unexpected end of file'
    """
    msg = str(e.args[0]) if e.args else str(e)
    msg = re.sub(r"^Parser error (at|between) (line|lines) [^:]*:\s*", "", msg)
    return msg.strip() or "syntax error"


def rdf_format(media_type: str) -> ox.RdfFormat:
    fmt = RDF_TYPES.get(media_type.split(";")[0].strip())
    if fmt is None:
        raise ValueError(f"unknown RDF media type {media_type!r}; known: {', '.join(RDF_TYPES)}")
    return fmt


# -- pyoxigraph -> kgalign -------------------------------------------------------------------


_DATATYPES: dict[str, NamedNode] = {}


def _datatype(iri: str) -> NamedNode:
    """One shared NamedNode per datatype IRI (a result holds a few datatypes over many literals)."""
    dt = _DATATYPES.get(iri)
    if dt is None:
        dt = NamedNode(iri)
        if len(_DATATYPES) < 1024:
            _DATATYPES[iri] = dt
    return dt


def from_ox(t: Any) -> Term | None:
    if t is None:
        return None
    if isinstance(t, ox.NamedNode):
        return NamedNode(t.value)
    if isinstance(t, ox.Literal):
        return Literal(t.value, datatype=_datatype(t.datatype.value), language=t.language)
    if isinstance(t, ox.BlankNode):
        return BlankNode(t.value)
    if isinstance(t, ox.DefaultGraph):
        return DefaultGraph()  # type: ignore[return-value]
    raise TypeError(f"unsupported RDF term {t!r}")


def triple_from_ox(t: Any) -> Triple:
    return Triple(from_ox(t.subject), from_ox(t.predicate), from_ox(t.object))  # type: ignore[arg-type]


def quad_from_ox(q: Any) -> Quad:
    return Quad(from_ox(q.subject), from_ox(q.predicate), from_ox(q.object), from_ox(q.graph_name))  # type: ignore[arg-type]


def result_from_ox(res: Any) -> Solutions | Triples | bool:
    """Read a pyoxigraph result to the end into kgalign's types."""
    if isinstance(res, ox.QuerySolutions):
        names = [v.value for v in res.variables]
        n = len(names)
        rows = [Solution(names, [from_ox(sol[i]) for i in range(n)]) for sol in res]
        return Solutions(names, rows)
    if isinstance(res, ox.QueryTriples):
        return Triples(triple_from_ox(t) for t in res)
    return bool(res)


# -- kgalign -> pyoxigraph -------------------------------------------------------------------


def to_ox(t: Any) -> Any:
    if isinstance(t, NamedNode):
        return ox.NamedNode(t.value)
    if isinstance(t, Literal):
        if t.language:
            return ox.Literal(t.value, language=t.language)
        return ox.Literal(t.value, datatype=ox.NamedNode(t.datatype.value))
    if isinstance(t, BlankNode):
        return ox.BlankNode(t.value)
    if isinstance(t, DefaultGraph) or t is None:
        return ox.DefaultGraph()
    raise TypeError(f"unsupported RDF term {t!r}")


def triple_to_ox(t: Triple | Quad) -> ox.Triple:
    return ox.Triple(to_ox(t.subject), to_ox(t.predicate), to_ox(t.object))


# -- serialisation ---------------------------------------------------------------------------


def serialize_triples(
    triples: Iterable[Triple], media_type: str = "application/n-triples", prefixes: dict[str, str] | None = None
) -> bytes:
    """Triples in ``media_type``; ``prefixes`` are declared where the format has them (Turtle)."""
    fmt = rdf_format(media_type)
    kw = {"prefixes": prefixes} if prefixes and fmt == ox.RdfFormat.TURTLE else {}
    return ox.serialize((triple_to_ox(t) for t in triples), format=fmt, **kw)  # type: ignore[return-value]


def ntriples_lines(triples: Iterable[Triple | Quad]) -> Iterator[str]:
    for t in triples:
        yield f"{t.subject} {t.predicate} {t.object} .\n"


def _json_term(t: Term) -> dict[str, str]:
    if isinstance(t, NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, BlankNode):
        return {"type": "bnode", "value": t.value}
    d = {"type": "literal", "value": t.value}
    if t.language:
        d["xml:lang"] = t.language
    elif t.datatype.value != XSD_STRING:
        d["datatype"] = t.datatype.value
    return d


def _xml_term(t: Term) -> str:
    if isinstance(t, NamedNode):
        return f"<uri>{xml_escape(t.value)}</uri>"
    if isinstance(t, BlankNode):
        return f"<bnode>{xml_escape(t.value)}</bnode>"
    if t.language:
        return f'<literal xml:lang="{xml_escape(t.language)}">{xml_escape(t.value)}</literal>'
    if t.datatype.value != XSD_STRING:
        return f'<literal datatype="{xml_escape(t.datatype.value)}">{xml_escape(t.value)}</literal>'
    return f"<literal>{xml_escape(t.value)}</literal>"


def _tsv_term(t: Term | None) -> str:
    return "" if t is None else str(t).replace("\t", "\\t")


def serialize_results(res: Solutions | bool, media_type: str) -> bytes:
    """SELECT solutions or an ASK answer in a SPARQL results format (JSON, XML, CSV, TSV)."""
    mt = media_type.split(";")[0].strip()
    if isinstance(res, bool):
        if mt == "application/sparql-results+json":
            return json.dumps({"head": {}, "boolean": res}).encode()
        if mt == "application/sparql-results+xml":
            return (
                '<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
                f"<boolean>{'true' if res else 'false'}</boolean></sparql>"
            ).encode()
        return ("true" if res else "false").encode()
    names = res.variables
    if mt == "application/sparql-results+json":
        bindings = [
            {n: _json_term(t) for n, t in zip(names, row, strict=True) if t is not None} for row in res
        ]
        return json.dumps({"head": {"vars": names}, "results": {"bindings": bindings}}, ensure_ascii=False).encode()
    if mt == "application/sparql-results+xml":
        out = ['<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
        out.extend(f'<variable name="{xml_escape(n)}"/>' for n in names)
        out.append("</head><results>")
        for row in res:
            out.append("<result>")
            out.extend(
                f'<binding name="{xml_escape(n)}">{_xml_term(t)}</binding>'
                for n, t in zip(names, row, strict=True) if t is not None
            )
            out.append("</result>")
        out.append("</results></sparql>")
        return "".join(out).encode()
    if mt == "text/csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(names)
        for row in res:
            w.writerow(["" if t is None else (t.value if not isinstance(t, BlankNode) else str(t)) for t in row])
        return buf.getvalue().encode()
    if mt == "text/tab-separated-values":
        lines = ["\t".join("?" + n for n in names)]
        lines.extend("\t".join(_tsv_term(t) for t in row) for row in res)
        return ("\n".join(lines) + "\n").encode()
    raise ValueError(f"unknown results media type {media_type!r}; known: {', '.join(RESULT_TYPES)}")


def serialize_result(res: Solutions | Triples | bool, choose: Any) -> tuple[bytes, str]:
    """A kgalign result in the media type ``choose(kind)`` names (``"solutions"`` or ``"graph"``)."""
    if isinstance(res, Triples):
        mt = choose("graph")
        return serialize_triples(res, mt), mt
    mt = choose("solutions")
    return serialize_results(res, mt), mt


def _term_from_json(d: dict[str, Any]) -> Term:
    kind = d.get("type")
    if kind == "uri":
        return NamedNode(d["value"])
    if kind == "bnode":
        return BlankNode(d["value"])
    if kind in ("literal", "typed-literal"):
        lang = d.get("xml:lang")
        dt = d.get("datatype")
        return Literal(d["value"], datatype=_datatype(dt) if dt and not lang else None, language=lang)
    raise ValueError(f"unknown term type {kind!r} in SPARQL JSON results")


def parse_json_results(body: bytes) -> Solutions | bool:
    """SPARQL 1.1 Query Results JSON into kgalign's types."""
    data = json.loads(body)
    if "boolean" in data:
        return bool(data["boolean"])
    names = list(data.get("head", {}).get("vars", []))
    if names == ["__ASK_RETVAL"]:  # Virtuoso 7 answers ASK as one row holding 1 (or no row) in JSON
        return any(b.get("__ASK_RETVAL", {}).get("value") not in (None, "0", "false")
                   for b in data.get("results", {}).get("bindings", []))
    rows = [
        Solution(names, [_term_from_json(b[n]) if n in b else None for n in names])
        for b in data.get("results", {}).get("bindings", [])
    ]
    return Solutions(names, rows)


def parse_triples(body: bytes, media_type: str = "application/n-triples") -> Triples:
    return Triples(triple_from_ox(q) for q in ox.parse(body, format=rdf_format(media_type)))
