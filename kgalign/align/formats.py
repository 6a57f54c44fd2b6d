"""Reading and writing alignments: Alignment API RDF, SSSOM TSV, and RDF in the store.

- **Alignment API RDF/XML** (the OAEI format): :func:`read_alignment_rdf`,
  :func:`write_alignment_rdf`.
- **SSSOM TSV** with a YAML header (curie map, mapping set id, licence), one row per
  mapping with labels, ``predicate_id`` (SKOS), ``mapping_justification`` (SEMAPV),
  ``confidence`` and the evidence in ``comment``: :func:`write_sssom`,
  :func:`read_sssom`. The output passes ``sssom validate``.
- **The store**: :func:`export_to_store` writes mappings into the named graph
  ``urn:kgalign:mappings`` — a direct ``skos:exactMatch`` (etc.) triple per mapping,
  plus a reified ``kga:Mapping`` resource with ``kga:subject``, ``kga:object``,
  ``kga:predicate``, ``kga:relation``, ``kga:confidence``, ``kga:justification`` and one
  ``kga:Evidence`` resource per piece of evidence; :func:`read_from_store` reads them
  back.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from kgalign.align.candidates import RELATIONS, Alignment, Evidence, MappingCandidate
from kgalign.errors import LoadError, UsageError
from kgalign.store import terms as ox  # kgalign's own RDF terms (named as pyoxigraph names them)
from kgalign.symbolic.vocab import KGA, MAPPINGS_GRAPH, OWL, RDF, RDFS, SKOS, XSD, graph_iri, graph_name

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

ALIGN_NS = "http://knowledgeweb.semanticweb.org/heterogeneity/alignment#"
SEMAPV = "https://w3id.org/semapv/vocab/"
SSSOM_LICENSE = "https://creativecommons.org/publicdomain/zero/1.0/"
TOOL = "kgalign"

# -- Alignment API RDF ------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(el: ET.Element, name: str) -> str | None:
    for k, v in el.attrib.items():
        if _local(k) == name:
            return v
    return None


def read_alignment_rdf(
    path: str | Path, *, source_graph: str = "", target_graph: str = ""
) -> Alignment:
    """An Alignment API RDF/XML file as an :class:`Alignment` (``entity1`` → subject).

    Malformed XML raises :class:`LoadError` with the line and column.
    """
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except ET.ParseError as e:
        line, col = e.position
        raise LoadError(f"not well-formed XML: {e.msg if hasattr(e, 'msg') else e}", path=str(p), line=line,
                        column=col + 1) from None
    except OSError as e:
        raise LoadError(f"cannot read: {e.strerror}", path=str(p)) from None
    onto: dict[str, str] = {}
    for el in root.iter():
        name = _local(el.tag)
        if name in ("onto1", "onto2"):
            inner = next(iter(el), None)
            about = _attr(inner, "about") if inner is not None else None
            onto[name] = about or (el.text or "").strip()
    mappings: list[MappingCandidate] = []
    for cell in root.iter():
        if _local(cell.tag) != "Cell":
            continue
        e1 = e2 = None
        relation, measure = "=", 1.0
        for child in cell:
            n = _local(child.tag)
            if n == "entity1":
                e1 = _attr(child, "resource")
            elif n == "entity2":
                e2 = _attr(child, "resource")
            elif n == "relation":
                relation = (child.text or "=").strip()
            elif n == "measure":
                try:
                    measure = float((child.text or "1").strip())
                except ValueError:
                    raise LoadError(f"measure {child.text!r} is not a number", path=str(p)) from None
        if e1 is None or e2 is None:
            raise LoadError("a Cell lacks entity1 or entity2", path=str(p))
        if relation not in RELATIONS:
            relation = "~"  # relations kgalign has no SKOS property for (%, HasInstance...) read as related
        mappings.append(
            MappingCandidate(
                subject=e1,
                subject_graph=source_graph,
                object=e2,
                object_graph=target_graph,
                relation=relation,
                confidence=measure,
                evidence=(Evidence("external", measure, f"read from {p.name}"),),
            )
        )
    return Alignment(
        source_graph=source_graph,
        target_graph=target_graph,
        mappings=mappings,
        source_ontology=onto.get("onto1", ""),
        target_ontology=onto.get("onto2", ""),
        metadata={"source_file": str(p)},
    )


def artefact_iri(ws: Workspace | None, graph: str) -> str:
    """The IRI that names an artefact: its ``owl:Ontology``, else its ``skos:ConceptScheme``, else
    (a JSON-LD KG, a rule base...) its graph IRI ``urn:kgalign:graph:NAME``."""
    if not graph:
        return ""
    if ws is not None:
        from kgalign.symbolic.store import escape_iri

        for t in (OWL + "Ontology", SKOS + "ConceptScheme"):
            for r in ws.store.query(
                f"SELECT ?o WHERE {{ GRAPH <{escape_iri(graph_iri(graph))}> {{ ?o a <{t}> FILTER(isIRI(?o)) }} }} "
                "ORDER BY ?o LIMIT 1"
            ):
                return r["o"].value
    return graph_iri(graph)


def _ontologies(alignment: Alignment, ws: Workspace | None = None) -> tuple[str, str]:
    return (alignment.source_ontology or artefact_iri(ws, alignment.source_graph),
            alignment.target_ontology or artefact_iri(ws, alignment.target_graph))


def alignment_rdf(alignment: Alignment, workspace: Workspace | None = None) -> str:
    """The Alignment API RDF/XML text of ``alignment``; ``onto1``/``onto2`` name both artefacts
    whatever their kind (see :func:`artefact_iri`)."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<rdf:RDF xmlns="{ALIGN_NS}"',
        f'         xmlns:rdf="{RDF}"',
        f'         xmlns:xsd="{XSD}">',
        "<Alignment>",
        "  <xml>yes</xml>",
        "  <level>0</level>",
        "  <type>??</type>",
    ]
    for tag, iri in zip(("onto1", "onto2"), _ontologies(alignment, workspace), strict=True):
        if iri:
            out += [f"  <{tag}>", f"    <Ontology rdf:about={quoteattr(iri)}/>", f"  </{tag}>"]
    for m in alignment.mappings:
        out += [
            "  <map>",
            "    <Cell>",
            f"      <entity1 rdf:resource={quoteattr(m.subject)}/>",
            f"      <entity2 rdf:resource={quoteattr(m.object)}/>",
            f"      <relation>{escape(m.relation)}</relation>",
            f'      <measure rdf:datatype="{XSD}float">{m.confidence:.6g}</measure>',
            "    </Cell>",
            "  </map>",
        ]
    out += ["</Alignment>", "</rdf:RDF>", ""]
    return "\n".join(out)


def write_alignment_rdf(alignment: Alignment, path: str | Path, workspace: Workspace | None = None) -> Path:
    p = Path(path)
    p.write_text(alignment_rdf(alignment, workspace), encoding="utf-8")
    return p


# -- SSSOM TSV ---------------------------------------------------------------------------------

_ENTITY_TYPE = {
    "class": "owl class",
    "concept": "skos concept",
    "object_property": "owl object property",
    "data_property": "owl data property",
    "annotation_property": "owl annotation property",
    "property": "rdf property",
    "individual": "owl named individual",
    "rule": "composed entity expression",
}
#: A mapping's category when no symbol kind is known.
_CATEGORY_TYPE = {"class": "owl class", "concept": "skos concept", "individual": "owl named individual",
                  "object_property": "owl object property", "data_property": "owl data property",
                  "annotation_property": "owl annotation property", "property": "rdf property"}
_PREFIX_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_BUILTIN_PREFIXES = {
    "skos": SKOS,
    "semapv": SEMAPV,
    "owl": OWL,
    "rdfs": RDFS,
    "rdf": RDF,
}
SSSOM_COLUMNS = (
    "subject_id",
    "subject_label",
    "subject_type",
    "predicate_id",
    "object_id",
    "object_label",
    "object_type",
    "mapping_justification",
    "confidence",
    "subject_source",
    "object_source",
    "mapping_date",
    "mapping_tool",
    "mapping_tool_version",
    "comment",
)


def namespace_of(iri: str) -> str:
    """The namespace part of an IRI: up to and including the last ``#`` or ``/``.

    >>> namespace_of("http://cmt#Author"), namespace_of("https://example.org/tort/Duty")
    ('http://cmt#', 'https://example.org/tort/')
    """
    for sep in ("#", "/"):
        i = iri.rfind(sep)
        if i > len("https://") - 1 or (sep == "#" and i > 0):
            return iri[: i + 1]
    return iri


def _safe_prefix(name: str) -> str:
    p = re.sub(r"[^A-Za-z0-9_.\-]", "_", name) or "ns"
    if not re.match(r"[A-Za-z_]", p[0]):
        p = "ns_" + p
    return p


def curie_map_for(
    iris: Iterable[str], declared: dict[str, str] | None = None, hints: dict[str, str] | None = None
) -> dict[str, str]:
    """Prefix → namespace for every namespace among ``iris``.

    A namespace takes its prefix from ``declared`` (the artefacts' own prefixes) when one
    names it, else from ``hints`` (namespace → suggested prefix, e.g. the graph name), else
    from the namespace's last word; clashes get a numeric suffix.
    """
    declared = declared or {}
    hints = hints or {}
    by_ns = {ns: p for p, ns in declared.items() if p and _PREFIX_OK.match(p)}
    out: dict[str, str] = dict(_BUILTIN_PREFIXES)
    used = {ns: p for p, ns in out.items()}
    for iri in iris:
        ns = namespace_of(iri)
        if ns in used:
            continue
        base = by_ns.get(ns) or hints.get(ns)
        if not base:
            words = re.findall(r"[A-Za-z][A-Za-z0-9]*", ns.split("://", 1)[-1])
            base = words[-1] if words else "ns"
        base = _safe_prefix(base)
        prefix, i = base, 2
        while prefix in out:
            prefix, i = f"{base}{i}", i + 1
        out[prefix] = ns
        used[ns] = prefix
    return out


def _curie(iri: str, cmap: dict[str, str]) -> str:
    best = ""
    for p, ns in cmap.items():
        if iri.startswith(ns) and len(ns) > len(cmap.get(best, "")):
            best = p
    if not best:
        raise UsageError(f"no prefix for {iri!r} in the curie map")
    return f"{best}:{iri[len(cmap[best]):]}"


def _tsv_cell(value: str) -> str:
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sssom_tsv(
    alignments: Alignment | Iterable[Alignment],
    *,
    mapping_set_id: str | None = None,
    declared_prefixes: dict[str, str] | None = None,
    kinds: dict[str, str] | None = None,
    license: str = SSSOM_LICENSE,
    workspace: Workspace | None = None,
    mapping_date: str | None = None,
) -> str:
    """SSSOM TSV text for one or several alignments.

    ``subject_type``/``object_type`` come from each symbol's kind (``kinds``: IRI → kind, or the
    ``workspace``'s symbols; else the mapping's category): skos concept, owl class, owl object
    property, owl data property, owl annotation property, owl named individual, rdf property.
    Every row names its ``subject_source``/``object_source`` (the artefacts' IRIs, see
    :func:`artefact_iri`), ``mapping_date`` (today, UTC), ``mapping_tool`` and its version.
    """
    from kgalign import __version__

    als = [alignments] if isinstance(alignments, Alignment) else list(alignments)
    mappings = [m for a in als for m in a.mappings]
    if kinds is None and workspace is not None:
        table = workspace.symbol_table
        kinds = {}
        for m in mappings:
            for iri, g in ((m.subject, m.subject_graph or None), (m.object, m.object_graph or None)):
                sym = table.get(iri, g) or table.get(iri)
                if sym is not None:
                    kinds[iri] = sym.kind
    sources: dict[int, tuple[str, str]] = {id(a): _ontologies(a, workspace) for a in als}
    source_of = {id(m): sources[id(a)] for a in als for m in a.mappings}
    date = mapping_date or datetime.now(timezone.utc).date().isoformat()
    hints: dict[str, str] = {}
    for m in mappings:
        if m.subject_graph:
            hints.setdefault(namespace_of(m.subject), m.subject_graph)
        if m.object_graph:
            hints.setdefault(namespace_of(m.object), m.object_graph)
    source_iris = [i for pair in sources.values() for i in pair if i]
    cmap = curie_map_for([*(iri for m in mappings for iri in (m.subject, m.object)), *source_iris],
                         declared_prefixes, hints)
    if mapping_set_id is None:
        names = "-".join(dict.fromkeys(g for a in als for g in (a.source_graph, a.target_graph) if g)) or "mappings"
        mapping_set_id = f"https://w3id.org/kgalign/mappings/{_safe_prefix(names)}.sssom.tsv"
    kinds = kinds or {}

    def etype(iri: str, cat: str) -> str:
        k = kinds.get(iri)
        if k:
            return _ENTITY_TYPE.get(k, "")
        return _CATEGORY_TYPE.get(cat, "")

    def source(iri: str) -> str:
        return _curie(iri, cmap) if iri else ""

    head = [f"#mapping_set_id: {mapping_set_id}", f"#license: {license}", f"#mapping_tool: {TOOL}",
            f"#mapping_tool_version: {_yaml_str(__version__)}", f"#mapping_date: {_yaml_str(date)}", "#curie_map:"]
    head += [f"#  {p}: {_yaml_str(ns)}" for p, ns in cmap.items()]
    rows = ["\t".join(SSSOM_COLUMNS)]
    for m in mappings:
        comment = "; ".join(f"{e.kind} {e.score:.3f}: {e.detail}" for e in m.evidence)
        values = {
            "subject_id": _curie(m.subject, cmap),
            "subject_label": m.subject_label,
            "subject_type": etype(m.subject, m.category),
            "predicate_id": _curie(m.predicate, cmap),
            "object_id": _curie(m.object, cmap),
            "object_label": m.object_label,
            "object_type": etype(m.object, m.category),
            "mapping_justification": m.justification,
            "confidence": f"{min(max(m.confidence, 0.0), 1.0):.6g}",
            "subject_source": source(source_of[id(m)][0]),
            "object_source": source(source_of[id(m)][1]),
            "mapping_date": date,
            "mapping_tool": TOOL,
            "mapping_tool_version": __version__,
            "comment": comment,
        }
        rows.append("\t".join(_tsv_cell(values[c]) for c in SSSOM_COLUMNS))
    return "\n".join(head + rows) + "\n"


def write_sssom(alignments: Alignment | Iterable[Alignment], path: str | Path, **kw: Any) -> Path:
    p = Path(path)
    p.write_text(sssom_tsv(alignments, **kw), encoding="utf-8")
    return p


def read_sssom(path: str | Path) -> Alignment:
    """An SSSOM TSV file (as :func:`write_sssom` writes, or any with a ``#curie_map``) as one
    :class:`Alignment`; evidence is the justification and the comment."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise LoadError(f"cannot read: {e.strerror}", path=str(p)) from None
    cmap: dict[str, str] = {}
    in_map = False
    body_start = 0
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            body_start = i
            break
        text = line[1:]
        if text.strip() == "curie_map:":
            in_map = True
            continue
        if in_map and text.startswith("  ") and ":" in text:
            k, _, v = text.strip().partition(":")
            cmap[k.strip()] = v.strip().strip("'\"")
        else:
            in_map = False
    else:
        body_start = len(lines)
    if body_start >= len(lines):
        raise LoadError("no mapping table after the header", path=str(p))
    header = lines[body_start].split("\t")
    missing = {"subject_id", "predicate_id", "object_id", "mapping_justification"} - set(header)
    if missing:
        raise LoadError(f"missing columns: {', '.join(sorted(missing))}", path=str(p), line=body_start + 1)
    by_pred = {v: k for k, v in RELATIONS.items()}

    def expand(curie: str, line_no: int) -> str:
        prefix, sep, rest = curie.partition(":")
        if sep and prefix in cmap:
            return cmap[prefix] + rest
        if sep and prefix in _BUILTIN_PREFIXES:
            return _BUILTIN_PREFIXES[prefix] + rest
        raise LoadError(f"unknown prefix in {curie!r}", path=str(p), line=line_no)

    mappings = []
    for n, line in enumerate(lines[body_start + 1:], start=body_start + 2):
        if not line.strip():
            continue
        row = dict(zip(header, line.split("\t"), strict=False))
        pred = expand(row["predicate_id"], n)
        relation = by_pred.get(pred, "~")
        conf = float(row.get("confidence") or 1.0)
        ev = (Evidence("external", conf, f"{row['mapping_justification']}: {row.get('comment', '')}".strip(": ")),)
        mappings.append(
            MappingCandidate(
                subject=expand(row["subject_id"], n),
                subject_graph="",
                object=expand(row["object_id"], n),
                object_graph="",
                relation=relation,
                confidence=conf,
                evidence=ev,
                subject_label=row.get("subject_label", ""),
                object_label=row.get("object_label", ""),
                category="class" if row.get("subject_type") in ("owl class", "skos concept") else "",
            )
        )
    return Alignment(source_graph="", target_graph="", mappings=mappings, metadata={"source_file": str(p)})


# -- RDF in the store ----------------------------------------------------------------------------

_MAPPING_PREFIX = "urn:kgalign:mapping:"
_ALIGNMENT_PREFIX = "urn:kgalign:alignment:"


def _k(local: str) -> ox.NamedNode:
    return ox.NamedNode(KGA + local)


def alignment_iri(alignment: Alignment) -> str:
    return f"{_ALIGNMENT_PREFIX}{alignment.source_graph}--{alignment.target_graph}"


def mapping_iri(alignment: Alignment, m: MappingCandidate) -> str:
    h = hashlib.sha1(f"{m.subject}\n{m.relation}\n{m.object}".encode()).hexdigest()[:16]
    return f"{_MAPPING_PREFIX}{alignment.source_graph}--{alignment.target_graph}:{h}"


def alignment_quads(alignment: Alignment, graph: str = MAPPINGS_GRAPH) -> list[ox.Quad]:
    """The reified description of ``alignment`` (without the direct SKOS triples)."""
    g = ox.NamedNode(graph)
    a = ox.NamedNode(alignment_iri(alignment))
    dbl = ox.NamedNode(XSD + "double")
    quads = [
        ox.Quad(a, ox.NamedNode(RDF + "type"), _k("Alignment"), g),
        ox.Quad(a, _k("sourceGraph"), ox.NamedNode(graph_iri(alignment.source_graph)), g),
        ox.Quad(a, _k("targetGraph"), ox.NamedNode(graph_iri(alignment.target_graph)), g),
        ox.Quad(a, _k("createdAt"), ox.Literal(datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                                datatype=ox.NamedNode(XSD + "dateTime")), g),
    ]
    for m in alignment.mappings:
        r = ox.NamedNode(mapping_iri(alignment, m))
        quads += [
            ox.Quad(r, ox.NamedNode(RDF + "type"), _k("Mapping"), g),
            ox.Quad(r, _k("inAlignment"), a, g),
            ox.Quad(r, _k("subject"), ox.NamedNode(m.subject), g),
            ox.Quad(r, _k("object"), ox.NamedNode(m.object), g),
            ox.Quad(r, _k("predicate"), ox.NamedNode(m.predicate), g),
            ox.Quad(r, _k("relation"), ox.Literal(m.relation), g),
            ox.Quad(r, _k("confidence"), ox.Literal(repr(float(m.confidence)), datatype=dbl), g),
            ox.Quad(r, _k("justification"), ox.NamedNode(SEMAPV + m.justification.split(":", 1)[1]), g),
        ]
        if m.category:
            quads.append(ox.Quad(r, _k("category"), ox.Literal(m.category), g))
        if m.subject_label:
            quads.append(ox.Quad(r, _k("subjectLabel"), ox.Literal(m.subject_label), g))
        if m.object_label:
            quads.append(ox.Quad(r, _k("objectLabel"), ox.Literal(m.object_label), g))
        for i, e in enumerate(m.evidence):
            en = ox.NamedNode(f"{r.value}/evidence/{i}")
            quads += [
                ox.Quad(r, _k("evidence"), en, g),
                ox.Quad(en, ox.NamedNode(RDF + "type"), _k("Evidence"), g),
                ox.Quad(en, _k("index"), ox.Literal(str(i), datatype=ox.NamedNode(XSD + "integer")), g),
                ox.Quad(en, _k("evidenceKind"), ox.Literal(e.kind), g),
                ox.Quad(en, _k("score"), ox.Literal(repr(float(e.score)), datatype=dbl), g),
                ox.Quad(en, _k("detail"), ox.Literal(e.detail), g),
            ]
            quads += [ox.Quad(en, _k("item"), ox.Literal(it), g) for it in dict.fromkeys(e.items)]
            if e.items:  # the exact list (order, repeats) for reading back
                quads.append(ox.Quad(en, _k("items"), ox.Literal(json.dumps(list(e.items)),
                                                                 datatype=ox.NamedNode(RDF + "JSON")), g))
    return quads


def export_to_store(ws: Workspace, alignments: Alignment | Iterable[Alignment], graph: str = MAPPINGS_GRAPH) -> int:
    """Write ``alignments`` into the mappings graph, replacing earlier results for the same
    pairs of artefacts and keeping the others; returns the number of mappings written.

    The graph is replaced in one transaction, so a reader sees all of a run or none of it.
    """
    als = [alignments] if isinstance(alignments, Alignment) else list(alignments)
    store = ws.store
    g = ox.NamedNode(graph)
    replaced = {alignment_iri(a) for a in als}
    replaced_maps = tuple(f"{_MAPPING_PREFIX}{a.source_graph}--{a.target_graph}:" for a in als)
    skos_preds = {ox.NamedNode(p) for p in RELATIONS.values()}
    kept: list[ox.Quad] = []
    for q in store.quads(graph=graph):
        s = q.subject.value if isinstance(q.subject, ox.NamedNode) else ""
        if s in replaced or s.startswith(replaced_maps) or q.predicate in skos_preds:
            continue
        kept.append(q)
    new = [q for a in als for q in alignment_quads(a, graph)]
    # The direct SKOS triples, rebuilt from every mapping resource that remains.
    records: dict[str, dict[str, ox.NamedNode]] = {}
    for q in (*kept, *new):
        if q.predicate in (_k("subject"), _k("object"), _k("predicate")):
            records.setdefault(q.subject.value, {})[q.predicate.value] = q.object  # type: ignore[assignment]
    direct = {
        ox.Quad(r[KGA + "subject"], r[KGA + "predicate"], r[KGA + "object"], g)
        for r in records.values()
        if len(r) == 3
    }
    store.replace_graph(graph, [*kept, *new, *direct])
    return sum(len(a.mappings) for a in als)


def read_from_store(ws: Workspace, graph: str = MAPPINGS_GRAPH) -> list[Alignment]:
    """The alignments recorded in the mappings graph, mappings sorted by confidence (highest first)."""
    rows = ws.store.select(
        f"""SELECT ?a ?src ?tgt ?m ?s ?o ?rel ?conf ?cat ?sl ?ol WHERE {{ GRAPH <{graph}> {{
            ?a a kga:Alignment ; kga:sourceGraph ?src ; kga:targetGraph ?tgt .
            ?m kga:inAlignment ?a ; kga:subject ?s ; kga:object ?o ; kga:relation ?rel ; kga:confidence ?conf .
            OPTIONAL {{ ?m kga:category ?cat }} OPTIONAL {{ ?m kga:subjectLabel ?sl }}
            OPTIONAL {{ ?m kga:objectLabel ?ol }} }} }}"""
    )
    evidence_rows = ws.store.select(
        f"""SELECT ?m ?i ?kind ?score ?detail WHERE {{ GRAPH <{graph}> {{
            ?m kga:evidence ?e . ?e kga:index ?i ; kga:evidenceKind ?kind ; kga:score ?score ; kga:detail ?detail }} }}"""
    )
    item_rows = ws.store.select(
        f"SELECT ?e ?items WHERE {{ GRAPH <{graph}> {{ ?e a kga:Evidence ; kga:items ?items }} }}"
    )
    items: dict[str, list[str]] = {r["e"].value: json.loads(r["items"].value) for r in item_rows}
    ev: dict[str, list[tuple[int, Evidence]]] = {}
    for r in evidence_rows:
        m, i = r["m"].value, int(r["i"].value)
        e_iri = f"{m}/evidence/{i}"
        ev.setdefault(m, []).append(
            (i, Evidence(r["kind"].value, float(r["score"].value), r["detail"].value, tuple(items.get(e_iri, ()))))
        )
    out: dict[str, Alignment] = {}
    for r in rows:
        a_iri = r["a"].value
        src, tgt = graph_name(r["src"].value), graph_name(r["tgt"].value)
        al = out.setdefault(a_iri, Alignment(source_graph=src, target_graph=tgt))
        m_iri = r["m"].value
        al.mappings.append(
            MappingCandidate(
                subject=r["s"].value,
                subject_graph=src,
                object=r["o"].value,
                object_graph=tgt,
                relation=r["rel"].value,
                confidence=float(r["conf"].value),
                evidence=tuple(e for _, e in sorted(ev.get(m_iri, []), key=lambda t: t[0])),
                subject_label=r["sl"].value if r["sl"] is not None else "",
                object_label=r["ol"].value if r["ol"] is not None else "",
                category=r["cat"].value if r["cat"] is not None else "",
            )
        )
    for al in out.values():
        al.mappings.sort(key=lambda m: (-m.confidence, m.subject, m.object))
    return sorted(out.values(), key=lambda a: (a.source_graph, a.target_graph))
