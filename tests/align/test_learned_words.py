"""Evidence the pair teaches itself: word correspondences learnt from the two artefacts' own class
names, and the qualifier check on property names — with the real WordNet lexicon."""

from __future__ import annotations

from kgalign.align import Matcher, MatcherConfig
from kgalign.symbolic.symbols import Symbol


def _cls(g: str, name: str, parents: tuple[str, ...] = ()) -> Symbol:
    return Symbol(iri=f"{g}:{name}", graph=g, kind="class", label=name, parents=tuple(f"{g}:{p}" for p in parents))


def _prop(g: str, name: str) -> Symbol:
    return Symbol(iri=f"{g}:{name}", graph=g, kind="data_property", label=name)


LEFT = [_cls("l", "Contribution"), _cls("l", "Accepted_contribution", ("Contribution",)),
        _cls("l", "Rejected_contribution", ("Contribution",)), _cls("l", "Withdrawn_contribution", ("Contribution",)),
        _cls("l", "Left_lung"), _cls("l", "Right_lung"), _cls("l", "Left_kidney"), _cls("l", "Right_kidney")]
RIGHT = [_cls("r", "Paper"), _cls("r", "Accepted_Paper", ("Paper",)), _cls("r", "Rejected_Paper", ("Paper",)),
         _cls("r", "Withdrawn_Paper", ("Paper",)), _cls("r", "Left_lung"), _cls("r", "Right_lung"),
         _cls("r", "Right_kidney")]


def test_a_word_correspondence_learnt_from_the_pair_maps_the_names_it_explains():
    al = Matcher().match_symbols(LEFT, RIGHT)
    pairs = al.pairs()
    for a, b in (("Accepted_contribution", "Accepted_Paper"), ("Rejected_contribution", "Rejected_Paper"),
                 ("Withdrawn_contribution", "Withdrawn_Paper"), ("Contribution", "Paper")):
        assert (f"l:{a}", f"r:{b}") in pairs, (a, b)
    (m,) = al.find("l:Accepted_contribution", "r:Accepted_Paper")
    lex = next(e for e in m.evidence if e.kind == "lexical")
    assert "'contribution' ~ 'paper' learnt from this pair's names" in lex.detail
    # left/right: both sides have both phrasings, so nothing is learnt from them
    assert ("l:Left_kidney", "r:Right_kidney") not in pairs
    off = Matcher(MatcherConfig(learn_words=False)).match_symbols(LEFT, RIGHT).pairs()
    assert ("l:Accepted_contribution", "r:Accepted_Paper") not in off


def test_one_witness_teaches_nothing():
    left = [_cls("l", "Accepted_contribution"), _cls("l", "Draft")]
    right = [_cls("r", "Accepted_Paper"), _cls("r", "Draft")]
    assert ("l:Accepted_contribution", "r:Accepted_Paper") not in Matcher().match_symbols(left, right).pairs()


def test_a_property_qualifier_missing_on_the_other_side_costs_the_pair():
    """"has first name" is not "name" — but "has last name" is "has surname" (a WordNet phrase)."""
    left = [_prop("l", "hasFirstName"), _prop("l", "hasLastName")]
    right = [_prop("r", "name"), _prop("r", "hasSurname")]
    cfg = MatcherConfig(scorers=("lexical",), repair=False)
    al = Matcher(cfg).match_symbols(left, right)
    assert ("l:hasLastName", "r:hasSurname") in al.pairs()
    cand = {m.pair: m for m in Matcher(cfg.with_(property_threshold=0.0)).match_symbols(left, right)}
    plain = {m.pair: m for m in Matcher(cfg.with_(property_threshold=0.0, qualifier_penalty=1.0))
             .match_symbols(left, right)}
    pair = ("l:hasFirstName", "r:name")
    assert pair in plain
    assert pair not in cand or cand[pair].confidence < plain[pair].confidence * 0.6


def test_dense_evidence_alone_fills_a_gap_above_the_ceiling_measured_on_the_pair(minilm):
    """Location / Place share no word and are no WordNet synonyms; the sentence embeddings put
    them above how high unrelated names reach on this pair, so the pair enters — just above the
    threshold, never above a lexical match — while Banana / Telescope stays out."""
    organs = ("Heart", "Lung", "Kidney", "Liver", "Stomach", "Brain")
    left = [_cls("l", n) for n in (*organs, "Location", "Banana")]
    right = [_cls("r", n) for n in (*organs, "Place", "Telescope")]
    cfg = MatcherConfig(scorers=("lexical", "structural", "dense"))
    al = Matcher(cfg).match_symbols(left, right)
    ceiling = al.metadata["embedding_unrelated_ceiling"]["dense"]
    assert 0.0 < ceiling < 0.74
    (m,) = al.find("l:Location", "r:Place")
    assert m.score_of("lexical") == 0.0 and m.score_of("neural") >= cfg.neural_only_threshold
    assert cfg.class_threshold <= m.confidence <= cfg.class_threshold + 0.01
    assert ("l:Banana", "r:Telescope") not in al.pairs()
    # without the embedding, the words alone do not find it
    assert ("l:Location", "r:Place") not in Matcher().match_symbols(left, right).pairs()
    # a bar above the pair's score keeps it out
    assert ("l:Location", "r:Place") not in Matcher(cfg.with_(neural_only_threshold=0.8)).match_symbols(left, right).pairs()


def test_a_compound_written_as_one_word_matches_its_two_words():
    """"Nonmember_registration_fee" / "Registration_Non-Member", "bone of hindlimb" / "hind limb bone"."""
    left = [_cls("l", "Nonmember_registration_fee"), _cls("l", "bone_of_hindlimb")]
    right = [_cls("r", "Registration_Non-Member"), _cls("r", "hind_limb_bone")]
    al = Matcher(MatcherConfig(scorers=("lexical",), repair=False)).match_symbols(left, right)
    (m,) = al.find("l:bone_of_hindlimb", "r:hind_limb_bone")
    lexical = next(e for e in m.evidence if e.kind == "lexical")
    assert "compound 'hindlimb' = 'hind limb'" in lexical.detail and lexical.score >= 0.95
    from kgalign.align.lexical import Lexicon

    lex = Lexicon(left, right)
    na, nb = lex.names("l:Nonmember_registration_fee")[0], lex.names("r:Registration_Non-Member")[0]
    s, why = lex.name_similarity(na, nb)
    plain, _ = lex.soft_tfidf(na.tokens, nb.tokens)
    assert "compound 'nonmember' = 'non member'" in why and s > plain + 0.2
