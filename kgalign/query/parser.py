"""Parse DSL text into the typed AST of :mod:`kgalign.query.ast`.

Stages: Lark parses ``grammars/kgalign.lark`` into a tree; :class:`AstBuilder` (one method
per grammar rule) turns it into frozen dataclasses; :func:`validate` checks what the
grammar cannot (fields a question offers, graph filters, SPARQL variables, set operations
on results of the same kind). Every failure is a :class:`~kgalign.errors.QuerySyntaxError`
with a 1-based line and column and the tokens that would have fitted, as one types them.

>>> parse("symbols similar to duty_of_care limit 5")
SimilarTo(symbol=SymbolRef(name='duty_of_care', kind='name', graph=None), modifiers=Modifiers(graph=None, limit=5, thresholds=(), order_by=(), where=None))
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import PatternStr

from kgalign.errors import QuerySyntaxError
from kgalign.query.ast import (
    NO_SPAN,
    Align,
    BlindSpots,
    Bridges,
    Explain,
    ExplainFeature,
    FeatureRef,
    FeaturesOf,
    GraphRef,
    Modifiers,
    OrderBy,
    PruningCandidates,
    Query,
    Question,
    RulesUsing,
    SetExpr,
    SetOp,
    SharingFeatures,
    SimilarTo,
    Span,
    SparqlFilter,
    SparqlQuery,
    SparqlSource,
    SymbolRef,
    SymbolsActivating,
    Threshold,
    UnstableSymbols,
    result_kind,
)
from kgalign.query.grammar import get_parser

__all__ = ["MAX_NESTING", "parse", "parse_script", "validate"]

#: How deeply set operations may nest; deeper queries are refused rather than overflowing the stack.
MAX_NESTING = 100


def parse(text: str) -> Query:
    """One statement: a question, a set operation over questions, ``explain ...`` or a SPARQL query."""
    node = _parse(text, "query")
    validate(node, text)
    return node


def parse_script(text: str) -> tuple[Query, ...]:
    """Statements separated by ``;`` (empty statements are skipped)."""
    nodes = _parse(text, "script")
    for node in nodes:
        validate(node, text)
    return nodes


def _parse(text: str, start: str) -> Any:
    if not isinstance(text, str):
        raise TypeError(f"a query is text, not {type(text).__name__}")
    bad = re.search("[\ud800-\udfff]", text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise QuerySyntaxError("a lone surrogate code point (not valid Unicode text)", text=text, line=line, column=col)
    parser = get_parser()
    try:
        tree = parser.parse(text, start=start)
    except UnexpectedInput as e:
        raise _from_lark(e, text, start) from None
    try:
        return AstBuilder(text).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, QuerySyntaxError):
            raise e.orig_exc from None
        if isinstance(e.orig_exc, RecursionError):
            raise _too_deep(text) from None
        raise
    except RecursionError:
        raise _too_deep(text) from None


def _too_deep(text: str) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"the query nests set operations more than {MAX_NESTING} deep", text=text, line=1, column=1
    )


# ---- positions -----------------------------------------------------------------------------


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column, token.start_pos, token.end_pos)  # type: ignore[arg-type]


def _meta_span(meta: Any) -> Span:
    if getattr(meta, "empty", True):
        return NO_SPAN
    return Span(meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)


def _cover(*spans: Span) -> Span:
    known = [s for s in spans if s is not NO_SPAN]
    if not known:
        return NO_SPAN
    out = known[0]
    for s in known[1:]:
        out = out.covering(s)
    return out


def _at_end(span: Span) -> Span:
    """A zero-width span just after ``span``."""
    return Span(
        span.end_line, span.end_column, span.end_line, span.end_column, span.end_offset, span.end_offset
    )


def _error(message: str, text: str, span: Span | None, expected: Iterable[str] = ()) -> QuerySyntaxError:
    if span is None or span is NO_SPAN or span.start_line == 0:
        return QuerySyntaxError(message, text=text, expected=expected)
    return QuerySyntaxError(
        message, text=text, line=span.start_line, column=span.start_column, expected=expected
    )


# ---- tree -> AST ---------------------------------------------------------------------------

_REF_KINDS = {"NAME": "name", "STRING": "string", "CURIE": "curie", "IRI": "iri"}
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Longest number the DSL reads (Python refuses int() of 4,300+ digits; floats overflow at 309).
MAX_NUMBER_CHARS = 40


def _shown(token: str) -> str:
    t = str(token)
    return repr(t) if len(t) <= 24 else repr(t[:20] + "…") + f" ({len(t):,} characters)"


def _check_digits(token: Token, text: str, what: str) -> None:
    if len(token) > MAX_NUMBER_CHARS:
        raise _error(
            f"{what} of {len(token):,} characters is out of range (at most {MAX_NUMBER_CHARS})",
            text, _token_span(token),
        )


@dataclass(frozen=True)
class _Clause:
    """One modifier as written, before it is folded into :class:`Modifiers`."""

    name: str  # graph | limit | thresholds | order_by | where
    value: Any
    span: Span


@v_args(meta=True)
class AstBuilder(Transformer):
    """Builds the AST; each method is named after the grammar rule (or alias) it handles."""

    def __init__(self, text: str) -> None:
        super().__init__(visit_tokens=False)
        self.text = text
        self._depth: dict[int, int] = {}

    # statements

    def query(self, meta: Any, children: list[Any]) -> Query:
        return children[0]  # type: ignore[no-any-return]

    def script(self, meta: Any, children: list[Any]) -> tuple[Query, ...]:
        return tuple(c for c in children if c is not None)

    def explain(self, meta: Any, children: list[Any]) -> Explain:
        return Explain(children[0], span=_meta_span(meta))

    def sparql_query(self, meta: Any, children: list[Token]) -> SparqlQuery:
        (token,) = children
        return SparqlQuery(str(token), span=_token_span(token))

    # set operations

    def _set_op(self, op: str, meta: Any, children: list[Any]) -> SetOp:
        left, right = children
        depth = 1 + max(self._depth.get(id(left), 0), self._depth.get(id(right), 0))
        node = SetOp(op, left, right, span=_meta_span(meta))  # type: ignore[arg-type]
        if depth > MAX_NESTING:
            raise _error(f"the query nests set operations more than {MAX_NESTING} deep", self.text, node.span)
        self._depth[id(node)] = depth
        return node

    def union(self, meta: Any, children: list[Any]) -> SetOp:
        return self._set_op("or", meta, children)

    def intersection(self, meta: Any, children: list[Any]) -> SetOp:
        return self._set_op("and", meta, children)

    def difference(self, meta: Any, children: list[Any]) -> SetOp:
        return self._set_op("except", meta, children)

    # questions

    def sharing_features(self, meta: Any, children: list[Any]) -> SharingFeatures:
        head, symbol, clauses = children
        symbol, modifiers = self._fold(clauses, head, symbol, meta)
        return SharingFeatures(symbol, modifiers, span=_meta_span(meta))

    def rules_using(self, meta: Any, children: list[Any]) -> RulesUsing:
        head, symbol, clauses = children
        symbol, modifiers = self._fold(clauses, head, symbol, meta)
        return RulesUsing(symbol, modifiers, span=_meta_span(meta))

    def similar_to(self, meta: Any, children: list[Any]) -> SimilarTo:
        head, symbol, clauses = children
        symbol, modifiers = self._fold(clauses, head, symbol, meta)
        return SimilarTo(symbol, modifiers, span=_meta_span(meta))

    def features_of(self, meta: Any, children: list[Any]) -> FeaturesOf:
        symbol, clauses = children
        symbol, modifiers = self._fold(clauses, None, symbol, meta)
        return FeaturesOf(symbol, modifiers, span=_meta_span(meta))

    def symbols_activating(self, meta: Any, children: list[Any]) -> SymbolsActivating:
        head, features, clauses = children
        _, modifiers = self._fold(clauses, head, None, meta)
        return SymbolsActivating(features, modifiers, span=_meta_span(meta))

    def explain_feature(self, meta: Any, children: list[Any]) -> ExplainFeature:
        features, clauses = children
        _, modifiers = self._fold(clauses, None, None, meta)
        return ExplainFeature(features, modifiers, span=_meta_span(meta))

    def blind_spots(self, meta: Any, children: list[Any]) -> BlindSpots:
        (clauses,) = children
        return BlindSpots(self._fold(clauses, None, None, meta)[1], span=_meta_span(meta))

    def pruning_candidates(self, meta: Any, children: list[Any]) -> PruningCandidates:
        head, clauses = children
        return PruningCandidates(self._fold(clauses, head, None, meta)[1], span=_meta_span(meta))

    def unstable_symbols(self, meta: Any, children: list[Any]) -> UnstableSymbols:
        (clauses,) = children
        return UnstableSymbols(self._fold(clauses, None, None, meta)[1], span=_meta_span(meta))

    def align(self, meta: Any, children: list[Any]) -> Align:
        source, target, clauses = children
        return Align(source, target, self._fold(clauses, None, None, meta)[1], span=_meta_span(meta))

    def bridges(self, meta: Any, children: list[Any]) -> Bridges:
        source, target, clauses = children
        return Bridges(source, target, self._fold(clauses, None, None, meta)[1], span=_meta_span(meta))

    def sparql_source(self, meta: Any, children: list[Any]) -> SparqlSource:
        head, pattern, clauses = children
        return SparqlSource(pattern, self._fold(clauses, head, None, meta)[1], span=_meta_span(meta))

    def head_graph(self, meta: Any, children: list[Any]) -> _Clause:
        (graph,) = children
        return _Clause("graph", graph, _meta_span(meta))

    # references

    def symbol_ref(self, meta: Any, children: list[Token]) -> SymbolRef:
        (token,) = children
        name, kind = self._ref(token)
        return SymbolRef(name, kind, span=_token_span(token))  # type: ignore[arg-type]

    def graph_ref(self, meta: Any, children: list[Token]) -> GraphRef:
        (token,) = children
        name, kind = self._ref(token)
        return GraphRef(name, kind, span=_token_span(token))  # type: ignore[arg-type]

    def feature_refs(self, meta: Any, children: list[Token]) -> tuple[FeatureRef, ...]:
        for t in children:
            _check_digits(t, self.text, "a feature number")
            if int(t) >= 2**31:
                raise _error(f"no feature {_shown(t)}: feature numbers are below 2**31", self.text, _token_span(t))
        return tuple(FeatureRef(int(t), span=_token_span(t)) for t in children)

    def _ref(self, token: Token) -> tuple[str, str]:
        kind = _REF_KINDS[token.type]
        if kind == "string":
            return self._unescape(token), kind
        if kind == "iri":
            return str(token)[1:-1], kind
        return str(token), kind

    def _unescape(self, token: Token) -> str:
        def one(m: re.Match[str]) -> str:
            code = m.group(1)
            if code in _ESCAPES:
                return _ESCAPES[code]
            if len(code) > 1:
                value = int(code[1:], 16)
                if value <= 0x10FFFF:
                    return chr(value)
            column = token.column + 1 + m.start()  # type: ignore[operator]
            raise QuerySyntaxError(
                f"unknown escape '{m.group(0)}' in a string (write \\\\ for a backslash)",
                text=self.text,
                line=token.line,
                column=column,
            )

        return _ESCAPE.sub(one, str(token)[1:-1])

    # modifiers

    def modifiers(self, meta: Any, children: list[_Clause]) -> list[_Clause]:
        return children

    def graph_filter(self, meta: Any, children: list[Any]) -> _Clause:
        return _Clause("graph", children[0], _meta_span(meta))

    def limit(self, meta: Any, children: list[Token]) -> _Clause:
        (token,) = children
        span = _token_span(token)
        _check_digits(token, self.text, "a limit")
        if not _INTEGER.fullmatch(token) or int(token) <= 0:
            raise _error(f"limit must be a positive whole number, not {str(token)!r}", self.text, span)
        return _Clause("limit", int(token), _meta_span(meta))

    def with_thresholds(self, meta: Any, children: list[Threshold]) -> _Clause:
        return _Clause("thresholds", tuple(children), _meta_span(meta))

    def threshold(self, meta: Any, children: list[Any]) -> Threshold:
        field, op, value = children
        return Threshold(str(field), op, self._number(value), span=_meta_span(meta))

    def min_threshold(self, meta: Any, children: list[Token]) -> _Clause:
        field, value = children
        threshold = Threshold(str(field), ">=", self._number(value), span=_meta_span(meta))
        return _Clause("thresholds", (threshold,), threshold.span)

    def max_threshold(self, meta: Any, children: list[Token]) -> _Clause:
        field, value = children
        threshold = Threshold(str(field), "<=", self._number(value), span=_meta_span(meta))
        return _Clause("thresholds", (threshold,), threshold.span)

    def comparator(self, meta: Any, children: list[Token]) -> str:
        return str(children[0])

    def order_by(self, meta: Any, children: list[OrderBy]) -> _Clause:
        return _Clause("order_by", tuple(children), _meta_span(meta))

    def order_key(self, meta: Any, children: list[Any]) -> OrderBy:
        field, direction = children
        return OrderBy(str(field), direction == "desc", span=_meta_span(meta))

    def direction(self, meta: Any, children: list[Token]) -> str:
        return str(children[0]).lower()

    def where(self, meta: Any, children: list[SparqlFilter]) -> _Clause:
        return _Clause("where", children[0], _meta_span(meta))

    def sparql_pattern(self, meta: Any, children: list[Token]) -> SparqlFilter:
        (token,) = children
        inner = Span(
            token.line,
            token.column + 1,  # type: ignore[operator]
            token.end_line,
            token.end_column - 1,  # type: ignore[operator]
            token.start_pos + 1,  # type: ignore[operator]
            token.end_pos - 1,  # type: ignore[operator]
        )
        return SparqlFilter(str(token)[1:-1], span=inner)

    def _number(self, token: Token) -> float:
        _check_digits(token, self.text, "a number")
        value = int(token) if _INTEGER.fullmatch(token) else float(token)
        if isinstance(value, int) and abs(value) > 2**53:
            raise _error(f"the number {_shown(token)} is out of range", self.text, _token_span(token))
        if not math.isfinite(value):
            raise _error(f"the number {str(token)!r} is out of range", self.text, _token_span(token))
        return value

    def _fold(
        self, clauses: list[_Clause], head: _Clause | None, symbol: SymbolRef | None, meta: Any
    ) -> tuple[Any, Modifiers]:
        """Fold the clauses into :class:`Modifiers`; a first ``in graph`` right after ``symbol`` qualifies it."""
        if symbol is not None and clauses and clauses[0].name == "graph":
            qualifier = clauses[0]
            symbol = replace(symbol, graph=qualifier.value, span=_cover(symbol.span, qualifier.span))
            clauses = clauses[1:]
        if head is not None:
            clauses = [head, *clauses]
        values: dict[str, Any] = {}
        thresholds: list[Threshold] = []
        for clause in clauses:
            if clause.name == "thresholds":
                thresholds.extend(clause.value)
            elif clause.name in values:
                raise _error(_TWICE[clause.name], self.text, clause.span)
            else:
                values[clause.name] = clause.value
        span = _cover(*(c.span for c in clauses))
        if span is NO_SPAN and meta is not None and not getattr(meta, "empty", True):
            span = _at_end(_meta_span(meta))
        return symbol, Modifiers(
            graph=values.get("graph"),
            limit=values.get("limit"),
            thresholds=tuple(thresholds),
            order_by=values.get("order_by", ()),
            where=values.get("where"),
            span=span,
        )


_TWICE = {
    "graph": "a question takes one 'in graph' filter (a symbol's own 'in graph' goes right after it)",
    "limit": "'limit' given twice",
    "order_by": "'order by' given twice; list several fields with commas: order by a desc, b",
    "where": "'where' given twice; put both patterns in one group: where { ... . ... }",
}


# ---- validation ----------------------------------------------------------------------------

_SPARQL_LEXEMES = re.compile(
    r'"""(?:[^\\]|\\.)*?"""|'
    r"'''(?:[^\\]|\\.)*?'''|"
    r'"(?:[^"\\\n]|\\.)*"|'
    r"'(?:[^'\\\n]|\\.)*'|"
    r'<[^<>"{}|^`\\\x00-\x20]*>|#[^\r\n]*|[?$](?P<var>\w+)',
    re.DOTALL,
)


def sparql_variables(pattern: str) -> set[str]:
    """The variables a SPARQL pattern mentions (not counting strings, IRIs and comments).

    >>> sorted(sparql_variables('?symbol a ?t . FILTER(?t != "?x") # ?y'))
    ['symbol', 't']
    """
    return {m.group("var") for m in _SPARQL_LEXEMES.finditer(pattern) if m.group("var")}


def validate(node: Query, text: str = "") -> None:
    """Check what the grammar cannot; raises :class:`QuerySyntaxError` pointing into ``text``."""
    if isinstance(node, Explain):
        validate(node.query, text)
    elif isinstance(node, SetOp):
        _validate_set_op(node, text)
    elif isinstance(node, Question):
        _validate_question(node, text)


def _validate_set_op(node: SetOp, text: str) -> None:
    stack: list[SetExpr] = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, SetOp):
            _validate_question(current, text)
            continue
        left, right = result_kind(current.left), result_kind(current.right)
        for side, kind in (("left", left), ("right", right)):
            if kind == "explanation":
                where = current.left if side == "left" else current.right
                raise _error(
                    f"'explain feature' shows a report and cannot be combined with '{current.op}'",
                    text,
                    where.span,
                )
        if left != right:
            raise _error(
                f"'{current.op}' needs results of one kind on both sides: the left side returns {left}, "
                f"the right side returns {right}",
                text,
                current.right.span,
            )
        stack.extend((current.right, current.left))


def _validate_question(node: Question, text: str) -> None:
    spec = node.spec
    modifiers: Modifiers = node.modifiers  # type: ignore[attr-defined]
    if modifiers.graph is not None and not spec.graph_filter:
        raise _error(f"'{spec.phrase}' takes no 'in graph' filter on its results", text, modifiers.graph.span)
    for threshold in modifiers.thresholds:
        if threshold.field not in spec.numeric:
            raise _unknown_field(
                threshold.field, spec.numeric, spec.phrase, "threshold", text, threshold.span
            )
    for key in modifiers.order_by:
        if key.field not in spec.order_fields:
            raise _unknown_field(key.field, spec.order_fields, spec.phrase, "order", text, key.span)
    patterns = [p for p in (getattr(node, "pattern", None), modifiers.where) if p is not None]
    for pattern in patterns:
        if not sparql_variables(pattern.pattern_text) & set(spec.variables):
            wanted = " or ".join(f"?{v}" for v in spec.variables)
            brace = (
                NO_SPAN
                if pattern.span is NO_SPAN
                else replace(
                    pattern.span,
                    start_column=pattern.span.start_column - 1,
                    start_offset=pattern.span.start_offset - 1,
                )
            )
            raise _error(
                f"the SPARQL pattern must use {wanted}: that variable is bound to each result of '{spec.phrase}'",
                text,
                brace,
            )


def _unknown_field(
    field: str, allowed: Sequence[str], phrase: str, use: str, text: str, span: Span
) -> QuerySyntaxError:
    what = "compared with a number" if use == "threshold" else "used in 'order by'"
    message = f"'{phrase}' has no field {field!r} that can be {what}"
    close = difflib.get_close_matches(field.lower(), allowed, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    message += f" (allowed: {', '.join(allowed)})"
    return _error(message, text, span, expected=allowed)


# ---- Lark errors -> QuerySyntaxError -------------------------------------------------------

#: How a token class reads in "expected one of"; keywords and punctuation read as typed.
TOKEN_DESCRIPTIONS = {
    "NAME": "a name",
    "STRING": "a quoted string",
    "CURIE": "a prefixed name (ex:Thing)",
    "IRI": "an IRI (<https://...>)",
    "INT": "a feature number",
    "SIGNED_NUMBER": "a number",
    "SPARQL_QUERY": "a SPARQL query (SELECT, ASK, CONSTRUCT, DESCRIBE)",
    "$END": "end of input",
}


def describe_expected(terminals: Iterable[str]) -> list[str]:
    """The terminals' names as a user would type or recognise them (``limit``, ``a name``)."""
    by_name = {t.name: t for t in get_parser().terminals}
    shown = set()
    for name in terminals:
        if not (name in by_name or name == "$END"):
            continue  # a rule name from the parse table's goto entries
        if name in TOKEN_DESCRIPTIONS:
            shown.add(TOKEN_DESCRIPTIONS[name])
        elif name in by_name and isinstance(by_name[name].pattern, PatternStr):
            shown.add(by_name[name].pattern.value)
        elif name not in ("WS", "COMMENT"):
            shown.add(name.lower())
    return sorted(shown)


def _expected_at(e: UnexpectedInput, text: str, start: str, fallback: Iterable[str]) -> set[str]:
    """Every token the parser could take where it stopped.

    The state an LALR parser fails in may come after reductions the bad token triggered
    (after ``symbols similar to x``, a ``)`` reduces the question before failing), so the
    parse is replayed up to the failing offset and asked what it ``accepts()`` there.
    """
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        offset = len(text) + 1
    elif isinstance(e, UnexpectedToken):
        offset = e.token.start_pos
    else:
        offset = e.pos_in_stream
    try:
        replay = get_parser().parse_interactive(text, start=start)
        try:
            for token in replay.iter_parse():
                if token.start_pos is not None and token.start_pos >= offset:
                    break
        except (UnexpectedInput, QuerySyntaxError):
            pass
        return set(replay.accepts())
    except Exception:  # the replay is only a refinement; fall back on the parser's own list
        state = getattr(e, "state", None)
        try:
            return set(state.parse_conf.parse_table.states[state.position])  # type: ignore[union-attr]
        except (AttributeError, KeyError, TypeError):
            return set(fallback)


def _snippet(value: str) -> str:
    value = value if len(value) <= 40 else value[:37] + "..."
    return f"'{value}'" if "'" not in value else f'"{value}"'


def _from_lark(e: UnexpectedInput, text: str, start: str) -> QuerySyntaxError:
    if isinstance(e, UnexpectedToken):
        expected = _expected_at(e, text, start, e.expected)
        shown = describe_expected(expected)
        token = e.token
        if token.type == "$END":
            if not text.strip() or token.end_line is None:
                return QuerySyntaxError("empty query", text=text, line=1, column=1, expected=shown)
            return QuerySyntaxError(
                "unexpected end of input",
                text=text,
                line=token.end_line,
                column=token.end_column,
                expected=shown,
            )
        message = f"unexpected {_snippet(str(token))}"
        if expected == {"$END"}:
            message += " after ';': parse() reads one statement (parse_script() reads several)"
        elif token == "<" and "IRI" in expected:
            message = "malformed IRI: an IRI is written <...> with no spaces, quotes or braces inside"
        else:
            message += _did_you_mean(str(token), shown)
        return QuerySyntaxError(message, text=text, line=token.line, column=token.column, expected=shown)
    if isinstance(e, UnexpectedCharacters):
        expected = _expected_at(e, text, start, e.allowed or ())
        char = text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else ""
        if char in "\"'" and char:
            message = f"unterminated string: no closing {char} on this line"
        elif char == "}":
            message = "unexpected '}': no '{' opened it"
        else:
            message = f"unexpected character {_snippet(char)}"
        return QuerySyntaxError(
            message, text=text, line=e.line, column=e.column, expected=describe_expected(expected)
        )
    if isinstance(e, UnexpectedEOF):  # pragma: no cover - LALR reports the end as a $END token
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        return QuerySyntaxError(
            "unexpected end of input",
            text=text,
            line=line,
            column=column,
            expected=describe_expected(e.expected),
        )
    return QuerySyntaxError(
        str(e), text=text, line=getattr(e, "line", None), column=getattr(e, "column", None)
    )


def _did_you_mean(word: str, shown: Sequence[str]) -> str:
    keywords = [s for s in shown if s.isalpha()]
    close = difflib.get_close_matches(word.lower(), keywords, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close and close[0] != word.lower() else ""
