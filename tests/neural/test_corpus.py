"""Corpus readers: text, JSONL, RDF literals, WordNet (real database when installed, and a tiny fake)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from kgalign.errors import ConfigError, EmbedError
from kgalign.neural.corpus import (
    DEFAULT_WORDNET_DIR,
    iter_wordnet_synsets,
    load_corpus,
    read_jsonl,
    read_rdf_literals,
    read_text_files,
    split_gloss,
    wordnet_corpus,
)

HAVE_WORDNET = (Path(DEFAULT_WORDNET_DIR) / "data.noun").is_file()
needs_wordnet = pytest.mark.skipif(
    not HAVE_WORDNET,
    reason=f"!!! WordNet 3.0 is not installed at {DEFAULT_WORDNET_DIR}: apt-get install wordnet-base !!!",
)


# ----------------------------------------------------------------------------------------------- text


def test_text_lines_paragraphs_and_directories(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("first line\n\n  second line  \nthird\n")
    (tmp_path / "sub" / "a.md").write_text("alpha\n")
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"text": " from json "}) + "\n\n" + json.dumps({"text": ""}) + "\n"
    )
    (tmp_path / "ignored.csv").write_text("x,y\n")
    assert list(read_text_files(tmp_path / "b.txt")) == ["first line", "second line", "third"]
    assert list(read_text_files(tmp_path / "b.txt", unit="paragraph")) == ["first line", "second line third"]
    # a directory: recursively, sorted by path, only known suffixes
    assert list(read_text_files(tmp_path)) == ["from json", "first line", "second line", "third", "alpha"]


def test_jsonl_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text('{"text": "ok"}\n{"body": "no text"}\n')
    with pytest.raises(EmbedError, match=r"c.jsonl:2: record has no 'text' field"):
        list(read_jsonl(f))
    f.write_text('{"text": "ok"}\n{oops\n')
    with pytest.raises(EmbedError, match=r"c.jsonl:2: not JSON"):
        list(read_jsonl(f))


def test_empty_corpus_is_an_embed_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("\n   \n")
    with pytest.raises(EmbedError, match="corpus is empty"):
        list(read_text_files(tmp_path / "empty.txt"))
    (tmp_path / "d").mkdir()
    with pytest.raises(EmbedError, match="corpus is empty"):
        load_corpus(tmp_path / "d")
    with pytest.raises(EmbedError, match="corpus source not found"):
        list(read_text_files(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="line, paragraph"):
        read_text_files(tmp_path, unit="word")  # type: ignore[arg-type]


def test_rdf_literals(tmp_path: Path) -> None:
    (tmp_path / "o.ttl").write_text(
        """
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
        @prefix ex: <http://example.org/> .
        ex:Dog rdfs:label "dog"@en ; skos:definition "a domesticated canine" ; ex:weight 3 .
        ex:Cat skos:prefLabel "cat" ; rdfs:comment "a small feline" ; rdfs:seeAlso "not text" .
        ex:Hound rdfs:label "dog" .
        """
    )
    assert list(read_rdf_literals(tmp_path)) == ["a domesticated canine", "a small feline", "cat", "dog"]
    (tmp_path / "bad.ttl").write_text("this is not turtle")
    with pytest.raises(EmbedError, match="bad.ttl: cannot read RDF"):
        list(read_rdf_literals(tmp_path / "bad.ttl"))
    (tmp_path / "t.txt").write_text("plain\n")
    assert load_corpus([tmp_path / "t.txt", tmp_path / "o.ttl"], limit=3) == [
        "plain",
        "a domesticated canine",
        "a small feline",
    ]


# -------------------------------------------------------------------------------------------- WordNet


@pytest.mark.parametrize(
    ("gloss", "definition", "examples"),
    [
        (
            'a member of the genus Canis; "the dog barked all night"',
            "a member of the genus Canis",
            ("the dog barked all night",),
        ),
        ("no examples here", "no examples here", ()),
        (
            'a projection; "the head of the nail", "a pinhead"',
            "a projection",
            ("the head of the nail", "a pinhead"),
        ),
        (
            'exposure; "to the weather" or "died from exposure";',
            "exposure",
            ("to the weather", "died from exposure"),
        ),
        (
            'as in "on behalf of" (usage); "signed on behalf of the child"',
            'as in "on behalf of" (usage)',
            ("signed on behalf of the child",),
        ),
        (
            'bondage; "in bondage to fear:; "bondage to Satan"',
            "bondage",
            ("in bondage to fear", "bondage to Satan"),
        ),
        ('wisdom; "a quote" - Shakespeare; second sense', "wisdom; second sense", ("a quote",)),
    ],
)
def test_split_gloss(gloss: str, definition: str, examples: tuple[str, ...]) -> None:
    assert split_gloss(gloss) == (definition, examples)


# WordNet data lines end with two spaces; the licence header lines start with two.
FAKE_NOUN = "".join(
    line + "  \n"
    for line in [
        "  1 This software and database is being provided to you, the LICENSEE, by",
        "00001740 03 n 01 entity 0 001 ~ 00002000 n 0000 | that which is perceived to exist",
        '00002000 05 n 02 dog 0 domestic_dog 0 001 @ 00001740 n 0000 | a domesticated canine; "the dog barked"',
    ]
)
FAKE_ADJ = "".join(
    line + "  \n"
    for line in [
        "00003000 00 a 01 galore(ip) 0 001 & 00003100 a 0000 | in great numbers",
        '00003100 00 s 01 abundant 0 001 & 00003000 a 0000 | present in great quantity; "an abundant supply"',
    ]
)
FAKE_INDEX_NOUN = "dog n 1 1 @ 1 0 00002000  \nentity n 1 1 ~ 1 0 00001740  \n"


def test_fake_wordnet_parse(tmp_path: Path) -> None:
    (tmp_path / "data.noun").write_text(FAKE_NOUN)
    (tmp_path / "data.adj").write_text(FAKE_ADJ)
    (tmp_path / "index.noun").write_text(FAKE_INDEX_NOUN)
    syn = list(iter_wordnet_synsets(tmp_path, pos=("n", "a")))
    assert [s.id for s in syn] == ["00001740-n", "00002000-n", "00003000-a", "00003100-a"]
    dog = syn[1]
    assert dog.lemmas == ("dog", "domestic dog") and dog.lexname == "noun.animal" and dog.name == "dog.n.01"
    assert dog.definition == "a domesticated canine" and dog.examples == ("the dog barked",)
    assert dog.hypernyms == ("00001740-n",) and syn[0].related("hyponym") == ("00002000-n",)
    assert syn[2].lemmas == ("galore",) and syn[3].ss_type == "s" and syn[3].name is None  # no index.adj
    assert list(wordnet_corpus(tmp_path, pos=("n", "a"))) == [
        "that which is perceived to exist",
        "a domesticated canine",
        "the dog barked",
        "in great numbers",
        "present in great quantity",
        "an abundant supply",
    ]
    assert list(wordnet_corpus(tmp_path, pos=("n",), examples=False))[-1] == "a domesticated canine"
    with pytest.raises(ConfigError, match="n, v, a, r"):
        list(iter_wordnet_synsets(tmp_path, pos=("x",)))


def test_missing_wordnet_is_an_embed_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedError, match="apt-get install wordnet-base"):
        list(wordnet_corpus(tmp_path))


@needs_wordnet
def test_real_wordnet_dog() -> None:
    dog = next(s for s in iter_wordnet_synsets(pos=("n",)) if s.offset == 2084071)
    assert dog.name == "dog.n.01" and dog.lemmas == ("dog", "domestic dog", "Canis familiaris")
    assert "domesticated" in dog.definition and dog.examples == ("the dog barked all night",)
    assert "02083346-n" in dog.hypernyms  # canine.n.02
    assert dog.lexname == "noun.animal"


@needs_wordnet
def test_real_wordnet_corpus_is_deterministic() -> None:
    first = list(itertools.islice(wordnet_corpus(pos=("r",)), 50))
    again = list(itertools.islice(wordnet_corpus(pos=("r",)), 50))
    assert first == again and len(set(first)) > 40
    adverbs = list(iter_wordnet_synsets(pos=("r",)))
    assert len(adverbs) == 3621  # WordNet 3.0
