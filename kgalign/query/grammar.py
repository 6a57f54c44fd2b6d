"""Load the DSL grammar (``grammars/kgalign.lark``) once, and lex its opaque SPARQL parts.

The grammar ships inside the wheel as ``kgalign/grammars/kgalign.lark``; in a source
checkout it is read from the repository's top-level ``grammars/`` directory.

Two terminals stand for text the DSL does not parse: ``SPARQL_GROUP`` matches a ``{``
and :class:`DslLexer` extends it to the balanced ``}`` (strings, IRIs, comments and
escapes inside are skipped, so their braces do not count); ``SPARQL_QUERY`` matches a
leading ``SELECT``/``ASK``/``CONSTRUCT``/``DESCRIBE``/``PREFIX``/``BASE`` and is
extended to the next top-level ``;`` or the end of the text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from lark import Lark
from lark.lexer import ContextualLexer, Lexer, LexerState, Token

from kgalign.errors import QuerySyntaxError

GRAMMAR_FILE = "kgalign.lark"
#: Where the grammar sits inside the installed package (``kgalign/grammars/``).
PACKAGE, PACKAGE_DIR = "kgalign", "grammars"
#: Where it sits in a source checkout: ``<repo>/grammars/``.
SOURCE_DIR = Path(__file__).resolve().parents[2] / "grammars"

START_RULES = ("query", "script")


def grammar_source(package: str = PACKAGE, source_dir: Path = SOURCE_DIR) -> tuple[str, str]:
    """The grammar text and where it was read from: the installed package first, else the checkout."""
    try:
        resource = resources.files(package).joinpath(PACKAGE_DIR, GRAMMAR_FILE)
        if resource.is_file():
            return resource.read_text(encoding="utf-8"), str(resource)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    path = source_dir / GRAMMAR_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    raise FileNotFoundError(
        f"the query grammar {GRAMMAR_FILE} is neither in package {package}/{PACKAGE_DIR} nor in {source_dir}"
    )


@functools.cache
def get_parser() -> Lark:
    """The LALR parser for the DSL, built once per process."""
    text, origin = grammar_source()
    return build_parser(text, origin)


def build_parser(text: str, origin: str = "<grammar>", **options: object) -> Lark:
    """An LALR parser for grammar ``text`` with the SPARQL-aware contextual lexer."""
    return Lark(
        text,
        parser="lalr",
        lexer=DslLexer,
        propagate_positions=True,
        maybe_placeholders=True,
        start=list(START_RULES),
        source_path=origin,
        **options,
    )


# ---- the lexer ----------------------------------------------------------------------------

_IRI = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')
_OPEN, _CLOSE = "({[", ")}]"


class _Unclosed(Exception):
    """Scanning ran off the end of the text; ``string_at`` is the offset of an unterminated string."""

    def __init__(self, string_at: int | None) -> None:
        self.string_at = string_at


def _skip_string(text: str, i: int) -> int:
    """Offset just past the SPARQL string literal starting at ``text[i]`` (a quote)."""
    quote = text[i]
    if text.startswith(quote * 3, i):
        end = i + 3
        while end < len(text):
            if text[end] == "\\":
                end += 2
            elif text.startswith(quote * 3, end):
                return end + 3
            else:
                end += 1
        raise _Unclosed(i)
    end = i + 1
    while end < len(text):
        c = text[end]
        if c == "\\":
            end += 2
        elif c == quote:
            return end + 1
        elif c in "\r\n":
            break
        else:
            end += 1
    raise _Unclosed(i)


def sparql_extent(text: str, start: int, *, group: bool) -> int:
    """End offset of the SPARQL text starting at ``start``.

    With ``group``, ``text[start]`` is ``{`` and the result is just past its balanced ``}``
    (raises :class:`_Unclosed` when there is none). Otherwise the result is the offset of
    the first ``;`` outside brackets, or ``len(text)``.
    """
    depth = 0
    unterminated: int | None = None
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            try:
                i = _skip_string(text, i)
            except _Unclosed as e:
                if unterminated is None:
                    unterminated = e.string_at
                i = n if text.startswith(c * 3, i) else _line_end(text, i)
            continue
        if c == "#":
            i = _line_end(text, i)
            continue
        if c == "<":
            m = _IRI.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c == "\\":
            i += 2
            continue
        if group:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return i + 1
        else:
            if c in _OPEN:
                depth += 1
            elif c in _CLOSE:
                depth = max(0, depth - 1)
            elif c == ";" and depth == 0:
                return i
        i += 1
    if group:
        raise _Unclosed(unterminated)
    return n


def _line_end(text: str, i: int) -> int:
    """Where the line holding ``i`` ends: SPARQL ends a comment at ``\n`` or ``\r``, and so do we."""
    m = _EOL.search(text, i)
    return len(text) if m is None else m.start()


_EOL = re.compile(r"[\r\n]")


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of ``offset``, counting lines as Lark does (by ``\\n``)."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class DslLexer(Lexer):
    """Lark's contextual lexer, plus the two SPARQL extensions described in the module docstring."""

    __future_interface__ = 2

    def __init__(self, lexer_conf: object) -> None:
        self._conf = lexer_conf
        self._contextual: ContextualLexer | None = None

    def lex(self, lexer_state: LexerState, parser_state: object) -> Iterator[Token]:
        if self._contextual is None:
            table = parser_state.parse_conf.parse_table  # type: ignore[attr-defined]
            states = {i: list(actions) for i, actions in table.states.items()}
            self._contextual = ContextualLexer(self._conf, states)  # type: ignore[arg-type]
        for token in self._contextual.lex(lexer_state, parser_state):
            if token.type in ("SPARQL_GROUP", "SPARQL_QUERY"):
                token = self._extend(token, lexer_state)
            yield token

    @staticmethod
    def _extend(token: Token, lexer_state: LexerState) -> Token:
        text = lexer_state.text.text
        start = token.start_pos
        assert start is not None and token.end_pos is not None
        if token.type == "SPARQL_GROUP":
            try:
                end = sparql_extent(text, start, group=True)
            except _Unclosed as e:
                raise _unclosed_group_error(text, token, e.string_at) from None
        else:
            end = start + len(text[start : sparql_extent(text, start, group=False)].rstrip())
        line_ctr = lexer_state.line_ctr
        line_ctr.feed(text[token.end_pos : end])
        extended = Token(
            token.type,
            text[start:end],
            start_pos=start,
            line=token.line,
            column=token.column,
            end_line=line_ctr.line,
            end_column=line_ctr.column,
            end_pos=end,
        )
        lexer_state.last_token = extended
        return extended


def _unclosed_group_error(text: str, brace: Token, string_at: int | None) -> QuerySyntaxError:
    message = "this '{' has no matching '}' (a SPARQL pattern must close every brace it opens)"
    if string_at is not None:
        line, column = _position(text, string_at)
        message += f"; the string opened at line {line}, column {column} never ends"
    return QuerySyntaxError(message, text=text, line=brace.line, column=brace.column, expected=["}"])


#: The DSL's words, for completion (shell, console).
KEYWORDS = (
    "symbols", "sharing", "features", "with", "similar", "to", "of", "activating", "feature", "explain", "no",
    "symbolic", "counterpart", "neural", "unstable", "align", "bridges", "between", "and", "or", "except", "in",
    "graph", "limit", "min", "max", "order", "by", "asc", "desc", "where", "overlap", "similarity", "stability",
    "strength", "density", "confidence", "shared", "rules", "using",
)
