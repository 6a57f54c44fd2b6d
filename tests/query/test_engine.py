"""The query engine on the demo workspace: every question form, modifiers that see every candidate,
set operations, SPARQL (patterns, whole queries, the kga: functions), errors and injection safety.

Expectations are structural (the engine agrees with the concept space's own methods, with a
brute-force filter of the unfiltered answer, with the neural graph read back through SPARQL) or
worked out by hand from the ontologies; none is a number copied from a run of the model.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kgalign.errors import (
    AmbiguousNameError,
    KgalignError,
    QuerySyntaxError,
    UnknownNameError,
    WorkspaceError,
)
from kgalign.query import explain, make_plan, run
from kgalign.query.result import FeatureHit, PairHit, SymbolHit

TORT = "https://example.org/tort/owl#"
NEG = "https://example.org/negligence/thesaurus/"
LKG = "https://example.org/liability/kg/"
DUTY = ("tort-owl", TORT + "DutyOfCare")
DUTY_Q = "DutyOfCare in graph tort-owl"
EVERYTHING = 100_000  # a limit above the number of symbols: the whole answer


def keys(result) -> list:
    return [r.key for r in result.rows]


# ---- the question forms, verbatim ------------------------------------------------------------


VERBATIM = [
    ("symbols sharing features with duty_of_care", "symbols"),
    ("symbols similar to duty_of_care", "symbols"),
    ("features of duty_of_care", "features"),
    ("symbols activating feature 12", "symbols"),
    ("explain feature 12", "explanation"),
    ("features with no symbolic counterpart", "features"),
    ("symbols with no neural counterpart", "symbols"),
    ("unstable symbols", "symbols"),
    ("align tort-owl with negligence-skos", "pairs"),
    ("bridges between tort-owl and negligence-skos", "pairs"),
]


@pytest.mark.parametrize("text,kind", VERBATIM, ids=[v[0] for v in VERBATIM])
def test_question_forms_verbatim(demo_ws, text, kind) -> None:
    """Each phrasing of the issue runs; ``duty_of_care`` is either one symbol or an ambiguity error
    that lists every candidate with its graph."""
    found = demo_ws.resolve("duty_of_care")
    if "duty_of_care" in text and len({(s.graph, s.iri) for s in found}) > 1:
        with pytest.raises(AmbiguousNameError) as info:
            run(demo_ws, text)
        assert {(s.iri, s.graph) for s in found} == set(info.value.candidates)
        return
    result = run(demo_ws, text)
    assert result.kind == kind
    assert result.rows, text
    row_type = {"symbols": SymbolHit, "explanation": SymbolHit, "features": FeatureHit, "pairs": PairHit}[kind]
    assert all(isinstance(r, row_type) for r in result.rows)
    json.dumps(result.to_dict(), default=str)  # every result serialises
    if "duty_of_care" in text:
        assert found and (found[0].graph, found[0].iri) == DUTY


def test_feature_numbers_are_checked(demo_ws) -> None:
    d_sae = demo_ws.space.d_sae
    for text in (f"symbols activating feature {d_sae}", f"explain feature {d_sae + 466}"):
        with pytest.raises(UnknownNameError) as info:
            run(demo_ws, text)
        assert f"features are numbered 0 to {d_sae - 1}" in str(info.value)
        assert "column" in str(info.value)


# ---- agreement with the concept space --------------------------------------------------------


def test_sharing_features_is_the_support_overlap(demo_ws) -> None:
    space = demo_ws.space
    got = run(demo_ws, f"symbols sharing features with {DUTY_Q} limit {EVERYTHING}").rows
    # a plain-Python oracle: weighted Jaccard of the supports, over every symbol sharing a feature
    mine = {f: w for f, w, _ in space.support_of(DUTY)}
    want = {}
    for i, k in enumerate(space.keys):
        theirs = {f: w for f, w, _ in space.table.support(i)}
        if k == DUTY or not set(mine) & set(theirs):
            continue
        both = set(mine) | set(theirs)
        num = sum(min(mine.get(f, 0.0), theirs.get(f, 0.0)) for f in both)
        den = sum(mine.values()) + sum(theirs.values()) - num
        want[k] = (num / den, len(set(mine) & set(theirs)))
    assert {r.key for r in got} == set(want)
    for r in got:
        assert r.fields["overlap"] == pytest.approx(want[r.key][0], abs=2e-6)
        assert r.fields["shared"] == want[r.key][1]
    overlaps = [r.fields["overlap"] for r in got]
    assert overlaps == sorted(overlaps, reverse=True)


def test_similar_to_is_cosine_order(demo_ws) -> None:
    space = demo_ws.space
    got = run(demo_ws, f"symbols similar to {DUTY_Q} limit 15").rows
    sims = [space.similarity(DUTY, r.key) for r in got]
    assert [r.fields["similarity"] for r in got] == pytest.approx(sims, abs=1e-5)
    others = [k for k in space.keys if k != DUTY]
    best = sorted((space.similarity(DUTY, k) for k in others), reverse=True)[:15]
    assert sims == pytest.approx(best, abs=1e-5)
    assert DUTY not in [r.key for r in got]


def test_features_of_is_the_support(demo_ws) -> None:
    got = run(demo_ws, f"features of {DUTY_Q} limit 100").rows
    assert [(r.feature, r.strength) for r in got] == [
        (f, pytest.approx(w, abs=1e-6)) for f, w, _ in demo_ws.space.support_of(DUTY)
    ]


def test_symbols_activating_is_the_feature_column(demo_ws) -> None:
    space = demo_ws.space
    f = space.support_of(DUTY)[0][0]
    got = run(demo_ws, f"symbols activating feature {f} limit 25").rows
    col0 = space.table.vectors[:, f]
    want = sorted(((space.keys[i], float(col0[i])) for i in range(len(space.keys)) if col0[i] > 0),
                  key=lambda x: -x[1])[:25]
    assert [r.fields["strength"] for r in got] == pytest.approx([w for _, w in want], abs=1e-6)
    assert {r.key for r in got if r.fields["strength"] > want[-1][1]} <= {k for k, _ in want}
    # several features: each symbol once, with the feature it weighs most
    g = space.support_of(DUTY)[1][0]
    both = run(demo_ws, f"symbols activating features {f}, {g} limit {EVERYTHING}").rows
    col = space.table.vectors[:, [f, g]]
    for r in both:
        weights = col[space.row_of(r.key)]
        assert r.fields["strength"] == pytest.approx(float(weights.max()), abs=1e-6)
        assert r.fields["feature"] == [f, g][int(weights.argmax())]
    assert len({r.key for r in both}) == len(both) == int((col.max(1) > 0).sum())


def test_unstable_symbols_is_stability_order(demo_ws) -> None:
    space = demo_ws.space
    got = run(demo_ws, "unstable symbols limit 30").rows
    assert [r.fields["stability"] for r in got] == pytest.approx(
        [round(float(s), 4) for s in sorted(space.table.stability)[:30]], abs=1e-9)


def test_pruning_candidates_are_the_space_s(demo_ws) -> None:
    got = run(demo_ws, "symbols with no neural counterpart").rows
    space = demo_ws.space
    # oracle for two of the reasons: no clear counterpart iff reliability < 0.41 (the SAE ships a background) or
    # else stability < 0.35; weak iff below the 5th percentile
    weak_below = np.percentile(space.table.strength, 5)
    rel = space.table.reliability_or_nan()
    if np.isnan(rel).all():
        phrase, low = "unstable support", space.table.stability < 0.35
    else:
        phrase, low = "meaningless label", np.nan_to_num(rel, nan=np.inf) < 0.41
    for r in got:
        i = space.row_of(r.key)
        assert (phrase in r.fields["reasons"]) == bool(low[i])
        assert ("weak activation" in r.fields["reasons"]) == (space.table.strength[i] < weak_below)
    flagged = {space.keys[i] for i in range(len(space.keys)) if low[i] or space.table.strength[i] < weak_below}
    assert flagged <= {r.key for r in got}
    # the report lists the same candidates with the same reasons
    from kgalign.report.build import pruning_candidates

    report = pruning_candidates(demo_ws, space, [])
    assert [(p.graph, p.iri, "; ".join(p.reasons)) for p in report] == [
        (r.graph, r.iri, r.fields["reasons"]) for r in got]
    kinds = ("weak activation", phrase, "uninformative support", "isolated")
    order = [(-sum(k in r.fields["reasons"] for k in kinds), r.fields["stability"]) for r in got]
    assert order == sorted(order)


def test_blind_spots_are_the_space_s(demo_ws) -> None:
    got = run(demo_ws, "features with no symbolic counterpart limit 50").rows
    space = demo_ws.space
    claimed = set()  # oracle: a symbol loads on the features weighing at least 0.1 of its strongest
    for i in range(len(space.keys)):
        sup = space.table.support(i)
        claimed |= {f for f, w, _ in sup if sup and w >= 0.1 * sup[0][1]}
    d, a = space.stats.density, space.stats.mean_activation
    want = sorted((f for f in range(space.d_sae) if d[f] >= 1e-3 and f not in claimed),
                  key=lambda f: (-(d[f] * a[f]), f))[:50]
    assert [r.feature for r in got] == want
    assert claimed == space.claimed_features()
    assert not {r.feature for r in got} & claimed


def test_bridges_are_mutual_nearest_neighbours(demo_ws) -> None:
    space = demo_ws.space
    rows = run(demo_ws, "bridges between tort-owl and negligence-skos limit 100").rows
    assert rows
    src = [k for k in space.keys if k[0] == "tort-owl"]
    tgt = [k for k in space.keys if k[0] == "negligence-skos"]
    for p in rows:
        a, b = (p.source_graph, p.source), (p.target_graph, p.target)
        assert (a[0], b[0]) == ("tort-owl", "negligence-skos")
        sim = space.similarity(a, b)
        assert p.confidence == pytest.approx(sim, abs=1e-5)
        same_kind = {demo_ws.symbol(k[1], k[0]).kind for k in (a, b)}
        # nothing of the same category is closer to either side (same-kind check suffices here)
        if len(same_kind) == 1:
            kind = same_kind.pop()
            assert all(space.similarity(a, t) <= sim + 1e-6 for t in tgt if demo_ws.symbol(t[1], t[0]).kind == kind)
            assert all(space.similarity(s, b) <= sim + 1e-6 for s in src if demo_ws.symbol(s[1], s[0]).kind == kind)


# ---- modifiers see every candidate ----------------------------------------------------------

CLASS_PATTERN = "?symbol a owl:Class"


@pytest.fixture(scope="module")
def owl_classes(demo_ws) -> set[str]:
    res = demo_ws.sparql("SELECT DISTINCT ?s WHERE { ?s a owl:Class FILTER(isIRI(?s)) }")
    return {row["s"].value for row in res}


WINDOWED = [
    f"symbols sharing features with {DUTY_Q}",
    f"symbols similar to {DUTY_Q}",
    "symbols activating feature {F}",
    "unstable symbols",
]


@pytest.mark.parametrize("base", WINDOWED)
def test_where_sees_every_candidate(demo_ws, owl_classes, base) -> None:
    """``Q where {P} limit n`` is the first n rows of Q that P accepts, however deep they sit."""
    base = base.format(F=demo_ws.space.support_of(DUTY)[0][0])
    everything = run(demo_ws, f"{base} limit {EVERYTHING}").rows
    want = [r.key for r in everything if r.iri in owl_classes][:3]
    assert want, "the pattern must accept some rows for this test to mean anything"
    assert keys(run(demo_ws, f"{base} where {{ {CLASS_PATTERN} }} limit 3")) == want


@pytest.mark.parametrize("base", WINDOWED)
def test_thresholds_see_every_candidate(demo_ws, base) -> None:
    base = base.format(F=demo_ws.space.support_of(DUTY)[0][0])
    everything = run(demo_ws, f"{base} limit {EVERYTHING}").rows
    stabilities = sorted(r.fields["stability"] for r in everything)
    cut = stabilities[len(stabilities) * 3 // 4]  # only a quarter of the rows pass
    want = [r.key for r in everything if r.fields["stability"] >= cut][:4]
    got = run(demo_ws, f"{base} min stability {cut} limit 4").rows
    assert [r.key for r in got] == want
    assert all(r.fields["stability"] >= cut for r in got)


@pytest.mark.parametrize("base", WINDOWED)
def test_order_by_sees_every_candidate(demo_ws, base) -> None:
    base = base.format(F=demo_ws.space.support_of(DUTY)[0][0])
    everything = run(demo_ws, f"{base} limit {EVERYTHING}").rows
    want = sorted(everything, key=lambda r: -r.fields["stability"])[:5]  # stable: ties keep natural order
    got = run(demo_ws, f"{base} order by stability desc limit 5").rows
    assert [r.key for r in got] == [r.key for r in want]


def test_order_by_label_and_several_keys(demo_ws) -> None:
    rows = run(demo_ws, "symbols in graph negligence-skos where { ?symbol skos:broader ?b } order by symbol").rows
    labels = [r.label.lower() for r in rows]
    assert labels == sorted(labels)
    rows = run(demo_ws, f"symbols similar to {DUTY_Q} order by stability desc, symbol asc limit 40").rows
    pairs = [(-r.fields["stability"], r.label.lower()) for r in rows]
    assert pairs == sorted(pairs)


def test_threshold_on_the_natural_score(demo_ws) -> None:
    rows = run(demo_ws, f"symbols sharing features with {DUTY_Q} with overlap > 0.1 limit {EVERYTHING}").rows
    everything = run(demo_ws, f"symbols sharing features with {DUTY_Q} limit {EVERYTHING}").rows
    assert [r.key for r in rows] == [r.key for r in everything if r.fields["overlap"] > 0.1]
    rows = run(demo_ws, f"symbols similar to {DUTY_Q} with similarity >= 0.4, stability > 0.5 limit 3").rows
    assert all(r.fields["similarity"] >= 0.4 and r.fields["stability"] > 0.5 for r in rows)
    assert run(demo_ws, f"symbols similar to {DUTY_Q} with similarity > 1.5").rows == []


def test_graph_filter_on_results(demo_ws) -> None:
    rows = run(demo_ws, f"symbols similar to {DUTY_Q} in graph liability-kg limit 50").rows
    assert rows and {r.graph for r in rows} == {"liability-kg"}
    everything = run(demo_ws, f"symbols similar to {DUTY_Q} limit {EVERYTHING}").rows
    assert [r.key for r in rows] == [r.key for r in everything if r.graph == "liability-kg"][:50]


def test_pair_where_binds_source_and_target(demo_ws) -> None:
    """A pattern that names only ?target still filters pairs by their target."""
    base = "bridges between tort-owl and negligence-skos limit 100"
    everything = run(demo_ws, base).rows
    res = demo_ws.sparql("SELECT DISTINCT ?c WHERE { ?c skos:broader neg:c0109 }", prefixes={"neg": NEG})
    narrower = {row["c"].value for row in res}
    got = run(demo_ws, "bridges between tort-owl and negligence-skos where { ?target skos:broader neg:c0109 } limit 100")
    assert [p.key for p in got.rows] == [p.key for p in everything if p.target in narrower]
    got = run(demo_ws, "bridges between tort-owl and negligence-skos where { ?source a owl:Class . ?target a skos:Concept }"
                       " limit 100")
    assert [p.key for p in got.rows] == [p.key for p in everything
                                        if demo_ws.symbol(p.source, p.source_graph).kind == "class"]


# ---- set operations --------------------------------------------------------------------------


def test_set_operations(demo_ws) -> None:
    a = f"symbols similar to {DUTY_Q} limit 30"
    b = f"symbols sharing features with {DUTY_Q} limit 40"
    ra, rb = keys(run(demo_ws, a)), keys(run(demo_ws, b))
    assert keys(run(demo_ws, f"{a} and {b}")) == [k for k in ra if k in set(rb)]
    assert keys(run(demo_ws, f"{a} except {b}")) == [k for k in ra if k not in set(rb)]
    # every question has its limit: the union is kept whole, left rows first
    assert keys(run(demo_ws, f"{a} or {b}")) == ra + [k for k in rb if k not in set(ra)]
    # 'and' binds tighter than 'or' / 'except'
    c = "symbols where { ?symbol a owl:Class }"
    assert set(keys(run(demo_ws, f"{a} except {b} and {c}"))) == set(ra) - (set(rb) & set(keys(run(demo_ws, c))))
    # an operand without a limit looks deeper; the result keeps the largest limit of its questions
    d = f"symbols sharing features with {DUTY_Q}"
    deep = keys(run(demo_ws, f"{d} limit 200"))
    assert keys(run(demo_ws, f"{a} and {d}")) == [k for k in ra if k in set(deep)]


def test_set_operation_default_limit_and_plan(demo_ws) -> None:
    q = f"symbols sharing features with {DUTY_Q}"
    assert keys(run(demo_ws, f"{q} and {q}")) == keys(run(demo_ws, q))
    assert len(run(demo_ws, q)) == 20
    plan = explain(demo_ws, f"{q} or symbols similar to {DUTY_Q}")
    assert plan.splitlines()[:2] == ["Limit 20", "  Union"]
    assert "Limit 200" in plan  # operands look deeper than the final limit


def test_set_operations_need_one_kind(demo_ws) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        run(demo_ws, f"symbols similar to {DUTY_Q} and features of {DUTY_Q}")
    assert "one kind" in str(info.value)


# ---- SPARQL ---------------------------------------------------------------------------------


def test_sparql_source_needs_no_embedding(tmp_path, demo_files) -> None:
    from kgalign.api import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ws.load(demo_files[1])
    rows = run(ws, "symbols where { ?symbol skos:broader neg:c0100 }").rows
    assert {r.iri for r in rows} == {NEG + "c0102", NEG + "c0103", NEG + "c0109"}
    assert all(r.fields["stability"] is None for r in rows)
    with pytest.raises(WorkspaceError, match="kgalign embed"):
        run(ws, "unstable symbols")
    # a graph loaded after the first query is known to the next one
    ws.load(demo_files[0])
    assert run(ws, "symbols in graph tort-owl where { ?symbol rdfs:subClassOf tort:Damage }").rows


def test_whole_sparql_queries(demo_ws) -> None:
    r = run(demo_ws, "SELECT ?l WHERE { tort:DutyOfCare rdfs:label ?l }")
    assert (r.kind, r.columns, r.records()) == ("sparql", ["l"], [{"l": "Duty of care"}])
    r = run(demo_ws, "PREFIX t: <https://example.org/tort/owl#>\nASK { t:DutyOfCare a owl:Class }")
    assert (r.kind, r.records()) == ("boolean", [{"boolean": True}])
    r = run(demo_ws, "CONSTRUCT { ?c rdfs:subClassOf tort:Damage } WHERE { ?c rdfs:subClassOf tort:Damage }")
    assert r.kind == "triples" and len(r) == 4  # PersonalInjury, PropertyDamage, PureEconomicLoss, PsychiatricInjury
    r = run(demo_ws, "DESCRIBE tort:MiscEntry17")
    assert r.kind == "triples" and any("Misc Entry Seventeen" in t["object"] for t in r.records())
    plan = explain(demo_ws, "SELECT * WHERE { ?s ?p ?o }")
    assert plan.startswith("SPARQL query: SELECT")


@pytest.mark.embedded_store  # kga: functions run inside the embedded store; a remote one refuses them by name
def test_kga_functions_in_plain_sparql(demo_ws) -> None:
    space = demo_ws.space
    f = space.support_of(DUTY)[0][0]
    res = demo_ws.sparql(f"""
        SELECT ?o (kga:similarity(tort:DutyOfCare, ?o) AS ?sim) (kga:sharedFeatures(tort:DutyOfCare, ?o) AS ?n)
               (kga:overlap(tort:DutyOfCare, ?o) AS ?ov) (kga:stability(?o) AS ?st)
               (kga:featureWeight(?o, {f}) AS ?w) (kga:featureWeight(?o, <urn:kgalign:feature:{f}>) AS ?w2)
               (kga:featureLabel({f}) AS ?label) (kga:similarity(tort:DutyOfCare, "not a symbol") AS ?none)
        WHERE {{ VALUES ?o {{ tort:StandardOfCare neg:c0101 tort:DutyOfCare }} }}""",
                             prefixes={"tort": TORT, "neg": NEG})
    rows = {row["o"].value: row for row in res}
    sharing = {r.iri: r for r in run(demo_ws, f"symbols sharing features with {DUTY_Q} limit {EVERYTHING}").rows}
    for iri, row in rows.items():
        g = "tort-owl" if iri.startswith(TORT) else "negligence-skos"
        assert float(row["sim"].value) == pytest.approx(space.similarity(DUTY, (g, iri)), abs=1e-6)
        assert float(row["st"].value) == pytest.approx(space.stability((g, iri)), abs=1e-6)
        assert float(row["w"].value) == float(row["w2"].value) == pytest.approx(
            float(space.table.vectors[space.row_of((g, iri)), f]), abs=1e-6)
        assert row["label"].value == space.feature_label(f)
        assert row["none"] is None
        if iri != DUTY[1]:
            assert int(row["n"].value) == sharing[iri].fields["shared"]
            assert float(row["ov"].value) == pytest.approx(sharing[iri].fields["overlap"], abs=2e-6)
    assert float(rows[DUTY[1]]["sim"].value) == pytest.approx(1.0, abs=1e-5)
    assert float(rows[DUTY[1]]["ov"].value) == pytest.approx(1.0)


@pytest.mark.embedded_store  # kga: functions run inside the embedded store; a remote one refuses them by name
def test_kga_functions_in_a_where_filter(demo_ws) -> None:
    space = demo_ws.space
    rows = run(demo_ws, "symbols where { ?symbol a skos:Concept . "
                        "FILTER(kga:similarity(?symbol, tort:DutyOfCare) > 0.45) }").rows
    table = demo_ws.symbol_table
    want = {k for k in space.keys if (s := table.get(k[1], k[0])) is not None and s.kind == "concept"
            and space.similarity(DUTY, k) > 0.45}
    assert {r.key for r in rows} == want


# ---- errors a person can act on -------------------------------------------------------------


def test_syntax_error_has_position_caret_and_expected(demo_ws) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        run(demo_ws, "symbols similar to DutyOfCare\n  limit ten")
    e = info.value
    assert (e.line, e.column) == (2, 9)
    assert "  limit ten\n" in str(e)
    assert "a number" in e.expected
    assert e.context().splitlines()[1].index("^") == e.context().splitlines()[0].index("ten")


def test_sparql_pattern_error_points_into_the_dsl(demo_ws) -> None:
    text = "symbols where {\n  ?symbol a skos:Concept ;\n      FOO }"
    with pytest.raises(QuerySyntaxError) as info:
        run(demo_ws, text)
    e = info.value
    assert e.line == 3 and e.text == text and e.message.startswith("SPARQL syntax error")
    with pytest.raises(QuerySyntaxError) as info:
        run(demo_ws, "\n  SELECT * WHERE { ?s ?p }")
    assert info.value.line == 2


def test_unknown_and_ambiguous_names(demo_ws) -> None:
    with pytest.raises(UnknownNameError) as info:
        run(demo_ws, "symbols similar to DutyOfCare in graph tort-ow")
    assert "unknown graph 'tort-ow'" in str(info.value) and "'tort-owl'" in str(info.value)
    with pytest.raises(AmbiguousNameError) as info:
        run(demo_ws, "features of 'Vicarious liability'")
    assert {g for _, g in info.value.candidates} == {"tort-owl", "negligence-skos", "liability-kg"}
    assert info.value.to_dict()["candidates"]
    # 'in graph' right after the name settles it
    assert run(demo_ws, "features of 'Vicarious liability' in graph liability-kg").rows


def test_remote_service_is_refused_with_one_message(demo_ws) -> None:
    with pytest.raises(KgalignError, match="SERVICE would fetch a remote URL"):
        run(demo_ws, "SELECT * WHERE { SERVICE <http://localhost:1/sparql> { ?s ?p ?o } }")


# ---- user text never becomes SPARQL ----------------------------------------------------------

INJECTION = "x> } DROP ALL ; #"


def _snapshot(ws) -> tuple:
    quads = len(ws.store.snapshot())
    return quads, tuple(ws.graph_names())


def test_injection_looking_names_match_nothing(demo_ws) -> None:
    before = _snapshot(demo_ws)
    for text in (f'symbols sharing features with "{INJECTION}"', f'features of "{INJECTION}"',
                 f'symbols similar to DutyOfCare in graph "{INJECTION}"', f'align "{INJECTION}" with tort-owl'):
        with pytest.raises(UnknownNameError) as info:
            run(demo_ws, text)
        assert INJECTION in str(info.value)
    lit = json.dumps(INJECTION)
    assert run(demo_ws, f"symbols where {{ ?symbol rdfs:label {lit} }}").rows == []
    assert run(demo_ws, f"symbols sharing features with {DUTY_Q} where {{ ?symbol rdfs:label|skos:prefLabel {lit} }}"
                        ).rows == []
    assert run(demo_ws, f"symbols where {{ ?symbol rdfs:label ?l FILTER(?l != {lit}) }} limit 1").rows
    for text in ("PREFIX x: <http://x/> DROP ALL", "SELECT * WHERE { ?s ?p ?o } ; DROP ALL",
                 "symbols where { ?symbol a ?t } } DROP ALL { ?s ?p ?o",
                 "symbols where { ?symbol a ?t # }\n} ; CLEAR ALL"):
        with pytest.raises(QuerySyntaxError):
            run(demo_ws, text)
    assert _snapshot(demo_ws) == before


# ---- results and plans -----------------------------------------------------------------------


def test_results_and_plans(demo_ws) -> None:
    r = run(demo_ws, f"symbols sharing features with {DUTY_Q} limit 3")
    assert r.columns[:4] == ["symbol", "graph", "score", "iri"] and "shared_features" in r.columns
    assert r.extra["query_symbol"]["iri"] == DUTY[1]
    assert r.plan.startswith("Limit 3") and r.elapsed_ms > 0
    d = r.to_dict()
    assert d["kind"] == "symbols" and len(d["rows"]) == 3 and not any(
        isinstance(v, float) and math.isnan(v) for row in d["rows"] for v in row.values())
    e = run(demo_ws, f"explain symbols similar to {DUTY_Q} with similarity > 0.5 limit 2")
    assert e.kind == "plan" and [row["plan"] for row in e.rows] == e.plan.splitlines()
    assert "Filter similarity > 0.5" in e.plan and make_plan(demo_ws, f"explain features of {DUTY_Q}").explain_only
    x = run(demo_ws, f"explain feature {demo_ws.space.support_of(DUTY)[0][0]} limit 3")
    assert x.kind == "explanation" and x.extra["features"][0]["label"]
    assert np.all(np.diff([row.fields["strength"] for row in x.rows]) <= 0)


def test_in_graph_after_a_name_is_explained(demo_ws) -> None:
    """'in graph G' right after a name qualifies the name; when the name lives elsewhere, say so."""
    with pytest.raises(UnknownNameError) as info:
        run(demo_ws, "symbols similar to DutyOfCare in graph negligence-skos limit 3")
    msg = str(info.value)
    assert "did you mean 'DutyOfCare in graph tort-owl'" in msg
    assert "'symbols in graph negligence-skos ...'" in msg
    assert keys(run(demo_ws, "symbols in graph negligence-skos similar to DutyOfCare limit 3"))


# ---- the report asks the same operators ------------------------------------------------------------


def test_report_and_console_list_the_same_unstable_symbols(demo_ws) -> None:
    from kgalign.report.build import DEFAULT_LIMITS, unstable

    report = unstable(demo_ws, demo_ws.space, DEFAULT_LIMITS["unstable"])
    console = run(demo_ws, "unstable symbols").rows
    assert report and [(u.graph, u.iri) for u in report] == [(r.graph, r.iri) for r in console]
    assert [u.stability for u in report] == pytest.approx([r.fields["stability"] for r in console], abs=1e-4)


def test_report_and_dsl_bridges_leave_out_the_same_mapped_pairs(demo_ws) -> None:
    from kgalign.report.build import bridges

    al = demo_ws.match("tort-owl", "negligence-skos")
    mapped = {(m.subject, m.object) for m in al}
    pair = {"tort-owl", "negligence-skos"}
    report = {frozenset((b.source, b.target)) for b in bridges(demo_ws, demo_ws.space, [al])
              if {b.source_graph, b.target_graph} == pair}
    rows = run(demo_ws, "bridges between tort-owl and negligence-skos limit 1000").rows
    assert {frozenset((r.source, r.target)) for r in rows} == report
    assert not {(r.source, r.target) for r in rows} & mapped
