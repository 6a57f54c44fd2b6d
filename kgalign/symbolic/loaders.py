"""Loading artefacts (ontologies, thesauri, knowledge graphs) into the store.

``load_file`` is the one entry point: it checks the file, picks the format (the
override, the extension, or the content), converts formats pyoxigraph lacks, and
loads the result atomically into the artefact's own named graph. Any failure raises
:class:`LoadError` naming the file, line and column, and leaves the store as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kgalign.errors import LoadError, UsageError
from kgalign.symbolic.formats import CONVERTERS, FORMATS, Format, detect_format, sniff, xml_error_position
from kgalign.symbolic.store import GraphInfo, OxigraphStore, sha256_of

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def default_graph_name(path: Path) -> str:
    """The artefact name a file gets unless one is given: its stem, made safe.

    >>> default_graph_name(Path("/data/Conference.owl"))
    'Conference'
    """
    stem = path.name.split(".")[0] or "artefact"
    safe = re.sub(r"[^A-Za-z0-9_.\-]+", "-", stem).strip("-.") or "artefact"
    return safe


_TTL_PREFIX = re.compile(r"(?:@prefix|PREFIX)\s+([A-Za-z][\w.\-]*)?:\s*<([^>\s]*)>", re.IGNORECASE)
_XMLNS = re.compile(r"xmlns:([A-Za-z][\w.\-]*)\s*=\s*[\"']([^\"']+)[\"']")
_JSONLD_PREFIX = re.compile(r"\"([A-Za-z][\w.\-]*)\"\s*:\s*\"(https?://[^\"]*[/#:])\"")


def declared_prefixes(text: str, fmt: str) -> dict[str, str]:
    """The namespace prefixes a file declares (used to resolve CURIEs against the artefact).

    >>> declared_prefixes("@prefix tort: <https://example.org/tort#> .", "turtle")
    {'tort': 'https://example.org/tort#'}
    """
    found: dict[str, str] = {}
    if fmt in ("turtle", "trig", "n3"):
        pairs = _TTL_PREFIX.findall(text)
    elif fmt in ("rdfxml", "owlxml"):
        pairs = _XMLNS.findall(text)
    elif fmt == "jsonld":
        pairs = _JSONLD_PREFIX.findall(text)
    else:
        pairs = []
    for p, ns in pairs:
        if p and ns:
            found.setdefault(p, ns)
    return found


def check_graph_name(name: str) -> str:
    if not _NAME_OK.match(name):
        raise UsageError(
            f"invalid graph name {name!r}: use letters, digits, '_', '-' and '.', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class LoadReport:
    info: GraphInfo
    replaced: bool


def load_file(
    store: OxigraphStore,
    path: str | Path,
    *,
    name: str | None = None,
    format: str | None = None,
    base_iri: str | None = None,
) -> LoadReport:
    """Load one artefact file into its own graph (replacing an earlier load of the same name)."""
    p = Path(path)
    src = str(path)
    if not p.exists():
        raise LoadError("no such file", path=src)
    if p.is_dir():
        raise LoadError("is a directory, not a file", path=src)
    graph = check_graph_name(name or default_graph_name(p))
    size = p.stat().st_size
    if size == 0:
        raise LoadError("empty file: nothing to load", path=src)
    with open(p, "rb") as f:
        head = f.read(8192)
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("binary data, not an RDF/OWL/OBO text file", path=src, line=1, column=head.index(b"\x00") + 1)
    fmt = detect_format(p, head, format)
    sha = sha256_of(p)
    replaced = store.has_graph(f"urn:kgalign:graph:{graph}")
    base = base_iri or p.resolve().as_uri()
    with open(p, "rb") as f:
        prefixes = declared_prefixes(f.read(1 << 20).decode("utf-8", errors="replace"), fmt.name)
    try:
        if fmt.rdf_format is None:
            data = CONVERTERS[fmt.name](p.read_bytes(), src)
            info = store.load_artefact(
                graph, data, rdf_format=FORMATS["ntriples"].rdf_format, source=src, format_name=fmt.name,
                sha256=sha, base_iri=base, prefixes=prefixes,
            )
        else:
            if fmt.name == "rdfxml":
                # pyoxigraph reports some XML errors without a position; expat finds it.
                pos = xml_error_position(p.read_bytes())
                if pos:
                    raise LoadError(f"not well-formed XML: {pos[2]}", path=src, line=pos[0], column=pos[1])
            with open(p, "rb") as f:
                info = store.load_artefact(
                    graph, f, rdf_format=fmt.rdf_format, source=src, format_name=fmt.name, sha256=sha,
                    base_iri=base, prefixes=prefixes,
                )
    except LoadError as e:
        raise _with_hint(e, fmt, head, format) from None
    return LoadReport(info=info, replaced=replaced)


def _with_hint(e: LoadError, fmt: Format, head: bytes, override: str | None) -> LoadError:
    """Add 'this looks like X' when the bytes suggest another format than the one used."""
    if override:
        return e
    guess = sniff(head)
    if guess and guess != fmt.name and not (guess == "ntriples" and fmt.name in ("turtle", "nquads", "trig")):
        return LoadError(
            f"{e.message} (parsed as {fmt.name} from the extension, but the content looks like {guess}: "
            f"pass --format {guess})",
            path=e.path,
            line=e.line,
            column=e.column,
        )
    return e
