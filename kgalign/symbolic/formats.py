"""Artefact formats: detection from extension or content, and conversion of the
formats pyoxigraph does not parse (OWL/XML, OBO) into N-Triples.

A registry maps each format name to its media type, extensions and how to read it;
an unknown name lists the known ones.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kgalign.errors import ConfigError, LoadError


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    media_type: str
    #: pyoxigraph's format, or None when kgalign converts the file to N-Triples first.
    rdf_format: ox.RdfFormat | None
    is_dataset: bool = False


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("turtle", (".ttl", ".turtle"), "text/turtle", ox.RdfFormat.TURTLE),
        Format("ntriples", (".nt",), "application/n-triples", ox.RdfFormat.N_TRIPLES),
        Format("nquads", (".nq",), "application/n-quads", ox.RdfFormat.N_QUADS, is_dataset=True),
        Format("trig", (".trig",), "application/trig", ox.RdfFormat.TRIG, is_dataset=True),
        # N3 is read with rdflib (kgalign.symbolic.rules): pyoxigraph reads no rule formulas.
        Format("n3", (".n3",), "text/n3", None),
        Format("rdfxml", (".rdf", ".owl", ".xml", ".rdfs"), "application/rdf+xml", ox.RdfFormat.RDF_XML),
        Format("jsonld", (".jsonld", ".json"), "application/ld+json", ox.RdfFormat.JSON_LD, is_dataset=True),
        Format("owlxml", (".owx",), "application/owl+xml", None),
        Format("obo", (".obo",), "application/x-obo", None),
    )
}

_ALIASES = {
    "ttl": "turtle",
    "nt": "ntriples",
    "n-triples": "ntriples",
    "nq": "nquads",
    "n-quads": "nquads",
    "xml": "rdfxml",
    "rdf/xml": "rdfxml",
    "rdf": "rdfxml",
    "owl": "rdfxml",
    "json-ld": "jsonld",
    "owl/xml": "owlxml",
    "owx": "owlxml",
}


def get_format(name: str) -> Format:
    """Look up a format by name or common alias; unknown names list the known ones."""
    key = name.lower().strip()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ConfigError(f"unknown format {name!r}; known formats: {', '.join(sorted(FORMATS))}")
    return FORMATS[key]


def sniff(head: bytes, *, strict: bool = False) -> str | None:
    """Guess a format from the first bytes of a file; None when nothing fits.

    XML that is neither RDF/XML nor OWL/XML is guessed to be RDF/XML, unless ``strict``.

    >>> sniff(b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="...">')
    'rdfxml'
    >>> sniff(b"@prefix ex: <http://e/> .")
    'turtle'
    >>> sniff(b"format-version: 1.2\\n[Term]")
    'obo'
    >>> sniff(b"# a comment\\n<http://a> <http://b> <http://c> .")
    'ntriples'
    >>> sniff(b"\\x00\\x01junk") is None
    True
    """
    text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", errors="replace").lstrip()
    if not text:
        return None
    if text.startswith("#"):  # Turtle, TriG, N-Triples and N-Quads comments
        text = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")).lstrip()
        if not text:
            return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    first = lines[0] if lines else ""
    term = r"(<[^<>\s]*>|_:\S+)"
    quad = re.compile(rf"^{term}\s+<[^<>\s]*>\s+.+\s+{term}\s*\.$")
    if re.match(rf"^{term}\s+<[^<>\s]*>\s+.+\.$", first):
        # N-Triples or N-Quads: a graph name on any line of the head decides.
        return "nquads" if any(quad.match(ln) for ln in lines[:200]) else "ntriples"
    if text.startswith(("<?xml", "<!DOCTYPE", "<!doctype", "<!--")) or re.match(r"<[A-Za-z][\w.:-]*[\s/>]", text):
        if re.search(r"<(\w+:)?Ontology\b[^>]*xmlns(:\w+)?=\"http://www\.w3\.org/2002/07/owl#\"", text) and "rdf:RDF" not in text:
            return "owlxml"
        if "<rdf:RDF" in text or "rdf-syntax-ns#" in text:
            return "rdfxml"
        if re.search(r"<(\w+:)?Ontology\b", text):
            return "owlxml"
        return None if strict else "rdfxml"
    if text[0] in "{[":
        return "jsonld"
    if re.match(r"(format-version:|data-version:|ontology:|\[Term\]|\[Typedef\])", text):
        return "obo"
    if re.match(r"(@prefix|@base|PREFIX|BASE)\b", text, re.IGNORECASE):
        if re.search(r"^\s*(GRAPH\b|<[^>]*>\s*\{|\w*:\w*\s*\{)", text, re.MULTILINE):
            return "trig"
        return "turtle"
    if re.match(r"^[\w-]*:\w*\s", first) or re.match(r"^<[^>]*>\s", first):
        return "turtle"
    return None


def detect_format(path: Path, head: bytes, override: str | None = None) -> Format:
    """The format to parse ``path`` with: the override, else the extension, else the content."""
    if override:
        return get_format(override)
    suffix = path.suffix.lower()
    sniffed = sniff(head)
    if suffix in (".owl", ".xml", ".rdf") and sniffed in ("owlxml", "turtle", "ntriples", "nquads", "jsonld"):
        # .owl files come as RDF/XML, OWL/XML or Turtle in the wild: trust what the bytes say.
        return FORMATS[sniffed]
    for fmt in FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    if sniffed:
        return FORMATS[sniffed]
    raise LoadError(
        f"cannot tell the format from the extension {suffix or '(none)'!r} or the content; "
        f"pass a format (one of {', '.join(sorted(FORMATS))})",
        path=str(path),
    )


def xml_error_position(data: bytes | Path) -> tuple[int, int, str] | None:
    """Line, column (1-based) and message of the first XML well-formedness error, if any.

    ``data`` is the document or the path of a file (read as a stream).

    >>> xml_error_position(b"<a>\\n  <b>")
    (2, 6, 'no element found')
    """
    parser = xml.parsers.expat.ParserCreate()
    try:
        if isinstance(data, Path):
            with open(data, "rb") as f:
                parser.ParseFile(f)
        else:
            parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        return e.lineno, e.offset + 1, xml.parsers.expat.ErrorString(e.code)
    return None


# -- OBO 1.4 ---------------------------------------------------------------------------------

_OBO_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(.*)$')
_OBO_ESCAPES = {"n": "\n", "t": "\t", "W": " ", "r": "\r"}
_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def _nt_escape(s: str) -> str:
    return (
        s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )


def obo_unescape(s: str) -> str:
    r"""The text of an OBO quoted string: ``\"`` is ``"``, ``\n`` a newline, ``\W`` a space.

    >>> obo_unescape(r'a \"quoted\" word\nand café')
    'a "quoted" word\nand café'
    """
    return re.sub(r"\\(.)", lambda m: _OBO_ESCAPES.get(m.group(1), m.group(1)), s)


def _obo_iri(curie: str, idspace: dict[str, str]) -> str:
    """The IRI of an OBO identifier, as the OBO-to-OWL mapping builds it.

    >>> _obo_iri("GO:0008150", {})
    'http://purl.obolibrary.org/obo/GO_0008150'
    >>> _obo_iri("part_of", {})
    'http://purl.obolibrary.org/obo/part_of'
    """
    curie = curie.strip()
    if curie.startswith(("http://", "https://", "urn:")):
        return curie
    if ":" in curie:
        prefix, local = curie.split(":", 1)
        base = idspace.get(prefix, f"http://purl.obolibrary.org/obo/{prefix}_")
        return base + local
    return f"http://purl.obolibrary.org/obo/{curie}"


#: OBO tags whose value is a plain string, and the annotation property it becomes.
_OBO_LITERAL_TAGS = {
    "name": "http://www.w3.org/2000/01/rdf-schema#label",
    "comment": "http://www.w3.org/2000/01/rdf-schema#comment",
    "namespace": "http://www.geneontology.org/formats/oboInOwl#hasOBONamespace",
    "alt_id": "http://www.geneontology.org/formats/oboInOwl#hasAlternativeId",
    "xref": "http://www.geneontology.org/formats/oboInOwl#hasDbXref",
    "subset": "http://www.geneontology.org/formats/oboInOwl#inSubset",
}
_OBO_SYNONYM_SCOPES = {
    "EXACT": "hasExactSynonym",
    "NARROW": "hasNarrowSynonym",
    "BROAD": "hasBroadSynonym",
    "RELATED": "hasRelatedSynonym",
}


def obo_to_ntriples(data: bytes, path: str) -> bytes:
    """Convert an OBO 1.4 flat file to N-Triples the way the OBO-to-OWL mapping does for the
    common tags: id, name, def, synonym (and the OBO 1.0 ``exact_synonym``... forms), is_a,
    relationship, instance_of, disjoint_from, is_obsolete, comment, namespace, alt_id, xref,
    subset. ``relationship: R T`` becomes the plain triple ``S R T`` (not an existential
    restriction) and ``idspace`` header lines map prefixes to namespaces. Other tags and
    stanza kinds are skipped.

    Errors name the file, line and column.

    >>> print(obo_to_ntriples(b"[Term]\\nid: X:1\\nname: one\\nis_a: X:0 ! zero\\n", "x.obo").decode())
    <http://purl.obolibrary.org/obo/X_1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Class> .
    <http://purl.obolibrary.org/obo/X_1> <http://www.geneontology.org/formats/oboInOwl#id> "X:1" .
    <http://purl.obolibrary.org/obo/X_1> <http://www.w3.org/2000/01/rdf-schema#label> "one" .
    <http://purl.obolibrary.org/obo/X_1> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <http://purl.obolibrary.org/obo/X_0> .
    <BLANKLINE>
    """
    from kgalign.symbolic.vocab import IAO_DEFINITION, OBOINOWL, OWL, RDF, RDFS

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise LoadError("not UTF-8 text (is this really an OBO file?)", path=path, line=line, column=col) from None
    idspace: dict[str, str] = {}
    out: list[str] = []
    stanza: str | None = None
    subject: str | None = None
    stanza_line = 0
    saw_stanza = False

    def iri(value: str, lineno: int, col: int) -> str:
        found = _obo_iri(value, idspace)
        bad = _IRI_BAD.search(found)
        if not value or bad:
            raise LoadError(f"{value!r} is not a usable identifier", path=path, line=lineno, column=col)
        return found

    def triple(s: str, p: str, o: str, literal: bool = False) -> None:
        obj = f'"{_nt_escape(o)}"' if literal else f"<{o}>"
        out.append(f"<{s}> <{p}> {obj} .")

    def close_stanza() -> None:
        if stanza in ("Term", "Typedef", "Instance") and subject is None:
            raise LoadError(f"[{stanza}] stanza has no id", path=path, line=stanza_line, column=1)

    lines = text.splitlines()
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        indent = len(raw) - len(raw.lstrip())
        if line.startswith("["):
            if not line.endswith("]"):
                raise LoadError("stanza header must end with ']'", path=path, line=lineno, column=len(raw.rstrip()) + 1)
            close_stanza()
            stanza = line[1:-1].strip()
            stanza_line = lineno
            subject = None
            saw_stanza = True
            continue
        if ":" not in line:
            raise LoadError("expected 'tag: value'", path=path, line=lineno, column=indent + 1)
        tag, value = line.split(":", 1)
        tag = tag.strip()
        vcol = indent + len(tag) + 2 + (len(value) - len(value.lstrip()))  # 1-based column of the value
        value = value.strip()
        if not value.startswith('"'):
            value = re.sub(r"\s+!.*$", "", value)  # trailing comment
            value = re.sub(r"\s*\{[^}]*\}\s*$", "", value)  # trailing modifiers
        if stanza is None:
            if tag == "idspace":
                parts = value.split()
                if len(parts) < 2:
                    raise LoadError("idspace needs a prefix and an IRI", path=path, line=lineno, column=vcol)
                idspace[parts[0]] = parts[1]
            continue
        if stanza not in ("Term", "Typedef", "Instance"):
            continue
        if tag == "id":
            subject = iri(value, lineno, vcol)
            kind = {"Term": OWL + "Class", "Typedef": OWL + "ObjectProperty", "Instance": OWL + "NamedIndividual"}[stanza]
            triple(subject, RDF + "type", kind)
            triple(subject, OBOINOWL + "id", value, literal=True)
            continue
        if subject is None:
            raise LoadError(f"tag {tag!r} before the stanza's id", path=path, line=lineno, column=indent + 1)
        if tag in _OBO_LITERAL_TAGS:
            if tag == "xref":
                value = value.split()[0] if value else value
            triple(subject, _OBO_LITERAL_TAGS[tag], value, literal=True)
        elif tag in ("def", "synonym", "exact_synonym", "narrow_synonym", "broad_synonym", "related_synonym"):
            m = _OBO_QUOTED.match(value)
            if not m:
                raise LoadError(f"{tag} value must start with a quoted string", path=path, line=lineno, column=vcol)
            text_value, rest = obo_unescape(m.group(1)), m.group(2)
            if tag == "def":
                triple(subject, IAO_DEFINITION, text_value, literal=True)
            else:
                scope = tag.split("_")[0].upper() if tag != "synonym" else (rest.split() or ["RELATED"])[0].upper()
                triple(subject, OBOINOWL + _OBO_SYNONYM_SCOPES.get(scope, "hasRelatedSynonym"), text_value, literal=True)
        elif tag == "is_a":
            target = iri(value.split()[0] if value else "", lineno, vcol)
            triple(subject, RDFS + ("subPropertyOf" if stanza == "Typedef" else "subClassOf"), target)
        elif tag == "instance_of":
            triple(subject, RDF + "type", iri(value.split()[0] if value else "", lineno, vcol))
        elif tag == "disjoint_from":
            triple(subject, OWL + "disjointWith", iri(value.split()[0] if value else "", lineno, vcol))
        elif tag == "relationship":
            parts = value.split()
            if len(parts) < 2:
                raise LoadError("relationship needs a relation and a target", path=path, line=lineno, column=vcol)
            triple(subject, iri(parts[0], lineno, vcol), iri(parts[1], lineno, vcol))
        elif tag == "is_obsolete" and value.lower() == "true":
            out.append(f'<{subject}> <{OWL}deprecated> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .')
    close_stanza()
    if not saw_stanza:
        raise LoadError("no [Term], [Typedef] or [Instance] stanza found", path=path, line=1, column=1)
    return ("\n".join(out) + "\n").encode("utf-8")


# -- OWL/XML ---------------------------------------------------------------------------------

def owlxml_to_ntriples(data: bytes, path: str, *, follow_imports: bool = False) -> bytes:
    """Convert OWL/XML to N-Triples with owlready2, in a throw-away in-memory world.

    The document must be well-formed XML whose root is ``owl:Ontology``; errors carry the
    position expat or owlready2 reports. ``<Import>`` becomes an ``owl:imports`` triple
    and is *not* followed (no file is opened, no URL fetched) unless ``follow_imports``.
    """
    import contextlib
    import io

    pos = xml_error_position(data)
    if pos:
        raise LoadError(f"not well-formed XML: {pos[2]}", path=path, line=pos[0], column=pos[1])
    root = _xml_root(data)
    if root is not None and root[0] != OWL_NS + " Ontology":
        ns, _, local = root[0].rpartition(" ")
        shown = f"<{local}> in namespace {ns}" if ns else f"<{local}> in no namespace"
        raise LoadError(
            f"not OWL/XML: the root element is {shown}, expected <Ontology> in the OWL namespace",
            path=path, line=root[1], column=root[2],
        )
    import owlready2

    world = owlready2.World()
    buf = io.BytesIO()
    # owlready2 prints tracebacks of parse errors to stderr before raising: keep them quiet.
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            onto = world.get_ontology("http://kgalign.invalid/owlxml-import#")
            if follow_imports:
                onto.load(fileobj=io.BytesIO(data), format="owlxml")
                onto.save(file=buf, format="ntriples")
                for imported in onto.indirectly_imported_ontologies():
                    if imported is not onto:
                        imported.save(file=buf, format="ntriples")
            else:
                # Ontology.load would open or download every <Import>: parse the document alone.
                onto.graph.parse(io.BytesIO(data), format="owlxml", default_base=onto._orig_base_iri)
                onto.loaded = True
                onto.save(file=buf, format="ntriples")
        except Exception as e:  # owlready2 raises many kinds; report them as one load error
            text = " ".join(str(a) for a in getattr(e, "args", ()) if a) or str(e)
            m = re.search(r"line (\d+), column (\d+)", text)
            if m:
                raise LoadError(
                    "invalid OWL/XML (owlready2 cannot read this element)", path=path,
                    line=int(m.group(1)), column=int(m.group(2)) + 1,
                ) from None
            raise LoadError(f"invalid OWL/XML: {_no_paths(str(e), path)}", path=path) from None
        finally:
            world.close()
    return buf.getvalue()


OWL_NS = "http://www.w3.org/2002/07/owl#"


def _no_paths(message: str, own: str) -> str:
    """A parser message without file paths or URLs other than the file's own (never echo what an import named)."""
    return re.sub(r"(?:file://|https?://)?/[^\s'\"]+", lambda m: m.group(0) if m.group(0) == own else "<path>", message)


def _xml_root(data: bytes) -> tuple[str, int, int] | None:
    """The root element's name (``namespace local``), line and column, or None."""
    found: list[tuple[str, int, int]] = []
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")

    def start(tag: str, attrs: object) -> None:
        if not found:
            found.append((tag, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1))

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError:
        pass
    return found[0] if found else None


def _n3_to_ntriples(data: bytes, path: str) -> bytes:
    from kgalign.symbolic.rules import n3_to_ntriples

    return n3_to_ntriples(data, path)


CONVERTERS = {"obo": obo_to_ntriples, "owlxml": owlxml_to_ntriples, "n3": _n3_to_ntriples}
