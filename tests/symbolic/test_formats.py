"""Format detection and the converters of the formats pyoxigraph lacks (OBO, OWL/XML)."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from kgalign.errors import ConfigError, LoadError
from kgalign.symbolic.formats import (
    FORMATS,
    detect_format,
    get_format,
    obo_to_ntriples,
    owlxml_to_ntriples,
    sniff,
)
from kgalign.symbolic.vocab import IAO_DEFINITION, OBOINOWL, OWL, RDF, RDFS

from .conftest import DATA

OBO = "http://purl.obolibrary.org/obo/"


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("zoo.ttl", "turtle"),
        ("zoo.nt", "ntriples"),
        ("zoo.rdf", "rdfxml"),
        ("zoo.jsonld", "jsonld"),
        ("people.nq", "nquads"),
        ("people.trig", "trig"),
        ("cell.obo", "obo"),
        ("pizza-mini.owx", "owlxml"),
    ],
)
def test_sniff_recognises_each_format_from_content(file: str, expected: str) -> None:
    assert sniff((DATA / file).read_bytes()[:8192]) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"", None),
        (b"   \n\t", None),
        (b"hello world", None),
        (b"# only a comment\n", None),
        (b"<http://a> <http://b> <http://c> .\n", "ntriples"),
        (b'<http://a> <http://b> "x" <http://g> .\n', "nquads"),
        (b"\xef\xbb\xbf@prefix ex: <http://e/> .\n", "turtle"),
        (b"PREFIX ex: <http://e/>\nGRAPH ex:g { ex:a ex:b ex:c }", "trig"),
        (b"<Document><x/></Document>", "rdfxml"),
    ],
)
def test_sniff_edge_cases(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


def test_sniff_strict_does_not_guess_rdfxml_for_any_xml() -> None:
    assert sniff(b"<Document><x/></Document>", strict=True) is None
    assert sniff(b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', strict=True) == "rdfxml"


def test_detect_format_prefers_override_then_extension_then_content(tmp_path: Path) -> None:
    ttl = (DATA / "zoo.ttl").read_bytes()
    assert detect_format(Path("x.nt"), ttl, "turtle").name == "turtle"
    assert detect_format(Path("x.nt"), ttl).name == "ntriples"  # extension wins over content...
    assert detect_format(Path("x.owl"), ttl).name == "turtle"  # ...except for .owl/.rdf/.xml
    assert detect_format(Path("x.owl"), (DATA / "pizza-mini.owx").read_bytes()).name == "owlxml"
    assert detect_format(Path("no-extension"), ttl).name == "turtle"
    assert detect_format(Path("x.data"), (DATA / "cell.obo").read_bytes()).name == "obo"
    with pytest.raises(LoadError, match="cannot tell the format"):
        detect_format(Path("x.data"), b"hello world")


def test_get_format_accepts_aliases_and_lists_known_names() -> None:
    assert get_format("TTL").name == "turtle"
    assert get_format("owl/xml").name == "owlxml"
    with pytest.raises(ConfigError) as e:
        get_format("excel")
    assert "known formats:" in str(e.value) and "turtle" in str(e.value)


def test_dataset_formats_are_marked() -> None:
    assert {f.name for f in FORMATS.values() if f.is_dataset} == {"nquads", "trig", "jsonld"}


# -- OBO ------------------------------------------------------------------------------------


def _triples(nt: bytes) -> set[tuple[str, str, str]]:
    return {(str(t.subject), str(t.predicate), str(t.object)) for t in ox.parse(nt, ox.RdfFormat.N_TRIPLES)}


def test_obo_converter_maps_the_common_tags() -> None:
    triples = _triples(obo_to_ntriples((DATA / "cell.obo").read_bytes(), "cell.obo"))
    neuron = f"<{OBO}CL_0000540>"
    assert (neuron, f"<{RDF}type>", f"<{OWL}Class>") in triples
    assert (neuron, f"<{RDFS}label>", '"neuron"') in triples
    assert (neuron, f"<{RDFS}subClassOf>", f"<{OBO}CL_0000000>") in triples
    assert (neuron, f"<{OBOINOWL}hasExactSynonym>", '"nerve cell"') in triples
    assert (neuron, f"<{OBOINOWL}hasRelatedSynonym>", '"neurone"') in triples
    # Non-ASCII text survives (it used to be mangled by a unicode_escape round trip).
    assert (neuron, f"<{OBOINOWL}hasNarrowSynonym>", '"névrone"') in triples
    assert (neuron, f"<{IAO_DEFINITION}>", '"The basic cellular unit of nervous tissue: it has a \\"soma\\", dendrites and an axon."') in triples
    assert (neuron, f"<{OBO}part_of>", f"<{OBO}UBERON_0001016>") in triples
    assert (neuron, f"<{OBOINOWL}hasDbXref>", '"FMA:54527"') in triples
    # Trailing {modifiers} and ! comments are not part of the value.
    assert (f"<{OBO}CL_0000100>", f"<{RDFS}subClassOf>", f"<{OBO}CL_0000540>") in triples
    # idspace maps a prefix to a namespace; Typedef and Instance stanzas.
    assert ("<http://example.org/local/old_cell>", f"<{OWL}deprecated>",
            '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>') in triples
    assert (f"<{OBO}part_of>", f"<{RDF}type>", f"<{OWL}ObjectProperty>") in triples
    assert ("<http://example.org/local/neuron_42>", f"<{RDF}type>", f"<{OBO}CL_0000540>") in triples
    assert len(triples) == 33


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (b"[Term]\nid: X:1\ndef: no quotes\n", 3, 6, "def value must start with a quoted string"),
        (b"[Term]\nname: first\n", 2, 1, "tag 'name' before the stanza's id"),
        (b"[Term]\nid: X:1\n[Term\n", 3, 6, "stanza header must end with ']'"),
        (b"[Term]\nid: X:1\njust words\n", 3, 1, "expected 'tag: value'"),
        (b"[Term]\nid: X:1\nis_a: X:bad<iri>\n", 3, 7, "is not a usable identifier"),
        (b"[Term]\nid: X:1\n\n[Typedef]\nname: r\n", 5, 1, "before the stanza's id"),
        (b"[Term]\nid: X:1\n\n[Term]\n", 4, 1, "[Term] stanza has no id"),
        (b"format-version: 1.2\nontology: x\n", 1, 1, "no [Term], [Typedef] or [Instance] stanza"),
        (b"[Term]\nid: X:1\nname: caf\xe9\n", 3, 10, "not UTF-8"),
    ],
)
def test_obo_errors_carry_line_and_column(text: bytes, line: int, column: int, message: str) -> None:
    with pytest.raises(LoadError) as e:
        obo_to_ntriples(text, "t.obo")
    assert (e.value.line, e.value.column) == (line, column)
    assert message in e.value.message
    assert str(e.value).startswith(f"t.obo:{line}:{column}: ")


# -- OWL/XML --------------------------------------------------------------------------------


def test_owlxml_converter_reads_declarations_axioms_and_annotations() -> None:
    triples = _triples(owlxml_to_ntriples((DATA / "pizza-mini.owx").read_bytes(), "pizza-mini.owx"))
    p = "http://example.org/pizza#"
    assert (f"<{p}VegetarianPizza>", f"<{RDFS}subClassOf>", f"<{p}Pizza>") in triples
    assert (f"<{p}hasTopping>", f"<{RDF}type>", f"<{OWL}ObjectProperty>") in triples
    assert (f"<{p}hasCalories>", f"<{RDF}type>", f"<{OWL}DatatypeProperty>") in triples
    assert (f"<{p}margherita>", f"<{RDF}type>", f"<{p}VegetarianPizza>") in triples
    assert (f"<{p}VegetarianPizza>", f"<{RDFS}label>", '"vegetarian pizza"@en') in triples
    # Only the document's ontology: nothing of owlready2's own (http://anonymous).
    assert not any("anonymous" in t[0] or "kgalign.invalid" in t[0] for t in triples)
    assert len(triples) == 13  # the ontology header, 6 declarations, 6 axioms and annotations


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (b'<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#">\n<Declaration>',
         3, 14, "not well-formed XML: no element found"),
        (b'<?xml version="1.0"?>\n<Document xmlns="http://e/doc#"/>', 2, 1, "root element is <Document>"),
        (b'<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://x">\n'
         b"<Declaration><Class/></Declaration></Ontology>", 3, 22, "invalid OWL/XML"),
    ],
)
def test_owlxml_errors_carry_positions_and_print_no_traceback(
    text: bytes, line: int, column: int, message: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(LoadError) as e:
        owlxml_to_ntriples(text, "x.owx")
    assert (e.value.line, e.value.column) == (line, column)
    assert message in e.value.message
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
