"""Resolution on the real OAEI Conference ontologies, plus property-based tests (hypothesis)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kgalign.errors import AmbiguousNameError, KgalignError, UnknownNameError
from kgalign.symbolic.loaders import load_file
from kgalign.symbolic.resolve import SymbolTable
from kgalign.symbolic.store import OxigraphStore
from kgalign.symbolic.symbols import Symbol, read_symbols, split_words

from .conftest import DATA, OAEI_ONTOLOGIES


@pytest.fixture(scope="module")
def table(oaei_store: OxigraphStore, tmp_path_factory) -> SymbolTable:
    """Every symbol of the seven OAEI ontologies, the zoo and the OWL/XML pizza."""
    extra = OxigraphStore(tmp_path_factory.mktemp("extra") / "store")
    load_file(extra, DATA / "zoo.ttl")
    load_file(extra, DATA / "pizza-mini.owx", name="pizza")
    symbols: list[Symbol] = []
    prefixes: dict[str, dict[str, str]] = {}
    for store, names in ((oaei_store, OAEI_ONTOLOGIES), (extra, ("zoo", "pizza"))):
        for g in names:
            symbols.extend(read_symbols(store, g))
            prefixes[g] = store.prefixes(g)
    extra.close()
    return SymbolTable(symbols, prefixes)


def iris(found: list[Symbol]) -> list[str]:
    return [s.iri for s in found]


# -- by IRI, CURIE, local name, label -----------------------------------------------------


def test_full_iri_with_or_without_angle_brackets(table: SymbolTable) -> None:
    assert iris(table.resolve("<http://cmt#Author>")) == ["http://cmt#Author"]
    assert iris(table.resolve("http://cmt#Author")) == ["http://cmt#Author"]
    assert table.resolve("<http://cmt#Nothing>") == []


def test_curie_with_the_artefacts_prefixes(table: SymbolTable) -> None:
    assert iris(table.resolve("zoo:Big_cat")) == ["http://example.org/zoo#Big_cat"]
    assert iris(table.resolve(":VegetarianPizza", "pizza")) == ["http://example.org/pizza#VegetarianPizza"]
    # cmt.owl's default namespace is http://cmt#
    assert iris(table.resolve(":Author", "cmt")) == ["http://cmt#Author"]


def test_a_graph_name_works_as_a_prefix(table: SymbolTable) -> None:
    assert iris(table.resolve("cmt:Author")) == ["http://cmt#Author"]
    assert iris(table.resolve("Conference:regular author")) == ["http://conference#Regular_author"]
    assert table.resolve("cmt:Regular_author") == []  # cmt has no Regular_author


@pytest.mark.parametrize(
    "name",
    ["Regular_author", "regular author", "Regular Author", "REGULAR_AUTHOR", "regularAuthor", "RegularAuthor",
     "regular-author", "  regular   author  ", "rEgUlAr_aUtHoR", "REGULARAUTHOR"],
)
def test_label_and_local_name_ignore_case_spaces_underscores_and_camel_case(table: SymbolTable, name: str) -> None:
    assert iris(table.resolve(name)) == ["http://conference#Regular_author"]
    assert table.resolve_one(name).iri == "http://conference#Regular_author"


def test_alternative_labels_and_synonyms_resolve(table: SymbolTable) -> None:
    assert iris(table.resolve("panthera")) == ["http://example.org/zoo#Big_cat"]  # oboInOwl:hasExactSynonym
    assert iris(table.resolve("Wild Cat")) == ["http://example.org/zoo#Big_cat"]
    assert iris(table.resolve("biotope")) == ["http://example.org/zoo#Habitat"]  # skos:altLabel
    assert iris(table.resolve("Tier")) == ["http://example.org/zoo#Animal"]  # a second-language label


def test_ambiguity_returns_every_candidate(table: SymbolTable) -> None:
    found = table.resolve("Paper")
    graphs = {s.graph for s in found}
    assert {"cmt", "Conference", "confOf", "edas", "ekaw", "iasted", "sigkdd"} >= graphs and len(graphs) >= 5
    assert all(s.local_name.lower() == "paper" for s in found[: len(graphs)])
    with pytest.raises(AmbiguousNameError) as e:
        table.resolve_one("Paper")
    assert ("http://cmt#Paper", "cmt") in e.value.candidates
    assert "add 'in graph G' or use the full IRI" in str(e.value)
    # Restricted to one graph, the same name is unique.
    assert table.resolve_one("Paper", "cmt").iri == "http://cmt#Paper"


def test_no_match_suggests_the_closest_names(table: SymbolTable) -> None:
    with pytest.raises(UnknownNameError) as e:
        table.resolve_one("Regular_autor")
    assert "regular author" in e.value.suggestions
    assert "did you mean" in str(e.value)
    with pytest.raises(UnknownNameError) as e:
        table.resolve_one("Author", "cmtt")
    assert e.value.kind == "graph" and "cmt" in e.value.suggestions


def test_the_strongest_kind_of_match_decides(table: SymbolTable) -> None:
    t = SymbolTable([
        Symbol("http://a#PCMember", "a", "class", "PC member"),
        Symbol("http://b#Pcmember", "b", "class", "pcmember"),
    ])
    # "PC member" splits into the words of the first; the second matches only loosely.
    assert iris(t.resolve("PC_member")) == ["http://a#PCMember", "http://b#Pcmember"]
    assert t.resolve_one("PC_member").iri == "http://a#PCMember"
    assert iris(t.resolve("pcmember")) == ["http://b#Pcmember", "http://a#PCMember"]
    assert t.resolve_one("pcmember").iri == "http://b#Pcmember"


# -- properties ---------------------------------------------------------------------------


def case_variant(text: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips + [False] * len(text), strict=False))


def separator_variant(text: str, how: str) -> str:
    words = split_words(text)
    if how == "camel":
        return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:]) if words else text
    return {"space": " ", "underscore": "_", "hyphen": "-", "spaces": "   "}[how].join(words)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_variant_of_a_real_name_resolves_to_its_symbol(table: SymbolTable, data: st.DataObject) -> None:
    symbol = data.draw(st.sampled_from(table.symbols))
    name = data.draw(st.sampled_from([symbol.local_name, *symbol.names]))
    assume(re.search(r"\w", name))
    how = data.draw(st.sampled_from(["space", "underscore", "hyphen", "spaces", "camel"]))
    flips = data.draw(st.lists(st.booleans(), max_size=len(name)))
    variant = case_variant(separator_variant(name, how), flips)
    found = table.resolve(variant)
    assert symbol in found, (name, variant)
    assert table.resolve(variant, symbol.graph)[0:].count(symbol) == 1


words = st.lists(st.text(st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=8), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(label_words=words, others=st.lists(words, max_size=5), how=st.sampled_from(["space", "underscore", "hyphen", "camel"]),
       flips=st.lists(st.booleans(), max_size=40), upper=st.booleans())
def test_any_variant_of_any_label_resolves(
    label_words: list[str], others: list[list[str]], how: str, flips: list[bool], upper: bool
) -> None:
    label = " ".join(label_words)
    target = Symbol("http://x#target", "x", "class", label)
    decoys = [Symbol(f"http://y#d{i}", "y", "class", " ".join(w)) for i, w in enumerate(others)]
    table = SymbolTable([target, *decoys])
    variant = case_variant(separator_variant(label, how), flips)
    variant = variant.upper() if upper else variant
    assert target in table.resolve(variant)
    assert target in table.resolve(variant, "x")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60), graph=st.one_of(st.none(), st.sampled_from(["cmt", "zoo", "nope", ""])))
def test_resolve_never_raises_anything_but_kgalign_errors(table: SymbolTable, text: str, graph: str | None) -> None:
    found = table.resolve(text, graph if graph in table.graphs else None)
    assert all(isinstance(s, Symbol) for s in found)
    try:
        table.resolve_one(text, graph)  # on no match, this also computes the suggestions
    except KgalignError:
        pass
