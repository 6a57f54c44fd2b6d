"""The one gate every SPARQL text passes before pyoxigraph sees it.

:func:`check_sparql` tokenises the text the way SPARQL 1.1 §19 does (strings, long
strings, IRIs, prefixed and blank-node names, variables, comments ending at ``\\n``
*or* ``\\r``) and then, on the token stream:

* refuses ``SERVICE`` and ``LOAD`` (the only SPARQL operations that make the engine
  open a connection) unless the endpoint is allow-listed by :func:`set_federation`;
* bounds the nesting of ``{ ( [`` (pyoxigraph's recursive parser overflows the C stack
  — a segfault, not an exception — at about 3,000 braces, 5,000 parentheses or 1,000
  nested function calls) and the number of operators and clauses (about 3,000 ``BIND``
  or ``MINUS`` clauses in a row overflow it too);
* bounds the length of the text.

Why tokens and not an algebra: pyoxigraph exposes no parser, and a second parser's
algebra is not the algebra pyoxigraph evaluates — rdflib's parser, for one, ends a
comment at ``\\n`` only, so ``# c\\rSERVICE <http://…>`` has no Service node in
rdflib's algebra while pyoxigraph runs it. A ``Service`` or ``Load`` node in any
conforming parser's algebra comes from a ``SERVICE``/``LOAD`` keyword token, and the
keyword can only be spelt as a token (pyoxigraph decodes ``\\u`` escapes only inside
strings and IRIs), so refusing the keyword token refuses the node. When federation is
allowed, rdflib's algebra (:func:`service_targets`) names the endpoints with prefixes
resolved, and any doubt refuses.

>>> check_sparql("SELECT * { ?s ?p ?o }")
>>> check_sparql("SELECT * { # c\\rSERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
kgalign.errors.RemoteAccessRefused: line 2, column 1: SPARQL SERVICE would fetch a remote URL; ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from kgalign.errors import QuerySyntaxError, RemoteAccessRefused

#: Deepest nesting of ``{``, ``(`` and ``[`` together (pyoxigraph crashes near 1,000 nested calls).
MAX_SPARQL_DEPTH = 128
#: Most operators and clause keywords in one text (pyoxigraph crashes near 6,000).
MAX_SPARQL_OPERATORS = 2_000
#: Longest SPARQL text, in characters.
MAX_SPARQL_CHARS = 1_000_000

_REMOTE_KEYWORDS = {"SERVICE", "LOAD"}
_CLAUSE_KEYWORDS = {
    "OPTIONAL", "MINUS", "UNION", "FILTER", "BIND", "GRAPH", "SERVICE", "SELECT", "EXISTS",
    "VALUES", "CONSTRUCT", "ASK", "DESCRIBE", "IN",
}
_OPENERS = {"{": "}", "(": ")", "[": "]"}
_CLOSERS = set(_OPENERS.values())
_OPERATORS = {"||", "&&", "!", "=", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "|", "^"}

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<long>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*''')
  | (?P<string>"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<bnode>_:[\w\-.\u00B7]+)
  | (?P<name>(?:[^\W\d][\w\-.\u00B7]*)?:(?:[\w\-.:%\\\u00B7]|%[0-9A-Fa-f]{2})*|[^\W\d][\w\-\u00B7]*)
  | (?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)
  | (?P<op>\|\||&&|!=|<=|>=|\^\^|[{}()\[\];,.=<>!+\-*/|^])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    offset: int


@dataclass(frozen=True)
class FederationPolicy:
    """Which SERVICE/LOAD endpoints a query may reach: none (the default), some IRI prefixes, or all."""

    allowed: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return "*" in self.allowed

    def allows(self, iri: str | None) -> bool:
        if self.any:
            return True
        return iri is not None and any(iri.startswith(p) for p in self.allowed)


_policy = FederationPolicy(tuple(p for p in os.environ.get("KGALIGN_ALLOW_FEDERATION", "").split() if p))


def set_federation(allowed: tuple[str, ...] | list[str] | None) -> FederationPolicy:
    """Allow SERVICE/LOAD to the endpoints whose IRI starts with one of ``allowed`` (``*``: any).

    The default refuses all; ``KGALIGN_ALLOW_FEDERATION`` (space-separated) sets it at start.
    Returns the previous policy.
    """
    global _policy
    old = _policy
    _policy = FederationPolicy(tuple(allowed or ()))
    return old


def federation_policy() -> FederationPolicy:
    return _policy


def tokens(text: str) -> Iterator[Token]:
    """SPARQL tokens of ``text`` without white space and comments (an unknown character is one token)."""
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        yield Token(kind, m.group(), m.start())


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``; a line ends at ``\\n``, ``\\r`` or ``\\r\\n``."""
    head = text[:offset]
    line = len(re.findall(r"\r\n|\r|\n", head)) + 1
    start = max(head.rfind("\n"), head.rfind("\r")) + 1
    return line, offset - start + 1


def _error(text: str, offset: int, message: str) -> QuerySyntaxError:
    line, col = position(text, offset)
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    short = len(text) <= 10_000 and re.match(r"[^\r\n]{0,300}(?:[\r\n]|$)", text[start:])
    return QuerySyntaxError(message, text=text if short else "", line=line, column=col)


def check_sparql(text: str, *, update: bool = False, policy: FederationPolicy | None = None) -> None:
    """Refuse a SPARQL query (or ``update``) that would fetch a URL or is too deep or large to parse safely.

    Raises :class:`RemoteAccessRefused` for SERVICE/LOAD (unless allowed) and
    :class:`QuerySyntaxError` naming the line, column and limit for the bounds.
    """
    policy = policy or _policy
    if not isinstance(text, str):
        raise QuerySyntaxError(f"a SPARQL text is a string, not {type(text).__name__}")
    if len(text) > MAX_SPARQL_CHARS:
        raise QuerySyntaxError(
            f"the SPARQL text is {len(text):,} characters long; the limit is {MAX_SPARQL_CHARS:,}", line=1, column=1
        )
    bad = _lone_surrogate(text)
    if bad is not None:
        raise _error(text, bad, "the SPARQL text holds a lone surrogate code point (not valid Unicode)")
    if _clearly_within_bounds(text):
        return
    depth = 0
    operators = 0
    remote: list[Token] = []
    prev: Token | None = None
    for tok in tokens(text):
        t = tok.text
        if tok.kind == "op":
            if t in _OPENERS:
                depth += 1
                operators += 1
                if depth > MAX_SPARQL_DEPTH:
                    raise _error(
                        text, tok.offset,
                        f"SPARQL nests {{ ( [ more than {MAX_SPARQL_DEPTH} deep (the limit for a query kgalign runs)",
                    )
            elif t in _CLOSERS:
                depth = max(0, depth - 1)
            elif t in _OPERATORS:
                operators += 1
        elif tok.kind == "iri" and ("(" in t or ")" in t) and _HIDDEN_KEYWORD.search(t):
            # '<' read as an IRI here may be a less-than to pyoxigraph: be conservative.
            remote.append(Token("name", _HIDDEN_KEYWORD.search(t).group(1), tok.offset))
        elif tok.kind == "name":
            word = t.upper()
            if word in _REMOTE_KEYWORDS and (prev is None or prev.text != "^^"):
                remote.append(tok)
            if word in _CLAUSE_KEYWORDS:
                operators += 1
        if operators > MAX_SPARQL_OPERATORS:
            raise _error(
                text, tok.offset,
                f"SPARQL holds more than {MAX_SPARQL_OPERATORS:,} operators and clauses "
                "(the limit for a query kgalign runs); split it",
            )
        prev = tok
    for tok in remote:
        _check_remote(text, tok, policy, update)


def _clearly_within_bounds(text: str) -> bool:
    """True only when the token walk below cannot refuse ``text``: a shortcut for short queries.

    Each counted operator or clause is a token of at least one character, so a text of at most
    :data:`MAX_SPARQL_OPERATORS` characters cannot pass that bound; nesting only grows at a
    ``{ ( [`` character; and a SERVICE/LOAD token (its upper case, or the case-insensitive
    pattern inside an IRI) needs the word in the text's upper case or a case-insensitive match.

    >>> _clearly_within_bounds("SELECT * { ?s ?p ?o }"), _clearly_within_bounds("SELECT * { SERVICE <x> {} }")
    (True, False)
    """
    if len(text) > MAX_SPARQL_OPERATORS:
        return False
    if text.count("{") + text.count("(") + text.count("[") > MAX_SPARQL_DEPTH:
        return False
    upper = text.upper()
    return "SERVICE" not in upper and "LOAD" not in upper and _ANY_KEYWORD.search(text) is None


def _check_remote(text: str, tok: Token, policy: FederationPolicy, update: bool) -> None:
    word = tok.text.upper()
    if policy.allowed:
        targets = service_targets(text, update=update)
        if targets is not None and all(policy.allows(t) for t in targets):
            return
    line, col = position(text, tok.offset)
    raise RemoteAccessRefused(
        f"line {line}, column {col}: SPARQL {word} would fetch a remote URL; kgalign never fetches remote "
        "data from a query (load files with 'kgalign load' instead, or allow endpoints with --allow-federation)",
        operation=word, line=line, column=col,
    )


def service_targets(text: str, *, update: bool = False) -> list[str | None] | None:
    """The endpoint IRIs of every SERVICE and LOAD in rdflib's algebra of ``text`` (None for a
    variable endpoint), or None when rdflib cannot parse it (then nothing is allowed)."""
    import sys

    try:
        from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
        from rdflib.plugins.sparql.parserutils import CompValue
        from rdflib.term import URIRef
    except ImportError:  # pragma: no cover - rdflib is a dependency
        return None
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, 20_000))
        tree = (parseUpdate if update else parseQuery)(text)
        prologue = None
        if update:
            from rdflib.plugins.sparql.algebra import translateUpdate

            algebra = translateUpdate(tree)
        else:
            from rdflib.plugins.sparql.algebra import translateQuery

            algebra = translateQuery(tree)
            prologue = algebra.prologue
        del prologue
    except Exception:
        return None
    finally:
        sys.setrecursionlimit(limit)
    found: list[str | None] = []

    def walk(node: object, depth: int = 0) -> None:
        if depth > 400:
            found.append(None)
            return
        if isinstance(node, CompValue):
            if node.name in ("ServiceGraphPattern", "Load"):
                term = node.get("term") if node.name == "ServiceGraphPattern" else node.get("iri")
                found.append(str(term) if isinstance(term, URIRef) else None)
            for v in node.values():
                walk(v, depth + 1)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, depth + 1)
        elif hasattr(node, "algebra"):
            walk(node.algebra, depth + 1)

    walk(algebra.algebra if hasattr(algebra, "algebra") else algebra)
    return found or [None]


def _lone_surrogate(text: str) -> int | None:
    m = _SURROGATE.search(text)
    return m.start() if m else None


_HIDDEN_KEYWORD = re.compile(r"(?i)(?<![\w:/#])(SERVICE|LOAD)(?![\w:])")
_ANY_KEYWORD = re.compile(r"(?i)SERVICE|LOAD")
_SURROGATE = re.compile("[\ud800-\udfff]")
