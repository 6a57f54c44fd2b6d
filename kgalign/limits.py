"""Bounds on hostile input, checked before any parser sees it.

Each check names the file (or ``<input>``), the line and column and the limit it hit,
as a :class:`~kgalign.errors.LimitError` (a :class:`~kgalign.errors.LoadError`):

- :func:`check_regular_file` — a FIFO, device or socket is refused (reading one blocks
  or never ends), and so is a file over :data:`MAX_FILE_BYTES`;
- :func:`json_depth_error` / :func:`loads_json` — JSON and JSON-LD nesting (Python's
  ``json`` recurses; pyoxigraph's JSON-LD parser too) and lone surrogates;
- :func:`check_xml` — DOCTYPE declarations (no external entities, no parameter
  entities, no entity referring to another, few and short internal ones, a bound on the
  expanded size: the "billion laughs" file is refused before anything expands it) and
  element depth (pyoxigraph's RDF/XML parser is quadratic in depth);
- :func:`check_literal_sizes` — one literal or line over :data:`MAX_LITERAL_CHARS`.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

from kgalign.errors import LimitError

#: Largest artefact file kgalign reads.
MAX_FILE_BYTES = 2 << 30
#: Deepest JSON / JSON-LD nesting.
MAX_JSON_DEPTH = 256
#: Deepest XML element nesting (RDF/XML, OWL/XML).
MAX_XML_DEPTH = 1_000
#: Most internal entities a DOCTYPE may declare, and the longest replacement text of one.
MAX_XML_ENTITIES = 256
MAX_ENTITY_CHARS = 4_096
#: Most characters entity references may expand to in one document (beyond its own size).
MAX_ENTITY_EXPANSION = 16 << 20
#: Longest literal (or, for line formats, line) kgalign loads.
MAX_LITERAL_CHARS = 16 << 20


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


def check_regular_file(path: Path, source: str | None = None, *, max_bytes: int = MAX_FILE_BYTES) -> int:
    """The size of ``path`` when it is a regular file no larger than ``max_bytes``; else LimitError/LoadError."""
    from kgalign.errors import LoadError

    src = source or str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise LoadError("no such file", path=src) from None
    except OSError as e:
        raise LoadError(f"cannot read: {e.strerror or e}", path=src) from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise LoadError("is a directory, not a file", path=src)
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        )
        raise LoadError(f"is {kind}, not a regular file: kgalign loads regular files only", path=src)
    if st.st_size > max_bytes:
        raise LimitError(
            f"the file is {st.st_size:,} bytes; the limit is {max_bytes:,}", limit=max_bytes, path=src
        )
    return st.st_size


# -- JSON ----------------------------------------------------------------------------------------

_JSON_SCAN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth_error(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, path: str | None = None) -> LimitError | None:
    """A LimitError when JSON ``data`` nests arrays/objects deeper than ``max_depth`` (strings skipped)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return None
    depth = 0
    for m in _JSON_SCAN.finditer(raw):
        tok = m.group()
        if tok in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                line, col = _position(raw, m.start())
                return LimitError(
                    f"JSON nests more than {max_depth} deep", limit=max_depth, path=path, line=line, column=col
                )
        elif tok in (b"]", b"}"):
            depth -= 1
    return None


def lone_surrogate_error(value: Any, *, path: str | None = None) -> LimitError | None:
    """A LimitError when a decoded JSON value holds a lone surrogate (``"\\ud800"``): not Unicode text."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return LimitError("the JSON holds a lone surrogate escape (\\ud800-\\udfff): not valid Unicode", path=path)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, path: str | None = None) -> Any:
    """``json.loads`` with the depth bound and lone surrogates refused; ValueError for bad JSON."""
    err = json_depth_error(data, max_depth=max_depth, path=path)
    if err is not None:
        raise err
    value = json.loads(data)
    err = lone_surrogate_error(value, path=path)
    if err is not None:
        raise err
    return value


# -- XML -----------------------------------------------------------------------------------------

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_ENTITY = re.compile(
    rb"<!ENTITY\s+(%\s+)?([^\s%;]+)\s+(?:(SYSTEM|PUBLIC)\b[^>]*|\"([^\"]*)\"|'([^']*)')\s*>", re.S
)
_ENTITY_START = re.compile(rb"<!ENTITY\b")
_REFERENCE = re.compile(rb"&([A-Za-z_:][\w.\-:]*);")


#: How much of an XML file may come before the root element (the prolog and DOCTYPE).
MAX_XML_PROLOG = 4 << 20
_CHUNK = 8 << 20


def _chunks(src: bytes | Path) -> Any:
    if isinstance(src, bytes):
        yield src
        return
    with open(src, "rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def check_xml(src: bytes | Path, path: str | None = None, *, max_depth: int = MAX_XML_DEPTH) -> None:
    """Refuse XML that would make a parser fetch, expand without bound, or recurse too deep.

    ``src`` is the document or a file (read in chunks). Runs before any other XML parser.
    """
    if isinstance(src, bytes):
        head = src[:MAX_XML_PROLOG]
    else:
        with open(src, "rb") as f:
            head = f.read(MAX_XML_PROLOG)
    m = _DOCTYPE.search(head)
    if m is not None:
        entities = _check_doctype(head, m.start(), path)
        if entities:
            _count_references(src, entities, path)
    _check_depth(src, path, max_depth)


def _check_doctype(data: bytes, start: int, path: str | None) -> dict[bytes, int]:
    end = _doctype_end(data, start)
    if end < 0:
        line, col = _position(data, start)
        raise LimitError(
            f"the DOCTYPE does not end within the first {MAX_XML_PROLOG:,} bytes", limit=MAX_XML_PROLOG,
            path=path, line=line, column=col,
        )
    subset = data[start:end]
    entities: dict[bytes, int] = {}
    declared = list(_ENTITY.finditer(subset))
    if len(declared) != len(_ENTITY_START.findall(subset)):
        at = next(
            (s.start() for s in _ENTITY_START.finditer(subset) if not any(d.start() == s.start() for d in declared)),
            0,
        )
        line, col = _position(data, start + at)
        raise LimitError("an entity declaration kgalign cannot check: refused", path=path, line=line, column=col)
    for d in declared:
        line, col = _position(data, start + d.start())
        name = d.group(2).decode("utf-8", "replace")
        if d.group(1):
            raise LimitError(f"parameter entity %{name}; is refused (never expanded)", path=path, line=line, column=col)
        if d.group(3):
            raise LimitError(
                f"external entity &{name}; ({d.group(3).decode()}) is refused: kgalign never reads or fetches "
                "what a file points to", path=path, line=line, column=col,
            )
        value = d.group(4) if d.group(4) is not None else d.group(5) or b""
        if b"&" in value.replace(b"&#", b"") or b"%" in value:
            raise LimitError(
                f"entity &{name}; refers to another entity: refused (nested entities are how an XML bomb "
                "expands)", path=path, line=line, column=col,
            )
        if len(value) > MAX_ENTITY_CHARS:
            raise LimitError(
                f"entity &{name}; is {len(value):,} bytes long; the limit is {MAX_ENTITY_CHARS:,}",
                limit=MAX_ENTITY_CHARS, path=path, line=line, column=col,
            )
        entities[d.group(2)] = len(value)
        if len(entities) > MAX_XML_ENTITIES:
            raise LimitError(
                f"more than {MAX_XML_ENTITIES} entity declarations", limit=MAX_XML_ENTITIES,
                path=path, line=line, column=col,
            )
    return entities


def _count_references(src: bytes | Path, entities: dict[bytes, int], path: str | None) -> None:
    expanded = 0
    offset = 0
    tail = b""
    for chunk in _chunks(src):
        buf = tail + chunk
        cut = max(0, len(buf) - 256)
        for r in _REFERENCE.finditer(buf, 0, cut if cut else len(buf)):
            expanded += entities.get(r.group(1), 0)
            if expanded > MAX_ENTITY_EXPANSION:
                raise LimitError(
                    f"entity references expand to more than {MAX_ENTITY_EXPANSION:,} bytes (at byte "
                    f"{offset - len(tail) + r.start():,})", limit=MAX_ENTITY_EXPANSION, path=path,
                )
        tail = buf[cut:] if cut else b""
        offset += len(chunk)
    for r in _REFERENCE.finditer(tail):
        expanded += entities.get(r.group(1), 0)
    if expanded > MAX_ENTITY_EXPANSION:
        raise LimitError(
            f"entity references expand to more than {MAX_ENTITY_EXPANSION:,} bytes", limit=MAX_ENTITY_EXPANSION,
            path=path,
        )


def _doctype_end(data: bytes, start: int) -> int:
    """The offset just past the DOCTYPE declaration (its internal subset skipped, quotes respected)."""
    i = start + 9
    depth = 0
    quote = 0
    n = len(data)
    while i < n:
        c = data[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):
            quote = c
        elif c == 0x5B:  # [
            depth += 1
        elif c == 0x5D:
            depth -= 1
        elif c == 0x3E and depth <= 0:  # >
            return i + 1
        i += 1
    return -1


def _check_depth(src: bytes | Path, path: str | None, max_depth: int) -> None:
    """Count element depth with expat (iterative, streaming); stop at the first element too deep.

    Runs after the DOCTYPE check, so whatever expat expands is bounded.
    """
    import xml.parsers.expat

    parser = xml.parsers.expat.ParserCreate()
    depth = 0

    class TooDeep(Exception):
        pass

    def start(name: str, attrs: object) -> None:
        nonlocal depth
        depth += 1
        if depth > max_depth:
            raise TooDeep

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        for chunk in _chunks(src):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except TooDeep:
        raise LimitError(
            f"XML elements nest more than {max_depth:,} deep", limit=max_depth, path=path,
            line=parser.CurrentLineNumber, column=parser.CurrentColumnNumber + 1,
        ) from None
    except xml.parsers.expat.ExpatError:
        return  # well-formedness is reported (with its position) by the format's own check


# -- literals ------------------------------------------------------------------------------------


def check_literal_sizes(src: bytes | Path, path: str | None = None, *, max_chars: int = MAX_LITERAL_CHARS) -> None:
    """Refuse a document with a run of more than ``max_chars`` bytes without a line break, quote or tag.

    A literal that long is a damaged file or an attack; either costs the parser and the store
    several times its size. ``src`` is the document or a file (read in chunks).
    """
    if isinstance(src, bytes) and len(src) <= max_chars:
        return
    run = 0  # bytes since the last separator, carried across chunks
    line = 1
    sep = re.compile(rb'[\n<>"]')
    for chunk in _chunks(src):
        last = 0
        for m in sep.finditer(chunk):
            run += m.start() - last
            if run > max_chars:
                break
            run = 0
            last = m.end()
        else:
            run += len(chunk) - last
        if run > max_chars:
            near = line + chunk.count(b"\n", 0, last)
            raise LimitError(
                f"a literal or line longer than {max_chars:,} bytes (from line {near:,})",
                limit=max_chars, path=path,
            )
        line += chunk.count(b"\n")
