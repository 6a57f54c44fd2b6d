"""Readable SPARQL syntax errors from pyoxigraph's grammar messages.

pyoxigraph reports ``error at 1:25: expected one of FILTER, SELECT, VALUES, [_]``: a position and the
grammar's token list, with character classes (``[_]``) and quoted punctuation (``","``). This turns it
into one line a person reads — what was found at the position and what could have come there — keeping
the line, column and the expected tokens for the caret line and the JSON error.

>>> e = readable("expected one of FILTER, SELECT, VALUES, [_]", "SELECT ?x WHERE { ?x a }", 1, 24)
>>> str(e).splitlines()[0]
"line 1, column 24: SPARQL syntax error at '}': expected FILTER, SELECT or VALUES"
>>> e.expected
['FILTER', 'SELECT', 'VALUES']
"""

from __future__ import annotations

import re

from kgalign.errors import QuerySyntaxError

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^,\s][^,]*')
#: Grammar tokens that name a class of characters rather than something a person would type.
_CLASSES = {"[_]": "", "[0-9]": "a digit", "[a-z]": "a letter", "[A-Z]": "a letter"}


def expected_tokens(text: str) -> list[str]:
    """The tokens of ``expected one of A, ",", [_]`` as a person would type them (classes dropped).

    >>> expected_tokens('one of ",", ".", "}", [_]')
    [',', '.', '}']
    """
    text = re.sub(r"^\s*one of\s+", "", text.strip())
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        tok = tok.strip()
        if tok.startswith('"') and tok.endswith('"') and len(tok) >= 2:
            tok = re.sub(r"\\(.)", r"\1", tok[1:-1])
        elif re.fullmatch(r"\['(.)'\]", tok):
            tok = tok[2]
        elif tok.startswith("["):
            tok = _CLASSES.get(tok, "")
        if tok and tok not in out:
            out.append(tok)
    return out


def _found(text: str, line: int | None, column: int | None) -> str:
    """What stands at the position: the next word or character, or 'the end of the query'."""
    if line is None or column is None:
        return ""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    rest = lines[line - 1][max(0, column - 1):] + "\n" + "\n".join(lines[line:])
    rest = rest.lstrip()
    if not rest:
        return "the end of the query"
    m = re.match(r"[\w:?$<>#/.-]+|.", rest)
    word = m.group(0) if m else rest[:1]
    return repr(word[:40])


def _prefix_before(text: str, line: int | None, column: int | None) -> str:
    """The prefix of the prefixed name that ends just before the position (``foo:`` of ``foo:bar``)."""
    if line is None or column is None:
        return ""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    m = re.search(r"([A-Za-z][\w.-]*)?:[\w.-]*\s*$", lines[line - 1][: max(0, column - 1)])
    return (m.group(1) or "") + ":" if m else ""


def _join(items: list[str], limit: int = 8) -> str:
    shown = [t if re.fullmatch(r"[A-Za-z][\w ]*", t) else f"'{t}'" for t in items[:limit]]
    if len(items) > limit:
        return ", ".join(shown) + f" or {len(items) - limit} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def readable(message: str, text: str, line: int | None, column: int | None) -> QuerySyntaxError:
    """A :class:`QuerySyntaxError` whose first line says what was found and what was expected."""
    msg = " ".join(message.split())
    expected: list[str] = []
    m = re.match(r"expected\s+(one of .*|\S+)$", msg)
    if m:
        expected = expected_tokens(m.group(1))
        msg = ""
        if any(t.lower() == "prefix not found" for t in expected):
            expected, msg = [], "prefix not found"
    elif msg.startswith("expected "):
        msg = msg[len("expected "):]
    if msg.lower().startswith("prefix not found"):
        name = _prefix_before(text, line, column)
        msg = f"the prefix {name!r} is not declared (add PREFIX {name} <...>)" if name else "undeclared prefix"
    found = _found(text, line, column)
    head = "SPARQL syntax error" + (f" at {found}" if found else "")
    if expected:
        head += ": expected " + _join(expected)
    elif msg:
        head += ": " + (msg if len(msg) <= 200 else msg[:199] + "…")
    err = QuerySyntaxError(head, text=text, line=line, column=column)
    err.expected = expected  # in the JSON error; already part of the one-line message
    return err
