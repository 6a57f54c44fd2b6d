"""Whatever text comes in, the parser answers with a tree or a QuerySyntaxError that points into the text."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgalign.errors import QuerySyntaxError
from kgalign.query.parser import parse, parse_script
from kgalign.query.printer import to_dsl

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
VALID = [p.read_text(encoding="utf-8").split("\n----\n")[0] for p in sorted(FIXTURES.glob("*.txt"))] + [
    "symbols in graph law similar to 'duty of care' in graph tort with similarity > 0.5 limit 5",
    "explain features 12, 40 max strength 3",
    "bridges between tort and <https://example.org/x#> min confidence 0.7 # comment",
    'PREFIX ex: <http://ex.org/#>\nSELECT ?s WHERE { ?s a ex:C ; ex:p "x;}" } LIMIT 5',
]

# Pieces a person (or an attacker) would type, so that random text often gets deep into the grammar.
# fmt: off
PIECES = [
    "symbols ", "features ", "similar to ", "sharing features with ", " of ", "activating ", "feature ",
    "explain ", "align ", " with ", "bridges between ", " and ", " or ", " except ", "unstable ", "no ",
    "neural ", "symbolic ", "counterpart ", " in graph ", " limit ", " min ", " max ", " order by ", " desc",
    " where ", "{", "}", "(", ")", "<", ">", ">=", "<=", "!=", "=", ",", ";", "#", "\n", "\r", "\t", '"',
    "'", "\\", "'''", '"""', ":", "?symbol", "$", "1234", "-0.5", "1e999", "0", "x", "ex:Y", "<urn:z>",
    "select ", "ASK ", "PREFIX ", "é", "\u2028", "\x00", "😀",
]
# fmt: on

dsl_like = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=25).map("".join)
any_text = st.text(st.characters(codec=None), max_size=80)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid query with a few characters or pieces inserted, deleted or moved."""
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "copy"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(PIECES) | st.text(max_size=2)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 6)) :]
        else:
            source = draw(st.integers(0, len(text)))
            text = text[:at] + text[source : source + draw(st.integers(1, 12))] + text[at:]
    return text


def check(text: str) -> None:
    """Only a tree (that prints back to itself) or a QuerySyntaxError pointing into ``text``."""
    try:
        node = parse(text)
    except QuerySyntaxError as e:
        assert str(e)  # renders
        e.to_dict()
        if e.line is not None:
            lines = text.split("\n")
            assert 1 <= e.line <= len(lines), (e.line, len(lines))
            assert e.column is not None and 1 <= e.column <= len(lines[e.line - 1]) + 1
        for shown in e.expected:
            assert "__ANON" not in shown
    else:
        printed = to_dsl(node)
        assert parse(printed) == node, printed
    try:
        parse_script(text)
    except QuerySyntaxError:
        pass


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(any_text)
def test_random_text(text: str) -> None:
    check(text)


@SETTINGS
@given(dsl_like)
def test_random_dsl_like_text(text: str) -> None:
    check(text)


@SETTINGS
@given(mutated())
def test_mutations_of_valid_queries(text: str) -> None:
    check(text)


def test_valid_seeds_parse() -> None:
    for text in VALID:
        parse(text)
