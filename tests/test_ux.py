"""What a new user meets first: the Python API, the CLI's help and loading, SAE checks, exports,
rule bases and SKOS details (issue 13). Real store, real files, the real model where needed."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kgalign.api import Workspace
from kgalign.cli import build_parser, main
from kgalign.errors import ModelError, UnknownNameError

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "symbolic" / "data"
ONTOLOGIES = REPO / "ontologies"
TORT = "https://example.org/tort#"


# -- Python API -------------------------------------------------------------------------------


def test_public_names_import_lazily():
    code = (
        "import sys, kgalign; heavy = [m for m in ('torch', 'pyoxigraph', 'kgalign.api') if m in sys.modules]; "
        "from kgalign import Workspace, Matcher, MatcherConfig, run_query, write_report; "
        "print(heavy, Workspace.__name__, Matcher.__name__, MatcherConfig.__name__, callable(run_query), "
        "callable(write_report))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "Workspace", "Matcher", "MatcherConfig", "True", "True"]


@pytest.fixture(scope="module")
def rules_ws(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("rules") / "ws")  # the constructor opens, as Workspace.open does
    for f in ("rules-swrl.ttl", "rules.n3", "skos-notation.ttl"):
        ws.load(DATA / f)
    return ws


def test_workspace_constructor_opens_like_open(tmp_path):
    Workspace(tmp_path / "w").load(DATA / "skos-notation.ttl")
    again = Workspace(tmp_path / "w", read_only=True)
    assert again.graph_names() == Workspace.open(tmp_path / "w", read_only=True).graph_names() == ["skos-notation"]


def test_sparql_returns_typed_rows(rules_ws):
    from kgalign.rows import Row, SparqlResult, Term

    res = rules_ws.sparql("SELECT ?c (COUNT(*) AS ?n) WHERE { ?c a owl:Class } GROUP BY ?c ORDER BY ?c")
    assert isinstance(res, SparqlResult) and res.kind == "select" and res.variables == ("c", "n")
    first = next(iter(res))
    assert isinstance(first, Row) and isinstance(first["c"], Term) and first["c"].kind == "iri"
    assert first.to_dict() == {"c": TORT + "Breach", "n": 1}
    assert rules_ws.sparql("ASK { ?s a skos:Concept }").boolean is True
    graph = rules_ws.sparql("CONSTRUCT { ?s a skos:Concept } WHERE { ?s a skos:Concept }")
    assert graph.kind == "graph" and {t.subject.value for t in graph} == {
        "https://example.org/thes/k1", "https://example.org/thes/k2"}


def test_resolve_carries_suggestions_or_raises(rules_ws):
    found = rules_ws.resolve("DutyOfCar")
    assert found == [] and "duty of care" in found.suggestions and "did you mean" in repr(found)
    with pytest.raises(UnknownNameError, match="did you mean"):
        rules_ws.resolve("DutyOfCar", strict=True)
    assert [s.iri for s in rules_ws.resolve("DutyOfCare", "rules-swrl")] == [TORT + "DutyOfCare"]


# -- CLI ---------------------------------------------------------------------------------------


def test_every_subcommand_and_argument_has_help():
    missing = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    if not sp.description:
                        missing.append(f"{' '.join([*path, name])}: no description")
                    walk(sp, [*path, name])
            elif not isinstance(a, (argparse._HelpAction, argparse._VersionAction)) and not a.help:
                missing.append(f"{' '.join(path)} {a.option_strings or a.dest}: no help")

    walk(build_parser(), [])
    assert not missing, missing


def test_a_typo_gets_a_suggestion(capsys):
    assert main(["-w", "nowhere", "grpahs"]) == 2
    assert "did you mean 'graphs'" in capsys.readouterr().err


def test_load_takes_folders_and_globs(tmp_path, capsys):
    d = tmp_path / "arts"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    shutil.copy(DATA / "zoo.ttl", d / "a" / "x.ttl")
    shutil.copy(DATA / "skos-notation.ttl", d / "b" / "x.ttl")
    shutil.copy(DATA / "zoo.nt", d / "a" / "zoo.nt")
    (d / "notes.md").write_text("not an artefact")
    ws = str(tmp_path / "ws")
    assert main(["-w", ws, "load", str(d)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0] for ln in out] == ["loaded a-x", "loaded zoo", "loaded b-x"]  # sorted paths
    assert main(["-w", ws, "load", str(d / "**" / "*.nt")]) == 0
    assert capsys.readouterr().out.startswith("replaced zoo:")
    assert main(["-w", ws, "load", str(tmp_path / "none*.ttl")]) == 2
    assert "matches no file" in capsys.readouterr().err
    assert main(["-w", ws, "symbols", "b-x"]) == 0  # the graph as a positional argument
    assert "duty of care" in capsys.readouterr().out


# -- SAE checks and stats ---------------------------------------------------------------------


def test_an_sae_for_another_layer_is_refused_or_forced(tiny_sae_dir, tmp_path, capsys):
    from kgalign.neural.sae_check import check_sae_site

    other = tmp_path / "sae"
    shutil.copytree(tiny_sae_dir, other)
    cfg = json.loads((other / "cfg.json").read_text())
    layer = cfg["metadata"]["hook_layer"]
    cfg["metadata"]["hook_layer"] = layer + 1
    (other / "cfg.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=f"trained on layer {layer + 1}.*reads layer {layer}.*--force"):
        check_sae_site(other, "all-MiniLM-L6-v2", layer, 384, 384)
    assert check_sae_site(other, "all-MiniLM-L6-v2", layer, 384, 384, force=True)
    assert "warning" in capsys.readouterr().err
    with pytest.raises(ModelError, match="layer 4 of all-MiniLM-L6-v2 has width 384"):
        check_sae_site(tiny_sae_dir, "all-MiniLM-L6-v2", 4, 384, 768)
    with pytest.raises(ModelError, match="trained on model 'all-MiniLM-L6-v2'"):
        check_sae_site(tiny_sae_dir, "SmolLM2-135M", layer, 384, 384)


def test_sae_stats_reports_the_embedded_sae(demo_ws, tiny_sae_dir, capsys):
    assert main(["-w", str(demo_ws.path), "sae-stats", "-f", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert Path(out["sae"]).resolve() == Path(tiny_sae_dir).resolve()
    assert out["which"].startswith("embedded")
    assert {"fve", "l0", "dead_fraction"} <= set(out)


# -- exports -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_sym_ws(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("demo-sym") / "ws")
    for f in ("tort-owl.ttl", "negligence-skos.ttl", "liability-kg.jsonld"):
        ws.load(ONTOLOGIES / f)
    return ws


def test_sssom_types_sources_and_dates_round_trip_through_sssom_py(demo_sym_ws, tmp_path):
    pytest.importorskip("sssom", reason="SSSOM CHECK SKIPPED: the 'sssom' package is not installed")
    from sssom.parsers import parse_sssom_table

    from kgalign.align.formats import write_sssom
    from kgalign.align.matcher import Matcher

    al = Matcher().match(demo_sym_ws, "tort-owl", "negligence-skos")
    p = write_sssom(al, tmp_path / "t.sssom.tsv", workspace=demo_sym_ws, mapping_date="2026-01-02")
    msdf = parse_sssom_table(p)
    df = msdf.df

    def expand(curies) -> set[str]:
        return {msdf.converter.expand(str(c)) for c in curies}

    assert len(df) == len(al) > 0
    assert set(df["object_type"].astype(str)) == {"skos concept"}
    assert set(df["subject_type"].astype(str)) <= {"owl class", "owl object property", "owl data property",
                                                   "owl named individual", "owl annotation property"}
    assert expand(df["subject_source"]) == {"https://example.org/tort/owl"}
    assert expand(df["object_source"]) == {"https://example.org/negligence/thesaurus/scheme"}
    assert {str(d)[:10] for d in df["mapping_date"]} == {"2026-01-02"}
    assert set(df["mapping_tool_version"].astype(str)) == {"0.1.0"}


def test_alignment_rdf_names_every_artefact_kind(demo_sym_ws, tmp_path):
    from kgalign.align.formats import read_alignment_rdf, write_alignment_rdf
    from kgalign.align.matcher import Matcher

    al = Matcher().match(demo_sym_ws, "negligence-skos", "liability-kg")
    back = read_alignment_rdf(write_alignment_rdf(al, tmp_path / "a.rdf", demo_sym_ws))
    assert back.source_ontology == "https://example.org/negligence/thesaurus/scheme"
    assert back.target_ontology == "urn:kgalign:graph:liability-kg"
    assert back.pairs() == al.pairs()


# -- rule bases --------------------------------------------------------------------------------


def test_swrl_and_n3_rules_are_symbols_and_variables_are_not(rules_ws):
    rules = {s.graph: [] for s in rules_ws.symbols(kind="rule")}
    for s in rules_ws.symbols(kind="rule"):
        rules[s.graph].append(s.label)
    assert sorted(rules["rules-swrl"]) == ["Negligence(?x) -> Breach(?x)", "a breached duty of care is negligence"]
    assert sorted(rules["rules"]) == ["DutyOfCare(?d) ^ owes(?x, ?d) -> DutyHolder(?x)",
                                      "Negligence(?x) ^ causes(?x, ?h) -> Liability(?x)"]
    iris = {s.iri for s in rules_ws.symbols()}
    assert TORT + "x" not in iris and TORT + "d" not in iris
    assert not any(i.startswith("urn:kgalign:var:") for i in iris)
    uses = {r["s"].value for r in rules_ws.sparql(f"SELECT ?s WHERE {{ <{TORT}breachRule> kga:usesSymbol ?s }}")}
    assert uses == {TORT + "owes", TORT + "DutyOfCare", TORT + "Breach", TORT + "Negligence"}


def test_rule_ids_are_stable_across_loads(tmp_path):
    a, b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    a.load(DATA / "rules.n3")
    b.load(DATA / "rules.n3")
    assert {s.iri for s in a.symbols(kind="rule")} == {s.iri for s in b.symbols(kind="rule")}


def test_dsl_asks_which_rules_use_a_symbol(rules_ws):
    from kgalign.query import run
    from kgalign.query.parser import parse
    from kgalign.query.printer import to_dsl

    q = "rules using Negligence in graph rules-swrl"
    assert parse(to_dsl(parse(q))) == parse(q)
    got = run(rules_ws, q)
    assert sorted(r.label for r in got.rows) == [
        "Negligence(?x) -> Breach(?x)", "Negligence(?x) ^ causes(?x, ?h) -> Liability(?x)",
        "a breached duty of care is negligence"]
    assert [r.label for r in run(rules_ws, "rules in graph rules using <https://example.org/tort#owes>").rows] == [
        "DutyOfCare(?d) ^ owes(?x, ?d) -> DutyHolder(?x)"]


def test_pruning_data_names_the_rules_a_symbol_is_used_by(rules_ws):
    from kgalign.symbolic.rules import rules_using

    used = rules_using(rules_ws, [TORT + "DutyOfCare", TORT + "Unused"])
    assert used[TORT + "Unused"] == []
    assert {(u["graph"], u["side"]) for u in used[TORT + "DutyOfCare"]} == {("rules-swrl", "body"), ("rules", "body")}


def test_n3_formula_outside_a_rule_is_refused_by_name(tmp_path):
    from kgalign.errors import LoadError

    bad = tmp_path / "bad.n3"
    bad.write_text("@prefix : <http://e/> .\n:a :says { :b :c :d } .\n")
    with pytest.raises(LoadError, match="bad.n3.*only supported as the body or head of a rule"):
        Workspace(tmp_path / "w").load(bad)


# -- SKOS --------------------------------------------------------------------------------------


def test_skos_notation_and_hidden_label_resolve_but_hidden_is_no_synonym(rules_ws, capsys):
    k1 = "https://example.org/thes/k1"
    assert [s.iri for s in rules_ws.resolve("K-12.3")] == [k1]
    assert [s.iri for s in rules_ws.resolve("duty of cair", "skos-notation")] == [k1]
    sym = rules_ws.symbol(k1)
    assert "duty of cair" not in sym.alt_labels and sym.hidden_labels == ("duty of cair",)
    assert sym.notations == ("K-12.3",)
    from kgalign.neural.probing import probe_contexts

    assert not any("cair" in c.text for c in probe_contexts(sym))
    assert main(["-w", str(rules_ws.path), "resolve", "K-12.4"]) == 0
    assert "negligence" in capsys.readouterr().out


# -- set-up -----------------------------------------------------------------------------------


def test_demo_says_whether_wordnet_was_found(monkeypatch, tmp_path):
    from kgalign.commands.demo import wordnet_status

    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path))
    assert "NOT found" in wordnet_status() and "wordnet-base" in wordnet_status()


def test_report_pruning_candidates_carry_the_rules_they_break(demo_ws):
    from kgalign.report.build import pruning_candidates

    got = pruning_candidates(demo_ws, demo_ws.space, [])
    assert got and all(c.breaks_rules == [] for c in got)  # the demo systems hold no rules
