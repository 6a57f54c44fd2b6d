"""Loading artefacts (ontologies, thesauri, knowledge graphs) into the store.

``load_file`` is the one entry point, in visible stages: :func:`inspect_file` checks the
file and picks the format (the override, the extension, or the content); formats
pyoxigraph lacks (OWL/XML, OBO) are converted to N-Triples; the store loads the result
atomically into the artefact's own named graph. Any failure raises :class:`LoadError`
naming the file, line and column (where the parser gives them, or kgalign can find
them), and leaves the store as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kgalign.errors import LoadError, UsageError
from kgalign.files import sha256_of
from kgalign.store.base import GraphInfo, ParsedGraph, Store
from kgalign.symbolic.formats import CONVERTERS, FORMATS, Format, detect_format, sniff, xml_error_position
from kgalign.symbolic.vocab import graph_iri

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: How much of a file is read to sniff its format and its prefixes.
HEAD_BYTES = 8192
PREFIX_SCAN_BYTES = 256 << 10


def default_graph_name(path: Path) -> str:
    """The artefact name a file gets unless one is given: its stem, made safe.

    Accented letters are transliterated; a name that loses other characters gets a short
    hash of the original, so different non-ASCII file names never share a graph.

    >>> default_graph_name(Path("/data/Conference.owl"))
    'Conference'
    >>> default_graph_name(Path("my onto (v2).ttl"))
    'my-onto-v2'
    >>> default_graph_name(Path("ñandú.ttl"))
    'nandu'
    >>> default_graph_name(Path("本体.ttl"))
    'artefact-e725fc43'
    """
    import hashlib
    import unicodedata

    stem = path.name.split(".")[0] or "artefact"
    ascii_stem = "".join(c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c))
    lossy = any(ord(c) > 127 for c in ascii_stem)
    safe = re.sub(r"[^A-Za-z0-9_.\-]+", "-", ascii_stem).strip("-.")
    if lossy or not safe:
        digest = hashlib.sha256(stem.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe or 'artefact'}-{digest}"
    return safe


_TTL_PREFIX = re.compile(r"^[ \t]*(?:@prefix|PREFIX)\s+([A-Za-z][\w.\-]*)?:\s*<([^>\s]*)>", re.I | re.M)
_XMLNS = re.compile(r"xmlns(?::([A-Za-z][\w.\-]*))?\s*=\s*[\"']([^\"']+)[\"']")
_OWLXML_PREFIX = re.compile(r"<(?:owl:)?Prefix\s+(?:name=\"([^\"]*)\"\s+IRI=\"([^\"]*)\"|IRI=\"([^\"]*)\"\s+name=\"([^\"]*)\")")
_JSONLD_PREFIX = re.compile(r"\"([A-Za-z][\w.\-]*)\"\s*:\s*\"(https?://[^\"]*[/#:])\"")
_STANDARD_XMLNS = {"rdf", "xml", "xsd"}


def declared_prefixes(text: str, fmt: str) -> dict[str, str]:
    """The namespace prefixes a file declares (used to resolve CURIEs against the artefact).

    The default namespace is the prefix ``''``.

    >>> declared_prefixes("@prefix tort: <https://example.org/tort#> .", "turtle")
    {'tort': 'https://example.org/tort#'}
    >>> declared_prefixes('<rdf:RDF xmlns="http://cmt#" xmlns:owl="http://www.w3.org/2002/07/owl#">', "rdfxml")
    {'': 'http://cmt#', 'owl': 'http://www.w3.org/2002/07/owl#'}
    >>> declared_prefixes('<Prefix name="" IRI="http://e/pizza#"/>', "owlxml")
    {'': 'http://e/pizza#'}
    >>> declared_prefixes('{"@context": {"ex": "http://e/", "name": "http://e/name"}}', "jsonld")
    {'ex': 'http://e/'}
    """
    found: dict[str, str] = {}
    if fmt in ("turtle", "trig", "n3"):
        pairs = _TTL_PREFIX.findall(text)
    elif fmt == "rdfxml":
        pairs = _XMLNS.findall(text)
    elif fmt == "owlxml":
        pairs = [(m[0], m[1]) if m[1] else (m[3], m[2]) for m in _OWLXML_PREFIX.findall(text)]
    elif fmt == "jsonld":
        pairs = _jsonld_context_prefixes(text)
    else:
        pairs = []
    for p, ns in pairs:
        if ns and (p or fmt != "jsonld"):
            found.setdefault(p or "", ns)
    return found


def _jsonld_context_prefixes(text: str) -> list[tuple[str, str]]:
    """Prefix-like terms of the ``@context`` objects (term -> IRI ending in / # or :)."""
    from kgalign.errors import LimitError
    from kgalign.limits import loads_json

    try:
        doc = loads_json(text)
    except (ValueError, LimitError):  # too big for the scan, too deep, or not JSON: fall back to a pattern
        return _JSONLD_PREFIX.findall(text)
    pairs: list[tuple[str, str]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ctx = node.get("@context")
            for c in ctx if isinstance(ctx, list) else [ctx]:
                if isinstance(c, dict):
                    for k, v in c.items():
                        iri = v.get("@id") if isinstance(v, dict) else v
                        if (
                            not k.startswith("@") and isinstance(iri, str)
                            and re.match(r"^[a-z][a-z0-9+.\-]*:", iri) and iri[-1] in "/#:"
                        ):
                            pairs.append((k, iri))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    return pairs


def check_graph_name(name: str) -> str:
    """A graph name as given, or :class:`UsageError` saying what names may hold.

    >>> check_graph_name("cmt")
    'cmt'
    """
    if not _NAME_OK.match(name):
        raise UsageError(
            f"invalid graph name {name!r}: use letters, digits, '_', '-' and '.', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class LoadReport:
    info: GraphInfo
    replaced: bool


@dataclass(frozen=True)
class ArtefactFile:
    """A file checked and ready to load: what :func:`inspect_file` found out."""

    path: Path
    name: str
    format: Format
    #: How the format was chosen: "override", "extension" or "content".
    format_from: str
    head: bytes
    sha256: str
    prefixes: dict[str, str]


_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed data: decompress it first (gunzip)"),
    (b"PK\x03\x04", "a ZIP archive: extract the ontology from it first"),
    (b"BZh", "bzip2-compressed data: decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "xz-compressed data: decompress it first (unxz)"),
    (b"%PDF", "a PDF document, not an RDF/OWL/OBO file"),
)


def inspect_file(path: str | Path, *, name: str | None = None, format: str | None = None) -> ArtefactFile:
    """Check that ``path`` is a non-empty text file and pick its graph name and format."""
    from kgalign.limits import check_regular_file

    p = Path(path)
    src = str(path)
    check_regular_file(p, src)  # a FIFO or device would block or never end; a huge file is refused
    graph = check_graph_name(name or default_graph_name(p))
    try:
        with open(p, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as e:
        raise LoadError(f"cannot read: {e.strerror or e}", path=src) from None
    if not head:
        raise LoadError("empty file: nothing to load", path=src)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise LoadError("the file holds only white space: nothing to load", path=src)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise LoadError(f"this is {what}", path=src, line=1, column=1)
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        nul = head.index(b"\x00")
        line = head.count(b"\n", 0, nul) + 1
        col = nul - (head.rfind(b"\n", 0, nul) + 1) + 1
        raise LoadError("binary data, not an RDF/OWL/OBO text file", path=src, line=line, column=col)
    fmt = detect_format(p, head, format)
    how = "override" if format else "extension" if any(p.suffix.lower() in f.extensions for f in FORMATS.values()) else "content"
    if how == "extension" and p.suffix.lower() in (".owl", ".xml", ".rdf") and fmt.name != "rdfxml":
        how = "content"
    with open(p, "rb") as f:
        scan = f.read(PREFIX_SCAN_BYTES).decode("utf-8", errors="replace")
    return ArtefactFile(
        path=p, name=graph, format=fmt, format_from=how, head=head, sha256=sha256_of(p),
        prefixes=declared_prefixes(scan, fmt.name),
    )


def load_file(
    store: Store,
    path: str | Path,
    *,
    name: str | None = None,
    format: str | None = None,
    base_iri: str | None = None,
    follow_imports: bool = False,
) -> LoadReport:
    """Load one artefact file into its own graph (replacing an earlier load of the same name).

    The base IRI for relative IRIs is ``base_iri``, else the file's ``file:`` URI. Imports
    (OWL/XML ``<Import>``) are recorded, never followed, unless ``follow_imports``.
    """
    art = inspect_file(path, name=name, format=format)
    src = str(path)
    replaced = store.has_graph(graph_iri(art.name))
    base = base_iri or art.path.resolve().as_uri()
    fmt = art.format
    from kgalign.faults import point

    point("load:inspected")
    try:
        _check_bounds(art, src)
        point("load:checked")
        if fmt.name == "rdfxml":
            # pyoxigraph accepts some broken XML (a truncated download loads partly): check first.
            pos = xml_error_position(art.path)
            if pos:
                raise LoadError(f"not well-formed XML: {pos[2]}", path=src, line=pos[0], column=pos[1])
        common = dict(name=art.name, source=src, format_name=fmt.name, sha256=art.sha256, base_iri=base,
                      prefixes=art.prefixes)
        rules = None
        if fmt.rdf_format is not None and not fmt.is_dataset:
            from kgalign.symbolic.rules import with_rules

            rules = with_rules(art.path, fmt.rdf_format, base)  # SWRL rules named and annotated
        if rules is not None:
            parsed = ParsedGraph(**common, media_type=FORMATS["ntriples"].media_type, data=rules)
        elif fmt.rdf_format is None:
            convert = CONVERTERS[fmt.name]
            if follow_imports and fmt.name == "owlxml":
                data = convert(art.path.read_bytes(), src, follow_imports=True)
            else:
                data = convert(art.path.read_bytes(), src)
            parsed = ParsedGraph(**common, media_type=FORMATS["ntriples"].media_type, data=data)
        else:
            parsed = ParsedGraph(**common, media_type=fmt.media_type, path=art.path)
        info = store.load_graph(parsed)
    except LoadError as e:
        if e.line is None and fmt.name in ("rdfxml", "owlxml"):
            e = _locate_xml_error(e, art.path.read_bytes())
        raise _with_hint(e, art) from None
    return LoadReport(info=info, replaced=replaced)


def _check_bounds(art: ArtefactFile, src: str) -> None:
    """Depth, entity and literal bounds, checked before any parser sees the file."""
    from kgalign.limits import check_literal_sizes, check_xml, json_depth_error

    name = art.format.name
    if name in ("rdfxml", "owlxml") or art.head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"):
        check_xml(art.path, src)
    if name == "jsonld":
        err = json_depth_error(art.path.read_bytes(), path=src)
        if err is not None:
            raise err
    check_literal_sizes(art.path, src)


def _with_hint(e: LoadError, art: ArtefactFile) -> LoadError:
    """Add 'this looks like X' when the bytes suggest another format than the one used."""
    text = art.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].lower()
    if text.startswith((b"<!doctype html", b"<html")):
        hint = "this is an HTML page, not RDF: a failed download?"
    else:
        guess = sniff(art.head, strict=True)
        if (
            art.format_from == "override" or not guess or guess == art.format.name
            or (guess == "ntriples" and art.format.name in ("turtle", "nquads", "trig", "n3"))
            or (guess == "turtle" and art.format.name in ("trig", "n3"))
        ):
            return e
        hint = (
            f"parsed as {art.format.name} from the {art.format_from}, but the content looks like {guess}: "
            f"pass --format {guess}"
        )
    return LoadError(f"{e.message} ({hint})", path=e.path, line=e.line, column=e.column)


def _locate_xml_error(e: LoadError, data: bytes) -> LoadError:
    """Find a position for an RDF/XML error pyoxigraph reports without one."""
    pos = xml_problem_position(data, e.message)
    if pos is None:
        return e
    line, col, why = pos
    message = e.message if why is None else f"{why} ({e.message})"
    return LoadError(message, path=e.path, line=line, column=col)


def xml_problem_position(data: bytes, message: str = "") -> tuple[int, int, str | None] | None:
    """Line, column (1-based) and, when it is a different problem, a message for what is wrong
    with an XML document: the first well-formedness or namespace error, the first element
    outside any namespace, or the first occurrence of a quoted value the message names.

    >>> xml_problem_position(b'<a>\\n  <b></c>\\n</a>')
    (2, 8, 'not well-formed XML: mismatched tag')
    >>> xml_problem_position(b'<?xml version="1.0"?>\\n<foo/>', 'XML namespaces are required in RDF/XML')
    (2, 1, None)
    """
    import xml.parsers.expat

    found: list[tuple[int, int]] = []
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")

    def start(tag: str, attrs: object) -> None:
        if " " not in tag and not found:
            found.append((parser.CurrentLineNumber, parser.CurrentColumnNumber + 1))

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as x:
        return x.lineno, x.offset + 1, f"not well-formed XML: {xml.parsers.expat.ErrorString(x.code)}"
    if found and "namespace" in message.lower():
        return found[0][0], found[0][1], None
    quoted = re.search(r"'([^']+)'|`([^`]+)`", message)
    if quoted:
        needle = (quoted.group(1) or quoted.group(2)).encode("utf-8")
        at = data.find(needle)
        if at >= 0:
            line = data.count(b"\n", 0, at) + 1
            col = len(data[data.rfind(b"\n", 0, at) + 1 : at].decode("utf-8", errors="replace")) + 1
            return line, col, None
    return None
