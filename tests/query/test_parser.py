"""The DSL parser: every phrasing of the brief, names, modifiers, SPARQL parts, spans and errors."""

from __future__ import annotations

import pytest

from kgalign.errors import QuerySyntaxError
from kgalign.query.ast import (
    NO_SPAN,
    QUESTIONS,
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
    Question,
    SetOp,
    SharingFeatures,
    SimilarTo,
    SparqlFilter,
    SparqlQuery,
    SparqlSource,
    SymbolRef,
    SymbolsActivating,
    Threshold,
    UnstableSymbols,
)
from kgalign.query.parser import MAX_NESTING, parse, parse_script, sparql_variables, validate

# ---- the questions, verbatim -----------------------------------------------------------------

BRIEF = [
    ("symbols sharing features with duty_of_care", SharingFeatures(SymbolRef("duty_of_care"))),
    ("symbols similar to duty_of_care", SimilarTo(SymbolRef("duty_of_care"))),
    ("features of duty_of_care", FeaturesOf(SymbolRef("duty_of_care"))),
    ("symbols activating feature 1234", SymbolsActivating((FeatureRef(1234),))),
    ("explain feature 1234", ExplainFeature((FeatureRef(1234),))),
    ("features with no symbolic counterpart", BlindSpots()),
    ("symbols with no neural counterpart", PruningCandidates()),
    ("unstable symbols", UnstableSymbols()),
    ("align tort with negligence", Align(GraphRef("tort"), GraphRef("negligence"))),
    ("bridges between tort and negligence", Bridges(GraphRef("tort"), GraphRef("negligence"))),
    ("symbols where { ?symbol a owl:Class }", SparqlSource(SparqlFilter(" ?symbol a owl:Class "))),
    (
        "symbols sharing features with duty_of_care where { ?symbol rdfs:subClassOf* ex:Obligation }",
        SharingFeatures(
            SymbolRef("duty_of_care"),
            Modifiers(where=SparqlFilter(" ?symbol rdfs:subClassOf* ex:Obligation ")),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), BRIEF, ids=[t for t, _ in BRIEF])
def test_questions_of_the_brief_parse_verbatim(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "modifiers"),
    [
        ("unstable symbols in graph tort", Modifiers(graph=GraphRef("tort"))),
        ("unstable symbols limit 10", Modifiers(limit=10)),
        ("unstable symbols with stability < 0.4", Modifiers(thresholds=(Threshold("stability", "<", 0.4),))),
        ("unstable symbols min stability 0.1", Modifiers(thresholds=(Threshold("stability", ">=", 0.1),))),
        ("unstable symbols max stability 0.4", Modifiers(thresholds=(Threshold("stability", "<=", 0.4),))),
        ("unstable symbols order by stability", Modifiers(order_by=(OrderBy("stability"),))),
        ("unstable symbols order by stability asc", Modifiers(order_by=(OrderBy("stability"),))),
        ("unstable symbols order by stability desc", Modifiers(order_by=(OrderBy("stability", True),))),
        (
            "unstable symbols order by stability desc, symbol",
            Modifiers(order_by=(OrderBy("stability", True), OrderBy("symbol"))),
        ),
    ],
)
def test_each_modifier(text: str, modifiers: Modifiers) -> None:
    assert parse(text) == UnstableSymbols(modifiers)


@pytest.mark.parametrize(
    ("text", "threshold"),
    [
        ("symbols sharing features with x with overlap > 0.3", Threshold("overlap", ">", 0.3)),
        ("symbols similar to x with similarity >= 0.5", Threshold("similarity", ">=", 0.5)),
        ("symbols activating feature 7 min strength 0.2", Threshold("strength", ">=", 0.2)),
        ("unstable symbols with stability < 0.4", Threshold("stability", "<", 0.4)),
        ("align a with b min confidence 0.7", Threshold("confidence", ">=", 0.7)),
        ("bridges between a and b min confidence 0.7", Threshold("confidence", ">=", 0.7)),
        ("features of x with strength != 0", Threshold("strength", "!=", 0)),
        ("symbols sharing features with x with shared = 3", Threshold("shared", "=", 3)),
        ("symbols sharing features with x with overlap <= 1e-3", Threshold("overlap", "<=", 0.001)),
        ("symbols sharing features with x with overlap > .25", Threshold("overlap", ">", 0.25)),
        ("features with no symbolic counterpart with density < -0.5", Threshold("density", "<", -0.5)),
    ],
)
def test_thresholds_of_the_brief(text: str, threshold: Threshold) -> None:
    (got,) = parse(text).modifiers.thresholds  # type: ignore[union-attr]
    assert got == threshold


def test_modifiers_combine_in_any_order() -> None:
    a = parse("symbols similar to x with similarity > 0.5 limit 5 order by similarity desc")
    b = parse("symbols similar to x order by similarity desc limit 5 min similarity 0.5")
    c = parse("symbols similar to x limit 5 with similarity >= 0.5 order by similarity desc")
    assert a.modifiers.limit == b.modifiers.limit == c.modifiers.limit == 5  # type: ignore[union-attr]
    assert b == c
    assert a.modifiers.thresholds[0].op == ">"  # type: ignore[union-attr]


def test_several_thresholds_by_comma_and_by_repetition() -> None:
    q = parse("symbols sharing features with x with overlap > 0.3, stability >= 0.5 min shared 2")
    assert q.modifiers.thresholds == (  # type: ignore[union-attr]
        Threshold("overlap", ">", 0.3),
        Threshold("stability", ">=", 0.5),
        Threshold("shared", ">=", 2),
    )


def test_numbers_keep_integers_integral() -> None:
    (t,) = parse("symbols sharing features with x with shared >= 2").modifiers.thresholds  # type: ignore[union-attr]
    assert isinstance(t.value, int)
    (t,) = parse("symbols sharing features with x with overlap >= 2.0").modifiers.thresholds  # type: ignore[union-attr]
    assert isinstance(t.value, float)


def test_feature_lists() -> None:
    q = parse("symbols activating features 12, 40")
    assert q == SymbolsActivating((FeatureRef(12), FeatureRef(40)))
    assert parse("explain features 12,40") == ExplainFeature((FeatureRef(12), FeatureRef(40)))
    assert parse("symbols activating feature 0012") == SymbolsActivating((FeatureRef(12),))


# ---- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "name", "kind"),
    [
        ("duty_of_care", "duty_of_care", "name"),
        ("DutyOfCare", "DutyOfCare", "name"),
        ("Regular_author", "Regular_author", "name"),
        ("hasSubjectArea", "hasSubjectArea", "name"),
        ("has-part", "has-part", "name"),
        ("Sorgfaltspflicht_für_Dritte", "Sorgfaltspflicht_für_Dritte", "name"),
        ('"duty of care"', "duty of care", "string"),
        ("'standard of care'", "standard of care", "string"),
        (r"'it\'s'", "it's", "string"),
        (r'"say \"hi\""', 'say "hi"', "string"),
        (r'"a\\b"', "a\\b", "string"),
        (r'"tab\there\nnewline \u00e9 \U0001F600"', "tab\there\nnewline é 😀", "string"),
        ('"#not a comment"', "#not a comment", "string"),
        ("tort:DutyOfCare", "tort:DutyOfCare", "curie"),
        ("ex:Obligation", "ex:Obligation", "curie"),
        (":local", ":local", "curie"),
        ("obo:GO_0008150", "obo:GO_0008150", "curie"),
        ("<https://example.org/tort#DutyOfCare>", "https://example.org/tort#DutyOfCare", "iri"),
        ("<urn:x:1>", "urn:x:1", "iri"),
    ],
)
def test_symbol_reference_kinds(written: str, name: str, kind: str) -> None:
    assert parse(f"symbols similar to {written}") == SimilarTo(SymbolRef(name, kind))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("written", "graph"),
    [
        ("tort", GraphRef("tort")),
        ('"tort law"', GraphRef("tort law", "string")),
        ("<urn:kgalign:graph:tort>", GraphRef("urn:kgalign:graph:tort", "iri")),
        ("kg:tort", GraphRef("kg:tort", "curie")),
    ],
)
def test_graph_reference_kinds(written: str, graph: GraphRef) -> None:
    assert parse(f"align {written} with {written}") == Align(graph, graph)


@pytest.mark.parametrize(
    "name",
    [
        "x> } DROP ALL ; #",
        "?symbol } ; DELETE WHERE { ?s ?p ?o } #",
        "'; DROP GRAPH <urn:kgalign:graph:tort> ; SELECT * {",
        "\\",
    ],
)
def test_injection_looking_names_are_plain_strings(name: str) -> None:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    assert parse(f'symbols similar to "{escaped}"') == SimilarTo(SymbolRef(name, "string"))


def test_the_injection_example_of_the_brief() -> None:
    q = parse('symbols similar to "x> } DROP ALL ; #"')
    assert q == SimilarTo(SymbolRef("x> } DROP ALL ; #", "string"))
    assert q.modifiers.where is None  # type: ignore[union-attr]


def test_keywords_are_case_insensitive() -> None:
    assert parse("SYMBOLS Similar TO x LIMIT 3 ORDER BY similarity DESC") == parse(
        "symbols similar to x limit 3 order by similarity desc"
    )
    assert parse("Unstable Symbols") == UnstableSymbols()


def test_names_keep_their_case() -> None:
    assert parse("symbols similar to DUTY").symbol.name == "DUTY"  # type: ignore[union-attr]


def test_keywords_are_only_keywords_where_the_grammar_takes_them() -> None:
    assert parse("symbols similar to limit limit 3") == SimilarTo(SymbolRef("limit"), Modifiers(limit=3))
    assert parse("align with with symbols") == Align(GraphRef("with"), GraphRef("symbols"))
    assert parse('symbols similar to "limit"') == SimilarTo(SymbolRef("limit", "string"))


# ---- in graph: qualification and filter ------------------------------------------------------


def test_in_graph_right_after_a_symbol_qualifies_it() -> None:
    q = parse("symbols similar to duty_of_care in graph tort")
    assert q == SimilarTo(SymbolRef("duty_of_care", graph=GraphRef("tort")))
    assert q.modifiers.graph is None  # type: ignore[union-attr]


def test_in_graph_after_another_modifier_filters_results() -> None:
    q = parse("symbols similar to duty_of_care limit 5 in graph tort")
    assert q == SimilarTo(SymbolRef("duty_of_care"), Modifiers(graph=GraphRef("tort"), limit=5))


def test_second_in_graph_filters_results() -> None:
    q = parse("symbols sharing features with duty_of_care in graph tort in graph liability")
    assert q == SharingFeatures(
        SymbolRef("duty_of_care", graph=GraphRef("tort")), Modifiers(graph=GraphRef("liability"))
    )


def test_results_filter_after_symbols() -> None:
    q = parse("symbols in graph liability similar to duty_of_care in graph tort")
    assert q == SimilarTo(
        SymbolRef("duty_of_care", graph=GraphRef("tort")), Modifiers(graph=GraphRef("liability"))
    )


def test_features_of_a_qualified_symbol() -> None:
    assert parse("features of DutyOfCare in graph tort") == FeaturesOf(
        SymbolRef("DutyOfCare", graph=GraphRef("tort"))
    )


def test_questions_without_a_symbol_filter_by_graph() -> None:
    assert parse("symbols activating feature 3 in graph tort").modifiers.graph == GraphRef("tort")  # type: ignore[union-attr]
    assert parse("symbols in graph tort activating feature 3") == parse(
        "symbols activating feature 3 in graph tort"
    )


# ---- SPARQL parts ----------------------------------------------------------------------------

PATTERNS = [
    " ?symbol a owl:Class ",
    "?symbol a owl:Class . { ?symbol ?p ?o } UNION { ?o ?p ?symbol }",
    ' ?symbol rdfs:label "a } brace" ',
    " ?symbol rdfs:label 'a { brace' ",
    ' ?symbol rdfs:label """multi\nline } with braces {\n""" ',
    " ?symbol rdfs:label '''x } y''' ",
    " ?symbol ex:p <http://example.org/a#b> ",
    " ?symbol a ?c # comment with } and {\n",
    ' FILTER(?symbol != <urn:x>) ?symbol rdfs:label ?l FILTER(REGEX(?l, "\\\\}")) ',
    " ?symbol ex:p\\'s ?o ",
    "",
    "\n  ?symbol a owl:Class .\n  FILTER NOT EXISTS { ?symbol owl:deprecated true }\n",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_sparql_pattern_is_captured_raw_with_its_span(pattern: str) -> None:
    if "?symbol" not in pattern:
        pattern += " ?symbol a owl:Class "
    text = f"symbols similar to x where {{{pattern}}} limit 3"
    q = parse(text)
    where = q.modifiers.where  # type: ignore[union-attr]
    assert where == SparqlFilter(pattern)
    assert where.span.text(text) == pattern
    assert text[where.span.start_offset - 1] == "{" and text[where.span.end_offset] == "}"
    assert q.modifiers.limit == 3  # type: ignore[union-attr]


def test_sparql_source_with_modifiers() -> None:
    q = parse("symbols where { ?symbol a owl:Class } in graph tort limit 10")
    assert q == SparqlSource(
        SparqlFilter(" ?symbol a owl:Class "), Modifiers(graph=GraphRef("tort"), limit=10)
    )


@pytest.mark.parametrize(
    "text",
    [
        "SELECT ?s WHERE { ?s ?p ?o }",
        "select * { ?s ?p ?o } limit 5",
        "ASK { ?s a <http://www.w3.org/2002/07/owl#Class> }",
        "Construct { ?s ?p ?o } WHERE { ?s ?p ?o ; ?q ?r }",
        "DESCRIBE <urn:x>",
        "PREFIX ex: <http://example.org/#>\nSELECT ?s WHERE { ?s a ex:C }",
        "base <http://example.org/>\nSELECT * { ?s ?p ?o }",
        'SELECT (GROUP_CONCAT(?l; separator=";") AS ?ls) WHERE { ?s rdfs:label ?l }',
    ],
)
def test_whole_sparql_queries_are_kept_as_text(text: str) -> None:
    q = parse(text)
    assert q == SparqlQuery(text)
    assert q.span.text(text) == text  # type: ignore[union-attr]
    assert parse(f"  # a comment first\n{text}\n\n") == SparqlQuery(text)
    assert parse(f"{text} ;") == SparqlQuery(text)


def test_explain_forms() -> None:
    assert parse("explain symbols similar to x") == Explain(SimilarTo(SymbolRef("x")))
    assert parse("explain select * { ?s ?p ?o }") == Explain(SparqlQuery("select * { ?s ?p ?o }"))
    assert parse("explain feature 7") == ExplainFeature((FeatureRef(7),))
    assert parse("explain explain feature 7") == Explain(ExplainFeature((FeatureRef(7),)))
    assert parse("explain features of x") == Explain(FeaturesOf(SymbolRef("x")))
    assert parse("explain unstable symbols or symbols similar to x") == Explain(
        SetOp("or", UnstableSymbols(), SimilarTo(SymbolRef("x")))
    )


def test_sparql_variables_ignore_strings_iris_and_comments() -> None:
    assert sparql_variables('?symbol a ?t . FILTER(?t != "?x") <urn:?y> # ?z\n $w') == {"symbol", "t", "w"}


# ---- composition -----------------------------------------------------------------------------

A, B, C = (SimilarTo(SymbolRef(n)) for n in "abc")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("symbols similar to a and symbols similar to b", SetOp("and", A, B)),
        (
            "symbols similar to a or symbols similar to b and symbols similar to c",
            SetOp("or", A, SetOp("and", B, C)),
        ),
        (
            "symbols similar to a and symbols similar to b or symbols similar to c",
            SetOp("or", SetOp("and", A, B), C),
        ),
        (
            "symbols similar to a except symbols similar to b or symbols similar to c",
            SetOp("or", SetOp("except", A, B), C),
        ),
        (
            "symbols similar to a except (symbols similar to b or symbols similar to c)",
            SetOp("except", A, SetOp("or", B, C)),
        ),
        (
            "(symbols similar to a or symbols similar to b) and symbols similar to c",
            SetOp("and", SetOp("or", A, B), C),
        ),
        ("((symbols similar to a))", A),
    ],
)
def test_set_operations_precedence_and_associativity(text: str, tree: object) -> None:
    assert parse(text) == tree


def test_bridges_and_then_set_operation() -> None:
    q = parse("bridges between a and b and align a with b")
    assert q == SetOp("and", Bridges(GraphRef("a"), GraphRef("b")), Align(GraphRef("a"), GraphRef("b")))


def test_set_operation_of_symbol_questions_with_filters() -> None:
    q = parse(
        "symbols sharing features with duty_of_care where { ?symbol a owl:Class }"
        " except symbols with no neural counterpart"
    )
    assert isinstance(q, SetOp) and q.op == "except"


def test_deep_nesting_is_refused_cleanly() -> None:
    deep = " and ".join(["unstable symbols"] * (MAX_NESTING + 5))
    with pytest.raises(QuerySyntaxError, match="nests"):
        parse(deep)
    assert isinstance(parse(" and ".join(["unstable symbols"] * 50)), SetOp)
    parens = "(" * 300 + "unstable symbols" + ")" * 300
    assert parse(parens) == UnstableSymbols()


# ---- scripts ---------------------------------------------------------------------------------


def test_parse_script() -> None:
    script = """
    symbols similar to duty_of_care;   # first
    SELECT ?s { ?s a ?c ; ?p ?o } ;
    ;
    unstable symbols limit 3
    """
    assert parse_script(script) == (
        SimilarTo(SymbolRef("duty_of_care")),
        SparqlQuery("SELECT ?s { ?s a ?c ; ?p ?o }"),
        UnstableSymbols(Modifiers(limit=3)),
    )
    assert parse_script("") == ()
    assert parse_script(" ; # nothing\n ;") == ()


def test_parse_takes_one_statement() -> None:
    assert parse("unstable symbols;") == UnstableSymbols()
    with pytest.raises(QuerySyntaxError, match="parse_script") as e:
        parse("unstable symbols; unstable symbols")
    assert (e.value.line, e.value.column) == (1, 19)


# ---- spans -----------------------------------------------------------------------------------


def test_spans_point_into_the_text() -> None:
    text = "symbols similar to duty_of_care in graph tort\n  with similarity > 0.5\n  limit 5"
    q = parse(text)
    assert isinstance(q, SimilarTo)
    assert q.span.text(text) == text
    assert (q.span.start_line, q.span.start_column, q.span.end_line, q.span.end_column) == (1, 1, 3, 10)
    assert q.symbol.span.text(text) == "duty_of_care in graph tort"
    assert q.symbol.graph is not None and q.symbol.graph.span.text(text) == "tort"
    (t,) = q.modifiers.thresholds
    assert t.span.text(text) == "similarity > 0.5"
    assert (t.span.start_line, t.span.start_column) == (2, 8)
    assert q.modifiers.span.text(text) == "with similarity > 0.5\n  limit 5"


def test_spans_of_set_operations_and_features() -> None:
    text = "symbols activating features 12, 40 or unstable symbols"
    q = parse(text)
    assert isinstance(q, SetOp) and isinstance(q.left, SymbolsActivating)
    assert q.span.text(text) == text
    assert [f.span.text(text) for f in q.left.features] == ["12", "40"]
    assert q.right.span.text(text) == "unstable symbols"


def test_spans_do_not_take_part_in_equality() -> None:
    assert parse("unstable symbols") == parse("   unstable\n\n symbols   ")
    assert parse("unstable symbols").span != NO_SPAN  # type: ignore[union-attr]
    assert hash(parse("symbols similar to x")) == hash(SimilarTo(SymbolRef("x")))


# ---- errors ----------------------------------------------------------------------------------

ERRORS = [
    # text, line, column, part of the message, some of the expected tokens
    (
        "symbols similar to",
        1,
        19,
        "unexpected end of input",
        {"a name", "a quoted string", "an IRI (<https://...>)"},
    ),
    ("symbols simlar to x", 1, 9, "did you mean 'similar'", {"similar", "sharing", "activating"}),
    ("symbols similar x", 1, 17, "unexpected 'x'", {"to"}),
    ("", 1, 1, "empty query", {"symbols", "features", "explain", "align", "bridges", "unstable", "("}),
    ("  # only a comment\n", 1, 1, "empty query", {"symbols"}),
    ("symbols similar to x )", 1, 22, "unexpected ')'", {"limit", "and", "end of input"}),
    ("(symbols similar to x", 1, 22, "unexpected end of input", {")"}),
    ("symbols similar to x }", 1, 22, "no '{' opened it", {"limit"}),
    ("symbols similar to <a b>", 1, 20, "malformed IRI", {"an IRI (<https://...>)"}),
    ('symbols similar to "abc', 1, 20, "unterminated string", {"a quoted string"}),
    ("symbols similar to 'a\\qb'", 1, 22, "unknown escape '\\q'", set()),
    ("explain feature -1", 1, 17, "unexpected '-1'", {"a feature number"}),
    ("symbols activating feature x", 1, 28, "unexpected 'x'", {"a feature number"}),
    ("symbols similar to x limit 0", 1, 28, "positive whole number", set()),
    ("symbols similar to x limit -3", 1, 28, "positive whole number", set()),
    ("symbols similar to x limit 2.5", 1, 28, "positive whole number", set()),
    ("symbols similar to x with similarity > 1e999", 1, 40, "out of range", set()),
    ("symbols similar to x limit 3 limit 4", 1, 30, "'limit' given twice", set()),
    ("symbols similar to x order by similarity order by symbol", 1, 42, "'order by' given twice", set()),
    ("symbols similar to x with overlp > 0.3", 1, 27, "has no field 'overlp'", {"similarity", "stability"}),
    ("symbols sharing features with x with overlp > 0.3", 1, 38, "did you mean 'overlap'", {"overlap"}),
    ("symbols similar to x order by similarty", 1, 31, "did you mean 'similarity'", {"similarity", "symbol"}),
    ("unstable symbols with symbol > 3", 1, 23, "no field 'symbol' that can be compared", {"stability"}),
    ("align a with b in graph c", 1, 25, "takes no 'in graph' filter", set()),
    ("features of x in graph g in graph h", 1, 35, "takes no 'in graph' filter", set()),
    ("symbols in graph a similar to x limit 2 in graph b", 1, 41, "one 'in graph' filter", set()),
    ("symbols where { ?s ?p ?o }", 1, 15, "must use ?symbol", set()),
    ("features of x where { ?s ?p ?o }", 1, 21, "must use ?feature", set()),
    ("align a with b where { ?symbol ?p ?o }", 1, 22, "must use ?source or ?target", set()),
    (
        "symbols similar to x and features of y",
        1,
        26,
        "left side returns symbols, the right side returns features",
        set(),
    ),
    ("unstable symbols or explain feature 3", 1, 21, "cannot be combined", set()),
    ("symbols where { ?symbol a owl:Class", 1, 15, "has no matching '}'", {"}"}),
    ('symbols where { ?symbol rdfs:label "x }', 1, 15, "string opened at line 1, column 36", {"}"}),
    ("selected symbols", 1, 1, "unexpected 'selected'", {"symbols"}),
]


@pytest.mark.parametrize(
    ("text", "line", "column", "message", "expected"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS]
)
def test_errors_point_at_line_and_column(
    text: str, line: int, column: int, message: str, expected: set[str]
) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    error = caught.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in error.message, str(error)
    assert expected <= set(error.expected), error.expected


MULTILINE_ERRORS = [
    (
        "symbols similar to duty_of_care\n  with similarity >\n  limit 5",
        3,
        3,
        "unexpected 'limit'",
        {"a number"},
    ),
    ("unstable symbols\nlimit 0", 2, 7, "positive whole number", set()),
    ("symbols similar to x\n  order by similarty desc", 2, 12, "did you mean 'similarity'", set()),
    ("features of x\n\n   with overlap > 0.3", 3, 9, "has no field 'overlap'", {"strength", "density"}),
    ("symbols where {\n  ?symbol a owl:Class .\n", 1, 15, "has no matching '}'", set()),
    (
        "unstable symbols\n  where {\n  ?symbol a owl:Class . { ?symbol ?p ?o \n}",
        2,
        9,
        "has no matching '}'",
        set(),
    ),
    (
        "symbols where {\n ?symbol rdfs:label '''never\nends }\n}",
        1,
        15,
        "string opened at line 2, column 21",
        set(),
    ),
    ("# header\nsymbols similar to 'x'\n  in graph\n", 3, 11, "unexpected end of input", {"a name"}),
    ("symbols\n  similar to x\n  and\n  features of y", 4, 3, "the right side returns features", set()),
    ("symbols similar to <https://ex.org/#a> # c <\n  limit x", 2, 9, "unexpected 'x'", {"a number"}),
    ("unstable symbols\n\tlimit 3\n\tlimit 4", 3, 2, "'limit' given twice", set()),
]


@pytest.mark.parametrize(("text", "line", "column", "message", "expected"), MULTILINE_ERRORS)
def test_errors_in_multi_line_queries(
    text: str, line: int, column: int, message: str, expected: set[str]
) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    error = caught.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in error.message, str(error)
    assert expected <= set(error.expected), error.expected


def test_error_renders_a_caret_under_the_column() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("symbols similar to x\n  with similarity >> 0.5")
    error = caught.value
    assert (error.line, error.column) == (2, 20)
    assert error.context() == "    with similarity >> 0.5\n                     ^"
    assert str(error).startswith("line 2, column 20: unexpected '>'")


@pytest.mark.parametrize("text", [e[0] for e in ERRORS + MULTILINE_ERRORS])
def test_expected_tokens_read_as_typed(text: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    for shown in caught.value.expected:
        assert "__" not in shown and "ANON" not in shown
        assert not (shown.isupper() and len(shown) > 1), shown  # no terminal names such as LIMIT or NAME
        assert not shown.endswith(("_ref", "_expr", "modifiers")), shown  # no rule names


def test_validate_hand_built_nodes() -> None:
    validate(SimilarTo(SymbolRef("x"), Modifiers(thresholds=(Threshold("similarity", ">", 0.5),))))
    with pytest.raises(QuerySyntaxError, match="did you mean 'similarity'") as caught:
        validate(SimilarTo(SymbolRef("x"), Modifiers(thresholds=(Threshold("similarty", ">", 0.5),))))
    assert caught.value.line is None


def test_the_table_covers_every_question() -> None:
    assert set(QUESTIONS) == set(Question.__subclasses__())
    for cls, spec in QUESTIONS.items():
        assert spec.numeric and spec.variables, cls
        assert not set(spec.numeric) & set(spec.textual), cls


def test_non_text_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse(b"unstable symbols")  # type: ignore[arg-type]
