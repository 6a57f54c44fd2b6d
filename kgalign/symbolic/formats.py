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
        Format("n3", (".n3",), "text/n3", ox.RdfFormat.N3),
        Format("rdfxml", (".rdf", ".owl", ".xml", ".rdfs"), "application/rdf+xml", ox.RdfFormat.RDF_XML),
        Format("jsonld", (".jsonld", ".json"), "application/ld+json", ox.RdfFormat.JSON_LD),
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


def sniff(head: bytes) -> str | None:
    """Guess a format from the first bytes of a file; None when nothing fits.

    >>> sniff(b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="...">')
    'rdfxml'
    >>> sniff(b"@prefix ex: <http://e/> .")
    'turtle'
    >>> sniff(b"format-version: 1.2\\n[Term]")
    'obo'
    """
    text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", errors="replace").lstrip()
    if not text:
        return None
    if text.startswith("<?xml") or text.startswith("<!DOCTYPE") or text.startswith("<!--") or re.match(r"<[A-Za-z]", text):
        if re.search(r"<(\w+:)?Ontology\b[^>]*xmlns(:\w+)?=\"http://www\.w3\.org/2002/07/owl#\"", text) and "rdf:RDF" not in text:
            return "owlxml"
        if "<rdf:RDF" in text or "rdf-syntax-ns#" in text:
            return "rdfxml"
        if re.search(r"<(\w+:)?Ontology\b", text):
            return "owlxml"
        return "rdfxml"
    if text[0] in "{[":
        return "jsonld"
    if re.match(r"(format-version:|data-version:|ontology:|\[Term\]|\[Typedef\])", text):
        return "obo"
    if re.match(r"(@prefix|@base|PREFIX|BASE)\b", text, re.IGNORECASE):
        if re.search(r"^\s*(GRAPH\b|<[^>]*>\s*\{|\w*:\w*\s*\{)", text, re.MULTILINE):
            return "trig"
        return "turtle"
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if re.match(r"^(<[^>]*>|_:\S+)\s+<[^>]*>\s+.+\s+(<[^>]*>|_:\S+)\s*\.\s*$", first):
        return "nquads"
    if re.match(r"^(<[^>]*>|_:\S+)\s+<[^>]*>\s+.+\.\s*$", first):
        return "ntriples"
    if re.match(r"^[\w-]*:\w*\s", first) or re.match(r"^<[^>]*>\s", first):
        return "turtle"
    return None


def detect_format(path: Path, head: bytes, override: str | None = None) -> Format:
    """The format to parse ``path`` with: the override, else the extension, else the content."""
    if override:
        return get_format(override)
    suffix = path.suffix.lower()
    sniffed = sniff(head)
    if suffix in (".owl", ".xml", ".rdf") and sniffed in ("owlxml", "turtle", "ntriples", "jsonld"):
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


def xml_error_position(data: bytes) -> tuple[int, int, str] | None:
    """Line, column (1-based) and message of the first XML well-formedness error, if any."""
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        return e.lineno, e.offset + 1, xml.parsers.expat.ErrorString(e.code)
    return None


# -- OBO 1.4 ---------------------------------------------------------------------------------

_OBO_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(.*)$')


def _nt_escape(s: str) -> str:
    return (
        s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )


def _obo_iri(curie: str, idspace: dict[str, str]) -> str:
    curie = curie.strip()
    if curie.startswith("http://") or curie.startswith("https://"):
        return curie
    if ":" in curie:
        prefix, local = curie.split(":", 1)
        base = idspace.get(prefix, f"http://purl.obolibrary.org/obo/{prefix}_")
        return base + local
    return f"http://purl.obolibrary.org/obo/{curie}"


def obo_to_ntriples(data: bytes, path: str) -> bytes:
    """Convert an OBO 1.4 flat file to N-Triples the way the OBO-to-OWL mapping does
    for the common tags (id, name, def, synonym, is_a, relationship, is_obsolete, comment).

    Errors name the file, line and column.
    """
    from kgalign.symbolic.vocab import IAO_DEFINITION, OBOINOWL, OWL, RDF, RDFS

    try:
        text = data.decode("utf-8")
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

    def triple(s: str, p: str, o: str, literal: bool = False) -> None:
        obj = f'"{_nt_escape(o)}"' if literal else f"<{o}>"
        out.append(f"<{s}> <{p}> {obj} .")

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise LoadError("stanza header must end with ']'", path=path, line=lineno, column=len(raw) + 1)
            if stanza in ("Term", "Typedef") and subject is None:
                raise LoadError(f"[{stanza}] stanza has no id", path=path, line=stanza_line, column=1)
            stanza = line[1:-1].strip()
            stanza_line = lineno
            subject = None
            saw_stanza = True
            continue
        if ":" not in line:
            raise LoadError("expected 'tag: value'", path=path, line=lineno, column=1)
        tag, value = line.split(":", 1)
        tag = tag.strip()
        value = re.sub(r"\s+!.*$", "", value.strip()) if not value.strip().startswith('"') else value.strip()
        if stanza is None:
            if tag == "idspace":
                parts = value.split()
                if len(parts) < 2:
                    raise LoadError("idspace needs a prefix and an IRI", path=path, line=lineno, column=len(tag) + 3)
                idspace[parts[0]] = parts[1]
            continue
        if stanza not in ("Term", "Typedef", "Instance"):
            continue
        if tag == "id":
            subject = _obo_iri(value, idspace)
            kind = {"Term": OWL + "Class", "Typedef": OWL + "ObjectProperty", "Instance": OWL + "NamedIndividual"}[stanza]
            triple(subject, RDF + "type", kind)
            triple(subject, OBOINOWL + "id", value, literal=True)
            continue
        if subject is None:
            raise LoadError(f"tag {tag!r} before the stanza's id", path=path, line=lineno, column=1)
        if tag == "name":
            triple(subject, RDFS + "label", value, literal=True)
        elif tag in ("def", "synonym", "exact_synonym", "narrow_synonym", "broad_synonym", "related_synonym"):
            m = _OBO_QUOTED.match(value)
            if not m:
                col = raw.index(":") + 2
                raise LoadError(f"{tag} value must start with a quoted string", path=path, line=lineno, column=col)
            literal = m.group(1).encode("utf-8").decode("unicode_escape", errors="ignore") if "\\" in m.group(1) else m.group(1)
            rest = m.group(2)
            if tag == "def":
                triple(subject, IAO_DEFINITION, literal, literal=True)
            else:
                scope = tag.split("_")[0].upper() if tag != "synonym" else (rest.split() or ["RELATED"])[0].upper()
                pred = {
                    "EXACT": "hasExactSynonym",
                    "NARROW": "hasNarrowSynonym",
                    "BROAD": "hasBroadSynonym",
                }.get(scope, "hasRelatedSynonym")
                triple(subject, OBOINOWL + pred, literal, literal=True)
        elif tag == "is_a":
            target = _obo_iri(value.split()[0], idspace)
            triple(subject, RDFS + ("subClassOf" if stanza == "Term" else "subPropertyOf"), target)
        elif tag == "relationship":
            parts = value.split()
            if len(parts) < 2:
                raise LoadError("relationship needs a relation and a target", path=path, line=lineno, column=1)
            triple(subject, _obo_iri(parts[0], idspace), _obo_iri(parts[1], idspace))
        elif tag == "comment":
            triple(subject, RDFS + "comment", value, literal=True)
        elif tag == "is_obsolete" and value.lower() == "true":
            out.append(f'<{subject}> <{OWL}deprecated> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> .')
    if not saw_stanza:
        raise LoadError("no [Term], [Typedef] or [Instance] stanza found", path=path, line=1, column=1)
    return ("\n".join(out) + "\n").encode("utf-8")


# -- OWL/XML ---------------------------------------------------------------------------------

def owlxml_to_ntriples(data: bytes, path: str) -> bytes:
    """Convert OWL/XML to N-Triples with owlready2, in a throw-away in-memory world."""
    pos = xml_error_position(data)
    if pos:
        raise LoadError(f"not well-formed XML: {pos[2]}", path=path, line=pos[0], column=pos[1])
    import io

    import owlready2

    world = owlready2.World()
    try:
        onto = world.get_ontology("http://kgalign.invalid/owlxml-import#")
        onto.load(fileobj=io.BytesIO(data), format="owlxml")
        buf = io.BytesIO()
        world.save(buf, format="ntriples")
    except Exception as e:  # owlready2 raises many kinds; report them as one load error
        raise LoadError(f"invalid OWL/XML: {e}", path=path) from None
    finally:
        world.close()
    return buf.getvalue()


CONVERTERS = {"obo": obo_to_ntriples, "owlxml": owlxml_to_ntriples}
