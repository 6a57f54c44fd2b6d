"""Synonym scopes, imported vocabulary, morphology, restriction fillers and qualifiers, the repair
of conflicts, the dense scorer and the matcher config — on two small OBO-style anatomy
ontologies in Turtle (tests/align/data/anatomy-*.ttl) and the real WordNet and model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgalign.align import Evidence, MappingCandidate, Matcher, MatcherConfig, OntologyView, repair
from kgalign.align.lexical import Lexicon
from kgalign.align.morphology import Morphology, numeral
from kgalign.api import Workspace
from kgalign.cli import main
from kgalign.errors import ConfigError
from kgalign.symbolic.symbols import Symbol
from kgalign.symbolic.wordnet import wordnet

DATA = Path(__file__).resolve().parent / "data"
MA = "http://example.org/ma#"
NCI = "http://example.org/nci#"


@pytest.fixture(scope="module")
def anatomy_ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("anatomy") / "ws"
    ws = Workspace.open(root)
    ws.load(DATA / "anatomy-a.ttl", name="a")
    ws.load(DATA / "anatomy-b.ttl", name="b")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def anatomy(anatomy_ws):
    return Matcher().match(anatomy_ws, "a", "b")


def test_synonyms_literal_and_resource_valued_with_their_scope(anatomy_ws):
    syms = {s.iri: s for s in anatomy_ws.symbols("a")}
    larynx = syms[MA + "MA_7"]
    assert larynx.synonyms == (("related", "voice box"),)  # an IRI node whose rdfs:label holds the text
    assert larynx.alt_labels == ("voice box",)  # shown as an alternative label, matched as related
    nerve = syms[MA + "MA_8"]
    assert ("exact", "optic nerve") in nerve.synonyms and "optic nerve" in nerve.alt_labels  # a blank node
    ovary = syms[MA + "MA_9"]
    assert ("hidden", "ovry") in ovary.synonyms and "ovry" not in ovary.alt_labels
    assert "female gonad" in ovary.alt_labels


def test_related_synonym_is_weaker_evidence_than_a_label(anatomy):
    (m,) = anatomy.find(MA + "MA_7", NCI + "C7")
    lex = next(e for e in m.evidence if e.kind == "lexical")
    assert "related synonym 'voice box'" in lex.detail
    assert lex.score < 0.9
    (exact,) = anatomy.find(MA + "MA_8", NCI + "C8")
    assert exact.score_of("lexical") == 1.0


def test_meta_and_imported_vocabulary_left_out_and_reported(anatomy, anatomy_ws):
    excluded = anatomy.metadata["excluded"]
    assert excluded["a"]["UNDEFINED_ placeholder"]["count"] == 1
    assert excluded["a"]["meta vocabulary"]["count"] == 2
    mapped = {m.subject for m in anatomy}
    assert not any("oboInOwl" in s or "UNDEFINED" in s for s in mapped)
    everything = Matcher(MatcherConfig(exclude_imported=False)).match(anatomy_ws, "a", "b")
    assert any("oboInOwl#Synonym" in m.subject for m in everything)


def test_morphology_from_wordnet_and_rules():
    morph = Morphology(wordnet())
    assert morph.relation("gastric", "stomach") == "WordNet pertainym"
    assert morph.relation("ovarian", "ovary").startswith("WordNet")
    assert morph.relation("laryngeal", "larynx").startswith("WordNet")
    assert morph.relation("patellar", "patella") in ("adjective rule", "WordNet derivation", "WordNet pertainym")
    assert morph.relation("reviewer", "review") == ""  # an agent is not its act
    assert numeral("XII") == "12" and numeral("I", first=True) is None


def test_morphology_and_numerals_named_in_the_lexical_evidence():
    def sym(iri: str, label: str) -> Symbol:
        return Symbol(iri=iri, graph=iri[:1], kind="class", label=label)

    lex = Lexicon([sym("a1", "gastric gland"), sym("a2", "cranial nerve II")],
                  [sym("b1", "stomach gland"), sym("b2", "cranial nerve 2")])
    s, _, _, why = lex.similarity("a1", "b1")
    assert s >= 0.75 and "gastric~stomach (WordNet pertainym)" in why
    s2, _, _, why2 = lex.similarity("a2", "b2")
    assert s2 >= 0.95 and "II=2" in why2
    plain = Lexicon([sym("a1", "gastric gland")], [sym("b1", "stomach gland")], morphology=False)
    assert plain.similarity("a1", "b1")[0] < s


def test_restriction_fillers_and_part_of_are_structure(anatomy):
    (m,) = anatomy.find(MA + "MA_2", NCI + "C2")
    st = next(e for e in m.evidence if e.kind == "structural")
    assert "part_of 1.00" in st.detail and "filler" in st.detail


def test_words_explained_by_the_other_sides_part_of_context(anatomy):
    (m,) = anatomy.find(MA + "MA_4", NCI + "C4")
    lex = next(e for e in m.evidence if e.kind == "lexical")
    assert "'heart' named by the other class's ancestors or restrictions" in lex.detail
    assert not anatomy.find(MA + "MA_4", NCI + "C5")  # right is not left


def test_opposite_qualifiers_cut_the_score(anatomy_ws):
    from kgalign.align.scoring import MatchContext

    views = [OntologyView.from_workspace(anatomy_ws, g).without_imported() for g in ("a", "b")]
    ctx = MatchContext(source=views[0], target=views[1], config=MatcherConfig())
    from kgalign.align.lexical import LexicalScorer

    ev = LexicalScorer(MatcherConfig()).score([(MA + "MA_4", NCI + "C5"), (MA + "MA_4", NCI + "C4")], ctx)
    wrong, right = ev[(MA + "MA_4", NCI + "C5")], ev[(MA + "MA_4", NCI + "C4")]
    assert "opposite qualifiers left/right" in wrong.detail
    assert wrong.score < 0.5 < right.score


def test_repair_drops_the_one_mapping_behind_many_conflicts():
    """An exact but wrong mapping seen first must not take the right ones down with it."""

    def sym(g: str, iri: str, label: str, parents: tuple[str, ...] = ()) -> Symbol:
        return Symbol(iri=iri, graph=g, kind="class", label=label, parents=parents)

    left = [sym("l", "l:aos", "organ system"), sym("l", "l:cell", "cell", ("l:aos",)),
            sym("l", "l:tissue", "tissue", ("l:aos",)), sym("l", "l:gland", "gland", ("l:aos",))]
    right = [sym("r", "r:OS", "Organ_System"), sym("r", "r:Micro", "Microanatomy"),
             sym("r", "r:Cell", "Cell", ("r:Micro",)), sym("r", "r:Tissue", "Tissue", ("r:Micro",)),
             sym("r", "r:Gland", "Gland", ("r:Micro",))]
    lv = OntologyView.from_symbols("l", left)
    rv = OntologyView.from_symbols("r", right, disjoint=[("r:OS", "r:Micro")])

    def m(a: str, b: str) -> MappingCandidate:
        return MappingCandidate(a, "l", b, "r", confidence=1.0, category="class",
                                evidence=(Evidence("lexical", 1.0, "same label"),), subject_label=a, object_label=b)

    # "l:aos" sorts first among equals: the old greedy repair kept it and dropped the three others
    kept, dropped = repair([m("l:cell", "r:Cell"), m("l:aos", "r:OS"), m("l:tissue", "r:Tissue"),
                            m("l:gland", "r:Gland")], lv, rv)
    assert {k.pair for k in kept} == {("l:cell", "r:Cell"), ("l:tissue", "r:Tissue"), ("l:gland", "r:Gland")}
    ((gone, why),) = dropped
    assert gone.pair == ("l:aos", "r:OS") and "least supported member of 3 conflicts" in why


def test_config_file_toml_and_json(tmp_path):
    t = tmp_path / "m.toml"
    t.write_text('[matcher]\nclass_threshold = 0.8\nscorers = ["lexical"]\nrepair = false\n')
    cfg = MatcherConfig.from_file(t)
    assert cfg.class_threshold == 0.8 and cfg.scorers == ("lexical",) and cfg.repair is False
    j = tmp_path / "m.json"
    j.write_text(json.dumps({"selection": "hungarian"}))
    assert MatcherConfig.from_file(j).selection == "hungarian"
    bad = tmp_path / "bad.toml"
    bad.write_text("selection = 'stable'\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: unknown selection 'stable'; known selections: greedy"):
        MatcherConfig.from_file(bad)
    typo = tmp_path / "typo.json"
    typo.write_text('{"class_treshold": 0.5}')
    with pytest.raises(ConfigError, match="unknown matcher setting 'class_treshold'"):
        MatcherConfig.from_file(typo)


def test_cli_align_options(tmp_path, capsys):
    cfg = tmp_path / "m.toml"
    cfg.write_text("class_threshold = 0.95\n")
    root = str(tmp_path / "ws")
    assert main(["-w", root, "load", str(DATA / "anatomy-a.ttl"), "--name", "a"]) == 0
    assert main(["-w", root, "load", str(DATA / "anatomy-b.ttl"), "--name", "b"]) == 0
    capsys.readouterr()
    rc = main(["-w", root, "align", "a", "b", "--config", str(cfg), "--no-repair", "--format", "sssom"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "left out of matching in a: " in err and "UNDEFINED_ placeholder" in err
    assert "Right_Ventricle" not in out  # heart right ventricle = Right_Ventricle is 0.91 < 0.95
    assert "Cardiac_Ventricle" in out
    rc = main(["-w", root, "align", "a", "b", "--class-threshold", "2"])
    _, err = capsys.readouterr()
    assert rc != 0 and "class_threshold must be a number between 0 and 1" in err


def test_cli_align_shows_its_stages_with_progress_and_quiet_silences_them(tmp_path, capsys):
    root = str(tmp_path / "ws")
    assert main(["-w", root, "load", str(DATA / "anatomy-a.ttl"), "--name", "a"]) == 0
    assert main(["-w", root, "load", str(DATA / "anatomy-b.ttl"), "--name", "b"]) == 0
    capsys.readouterr()
    assert main(["-w", root, "align", "a", "b", "--progress", "--format", "sssom"]) == 0
    _, err = capsys.readouterr()
    assert "align: read a (" in err and "align: lexical:" in err and "kept after one-to-one selection" in err
    assert main(["-w", root, "align", "a", "b", "--quiet", "--format", "sssom"]) == 0
    _, err = capsys.readouterr()
    assert "align:" not in err


def test_dense_scorer_and_reliability_measured_on_the_pair(anatomy_ws, minilm):
    al = Matcher(MatcherConfig(scorers=("lexical", "structural", "dense"))).match(anatomy_ws, "a", "b")
    (m,) = al.find(MA + "MA_1", NCI + "C1")
    dense = [e for e in m.evidence if e.detail.startswith("dense:")]
    assert dense and dense[0].score > 0.99
    rel = al.metadata["reliability"]
    assert set(rel) == {"dense"} and 0.0 <= rel["dense"] <= 1.0
    auc = al.metadata["reliability_auc"]
    assert set(auc) <= {"dense"} and all(0.0 <= v <= 1.0 for v in auc.values())
    # the bar for carrying a pair alone is measured on the pair: wrong candidates next to anchors
    assert set(al.metadata["embedding_ceiling"]) <= {"dense"}


def test_match_endpoint_parameters_take_the_cli_switches():
    from dataclasses import fields

    from kgalign.server.match import translate_parameters

    names = {f.name for f in fields(MatcherConfig)}
    opts = translate_parameters({"no_repair": "true", "dense": True, "class_threshold": 0.9,
                                 "include_imported": "false"}, names)
    assert opts.switches == {"repair": False, "scorers": "+dense"}
    assert opts.changes == {"class_threshold": 0.9}
    assert not opts.ignored


# -- property readings ------------------------------------------------------------------------------


def _prop(iri: str, label: str, graph: str) -> Symbol:
    return Symbol(iri=iri, graph=graph, kind="object_property", label=label)


def test_property_names_read_without_domain_range_words_and_agents_as_verbs():
    if wordnet().available is False:
        pytest.skip("WordNet is not installed")
    a = [_prop("a:hasAuthor", "hasAuthor", "a"), _prop("a:memberOfConference", "memberOfConference", "a"),
         _prop("a:hasReviewer", "hasReviewer", "a"), _prop("a:reviewerOfPaper", "reviewerOfPaper", "a")]
    b = [_prop("b:writtenBy", "writtenBy", "b"), _prop("b:isMemberOf", "isMemberOf", "b"),
         _prop("b:isReviewedBy", "isReviewedBy", "b"), _prop("b:reviews", "reviews", "b")]
    context = {"a:memberOfConference": (frozenset({"person"}), frozenset({"conference"})),
               "a:reviewerOfPaper": (frozenset({"person"}), frozenset({"paper"}))}
    lex = Lexicon(a, b, property_context=context)
    s, _, _, why = lex.similarity("a:hasAuthor", "b:writtenBy")
    assert s >= 0.9 and "'author' read as 'write'" in why
    s, _, _, why = lex.similarity("a:memberOfConference", "b:isMemberOf")
    assert s >= 0.9 and "range word(s) 'conference'" in why
    assert lex.similarity("a:hasReviewer", "b:isReviewedBy")[0] >= 0.9
    assert lex.similarity("a:reviewerOfPaper", "b:reviews")[0] >= 0.9
    # the direction is kept: "has reviewer" (the object reviews) is not "reviews" (the subject does)
    assert lex.similarity("a:hasReviewer", "b:reviews")[0] < 0.7
    # without the readings, none of these name pairs matches well
    plain = Lexicon(a, b, property_readings=False)
    assert plain.similarity("a:hasAuthor", "b:writtenBy")[0] < 0.5
    assert plain.similarity("a:memberOfConference", "b:isMemberOf")[0] < 0.8
