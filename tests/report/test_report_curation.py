"""The report as a curator reads it: shared features without generic ones, pruning judged across graphs,
identical individuals as merge candidates, the behavioural figures in words, real plots (inline SVG and
files the Markdown links), links to IRIs and console pages, the exportable prune list."""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import re

import numpy as np
import pytest

from kgalign.report import build_report, to_html, to_markdown, write_report
from kgalign.report.curate import (
    CONFIDENT_MAPPING,
    FORM_KINDS,
    GENERIC_DENSITY,
    NEAR_IDENTICAL,
    FeatureKinds,
    judge,
    prune_tsv,
    shared_meaning,
)
from kgalign.report.model import MergeCandidate, PruningCandidate, SymbolRef

TWINS_A = """
@prefix a: <https://example.org/a#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
a:Person a owl:Class ; rdfs:label "Person" .
a:Court a owl:Class ; rdfs:label "Court" .
a:alice a owl:NamedIndividual, a:Person ; rdfs:label "Alice Smith" .
a:bob a owl:NamedIndividual, a:Person ; rdfs:label "Bob Jones" .
<javascript:alert(1)> a owl:Class ; rdfs:label "Evil link" .
"""
TWINS_B = """
@prefix b: <https://example.org/b#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
b:Human a owl:Class ; rdfs:label "Human" .
b:Tribunal a owl:Class ; rdfs:label "Tribunal" .
b:a_smith a owl:NamedIndividual, b:Human ; rdfs:label "alice  smith" .
b:carol a owl:NamedIndividual, b:Human ; rdfs:label "Carol White" .
"""


@pytest.fixture(scope="module")
def twins_ws(tmp_path_factory, tiny_sae_dir):
    from kgalign.api import Workspace

    root = tmp_path_factory.mktemp("twins")
    (root / "people-a.ttl").write_text(TWINS_A, encoding="utf-8")
    (root / "people-b.ttl").write_text(TWINS_B, encoding="utf-8")
    ws = Workspace.open(root / "ws")
    ws.load(root / "people-a.ttl")
    ws.load(root / "people-b.ttl")
    ws.config.sae = str(tiny_sae_dir)
    ws.save_config()
    ws.embed(quiet=True)
    return ws


@pytest.fixture(scope="module")
def twins_report(twins_ws):
    return build_report(twins_ws, alignments=[], behaviour=False)


@pytest.fixture(scope="module")
def demo_report(demo_ws, minilm):
    """The demo systems with the suite's tiny SAE, the matcher on every pair, four behavioural checks."""
    return build_report(demo_ws, behaviour=True, behaviour_options={"max_symbols": 4, "model": minilm})


# ------------------------------------------------------------------------------------ shared features


def test_shared_features_leave_out_generic_and_form_features(demo_report, demo_ws):
    kinds = FeatureKinds(demo_ws.space, demo_ws)
    shown = [f for m in demo_report.merge_candidates for f in m.shared_features]
    shown += [f for b in demo_report.bridges for f in b.shared_features]
    assert shown, "no shared features at all: nothing was tested"
    for f in shown:
        assert f.kind not in FORM_KINDS and (f.density is None or f.density <= GENERIC_DENSITY), f
        assert kinds.info(f.index) == (f.density, f.kind)


def test_a_feature_firing_on_a_third_of_all_tokens_is_not_shared_meaning(demo_report, demo_ws):
    """Make the top shared feature of a merge fire on a third of all tokens: it leaves the column."""
    space = demo_ws.space
    m = next(m for m in demo_report.merge_candidates if m.shared_features)
    a, b = (m.source_graph, m.source), (m.target_graph, m.target)
    top = m.shared_features[0].index
    density = np.array(space.stats.density, copy=True)
    density[top] = 0.33
    generic_space = dataclasses.replace(space.stats, density=density)
    original = space.stats
    try:
        space.stats = generic_space
        shared, hidden = shared_meaning(space, FeatureKinds(space, None), a, b)
    finally:
        space.stats = original
    assert top not in [f.index for f in shared]
    assert hidden >= m.hidden_features + 1
    assert FeatureKinds(space, None).info(top)[1] != "generic"  # the real density is back


def test_html_says_how_many_generic_features_were_hidden(demo_report):
    page = to_html(demo_report)
    hidden = sum(m.hidden_features for m in demo_report.merge_candidates)
    if hidden:
        assert "generic hidden" in page
    assert "say nothing about shared meaning" in page


# ------------------------------------------------------------------------------------------- pruning


def _candidate(**kw) -> PruningCandidate:
    base = dict(graph="g1", iri="https://example.org/g1#X", label="X", kind="class",
                reasons=["weak activation", "unstable support"], strength=0.1, stability=0.2, informativeness=0.1)
    return PruningCandidate(**{**base, **kw})


def _mapping(conf: float) -> MergeCandidate:
    return MergeCandidate("g1", "https://example.org/g1#X", "X", "g2", "https://example.org/g2#Y", "Y", "=",
                          "equivalent", conf)


def test_a_near_identical_counterpart_elsewhere_keeps_a_candidate():
    near = SymbolRef("g2", "https://example.org/g2#Y", "Y", NEAR_IDENTICAL + 0.01)
    kept = judge(_candidate(nearest_elsewhere=near), None)
    assert kept.kept_because and "near-identical" in kept.kept_because and kept.severity == "INFO"
    assert judge(_candidate(), _mapping(CONFIDENT_MAPPING)).kept_because.startswith("a confident mapping")
    weak_map = judge(_candidate(), _mapping(CONFIDENT_MAPPING - 0.2))
    assert not weak_map.kept_because and weak_map.severity == "INFO" and "review the mapping" in weak_map.action
    close = judge(_candidate(nearest_elsewhere=dataclasses.replace(near, score=0.85)), None)
    assert close.severity == "WARN" and close.action.startswith("merge with Y")
    dead = judge(_candidate(nearest_elsewhere=dataclasses.replace(near, score=0.3)), None)
    assert dead.severity == "ERROR" and dead.action.startswith("remove")
    assert judge(_candidate(reasons=["weak activation"]), None).severity == "WARN"


def test_no_pruning_candidate_of_the_demo_has_a_counterpart_at_cosine_095(demo_report):
    confident = {(k, m.confidence) for m in demo_report.merge_candidates
                 for k in ((m.source_graph, m.source), (m.target_graph, m.target))}
    for p in demo_report.pruning_candidates:
        assert p.nearest_elsewhere is None or (p.nearest_elsewhere.score or 0) < NEAR_IDENTICAL, p
        assert not any(k == (p.graph, p.iri) and c >= CONFIDENT_MAPPING for k, c in confident)
        assert p.severity in ("ERROR", "WARN", "INFO") and p.action
    for p in demo_report.kept:
        assert p.kept_because and not any(q.iri == p.iri and q.graph == p.graph for q in demo_report.pruning_candidates)
    on_map = {(pt.graph, pt.iri) for pt in demo_report.map.points if pt.pruning}
    assert on_map == {(p.graph, p.iri) for p in demo_report.pruning_candidates}


# --------------------------------------------------------------------------------------- individuals


def test_individuals_with_identical_labels_are_merge_candidates(twins_report):
    twins = [m for m in twins_report.merge_candidates if any(e.kind == "identical label" for e in m.evidence)]
    assert [(m.source, m.target) for m in twins] == [("https://example.org/a#alice", "https://example.org/b#a_smith")]
    assert twins[0].relation == "=" and twins[0].concept_similarity is not None
    assert not any({b.source, b.target} == {"https://example.org/a#alice", "https://example.org/b#a_smith"}
                   for b in twins_report.bridges)
    rows = [r for r in twins_report.prune_list if r.rule == "duplicate-individual"]
    assert len(rows) == 1 and rows[0].severity == "WARN" and "merge with" in rows[0].action


# ------------------------------------------------------------------------------------------ behaviour


def test_behavioural_figures_are_explained_in_words(demo_report):
    beh = demo_report.behaviour
    assert len(beh.checks) == 4
    assert beh.false_positive_rate is not None and 0 <= beh.false_positive_rate <= 1
    assert beh.p_value is not None and 0 < beh.p_value <= 1
    page = to_html(demo_report)
    words = re.search(r'<p id="behaviour-words">(.*?)</p>', page, re.S).group(1)
    n_passed = sum(c.passed for c in beh.checks)
    assert words.startswith(f"{n_passed} of 4 feature–symbol links passed")
    assert "false-positive rate" in words and f"{beh.false_positive_rate:.1%}" in words
    assert f"p = {beh.p_value:.3g}" in words and "not shown to matter" in words
    assert "false-positive rate" in to_markdown(demo_report)


# ---------------------------------------------------------------------------------------------- plots


def _svg(page: str, name: str) -> str:
    m = re.search(rf'<svg class="plot"[^>]*data-plot="{name}".*?</svg>', page, re.S)
    assert m, f"no {name} plot"
    return m.group(0)


def _texts(svg: str) -> list[str]:
    return [re.sub(r"\s+", " ", t).strip() for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg, re.S)]


def test_plots_have_axes_ticks_and_labels(demo_report):
    page = to_html(demo_report)
    cmap = _texts(_svg(page, "concept-map"))
    assert any(t.startswith("PC1 (") and "% of variance" in t for t in cmap)
    assert any(t.startswith("PC2 (") for t in cmap)
    assert sum(bool(re.fullmatch(r"[−-]?\d+(\.\d+)?", t)) for t in cmap) >= 6  # tick labels on both axes
    labelled = [p.label[:23] for p in demo_report.map.points if p.pruning]
    assert labelled and any(any(t.startswith(lab[:15]) for t in cmap) for lab in labelled)  # labels visible
    stab = _texts(_svg(page, "stability"))
    assert "symbols" in stab and any(t.startswith("support stability") for t in stab)
    beh = _texts(_svg(page, "behaviour"))
    assert any(t.startswith("z: effect") for t in beh)
    cov = _texts(_svg(page, "coverage"))
    assert any(t.startswith("SAE features loaded on") for t in cov)


def test_the_density_histogram_has_a_y_axis(report_for_density):
    page = to_html(report_for_density)
    texts = _texts(_svg(page, "density"))
    assert "features" in texts and any("log10" in t for t in texts)
    assert sum(bool(re.fullmatch(r"[−-]?\d+(\.\d+)?", t)) for t in texts) >= 4


@pytest.fixture(scope="module")
def report_for_density(demo_report):
    """The demo report with a density histogram (the suite's tiny SAE has no metrics.json)."""
    if demo_report.sae.density_histogram:
        return demo_report
    hist = {"log10_bin_edges": [-6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0], "counts": [3, 10, 40, 120, 60, 9]}
    r = dataclasses.replace(demo_report)
    r.sae = dataclasses.replace(demo_report.sae, density_histogram=hist)
    return r


def test_the_map_says_what_it_shows(demo_report):
    cm = demo_report.map
    assert cm.neighbour_overlap is not None and 0 <= cm.neighbour_overlap <= 1
    n = len(cm.points)
    assert cm.neighbour_overlap > 10 / n  # better than a random layout
    page = to_html(demo_report)
    assert f"{cm.explained[0]:.1%} and {cm.explained[1]:.1%} of the variance" in page
    assert "nearest neighbours in concept space" in page


def test_markdown_links_plot_files_and_prune_list(demo_report, demo_ws, tmp_path):
    paths = write_report(demo_ws, tmp_path, formats=("md", "html"), report=demo_report)
    md = paths["md"].read_text()
    for name in ("concept-map", "stability", "coverage", "behaviour"):
        png, svg = tmp_path / "plots" / f"{name}.png", tmp_path / "plots" / f"{name}.svg"
        assert f"](plots/{name}.png)" in md and f"](plots/{name}.svg)" in md
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "](prune.tsv)" in md and paths["prune"] == tmp_path / "prune.tsv"


# ---------------------------------------------------------------------------------------------- links


def test_symbols_and_features_link_to_iris_and_console_pages(twins_report, demo_report):
    page = to_html(demo_report)
    p = demo_report.pruning_candidates[0]
    from urllib.parse import quote

    assert f'href="/console#symbol={quote(p.iri, safe="")}&amp;graph={quote(p.graph, safe="")}"' in page
    if p.iri.startswith("http"):
        assert f'class="iri-link" href="{p.iri}"' in page
    f = next(f for m in demo_report.merge_candidates for f in m.shared_features)
    assert f'href="/console#feature={f.index}"' in page
    md = to_markdown(demo_report)
    assert f"(</console#symbol={quote(p.iri, safe='')}&graph={quote(p.graph, safe='')}>)" in md
    assert "](/console#feature=" in md
    other = to_html(demo_report, console_url="http://127.0.0.1:8765/console")
    assert 'href="http://127.0.0.1:8765/console#symbol=' in other
    from kgalign.report.render import _sym, iri_href

    assert iri_href("javascript:alert(1)") is None and iri_href(p.iri) in (p.iri, None)
    evil = _sym("Evil link", "people-a", "javascript:alert(1)")
    assert "Evil link" in evil and 'href="javascript:' not in evil  # only http(s) IRIs become links
    assert 'href="javascript:' not in to_html(twins_report)


# ------------------------------------------------------------------------------------------ prune list


def test_prune_list_is_exportable_with_severity_reason_and_action(demo_report, tmp_path):
    rows = demo_report.prune_list
    assert len(rows) >= len(demo_report.pruning_candidates) + len(demo_report.kept) > 0
    text = prune_tsv(rows)
    table = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    assert list(table[0]) == ["severity", "rule", "graph", "iri", "label", "reason", "action", "related_iri",
                              "related_label"]
    assert {r["severity"] for r in table} <= {"ERROR", "WARN", "INFO"}
    assert all(r["reason"] and r["action"] and r["iri"] for r in table)
    order = [{"ERROR": 0, "WARN": 1, "INFO": 2}[r["severity"]] for r in table
             if r["rule"] not in ("duplicate-individual", "kept-counterpart")]
    assert order == sorted(order)
    page = to_html(demo_report)
    href = re.search(r'id="prune-download" download="prune.tsv" href="data:text/tab-separated-values;'
                     r'charset=utf-8;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(href).decode("utf-8") == text
    assert "## Prune list" in to_markdown(demo_report)


def test_prune_tsv_keeps_one_row_per_line():
    from kgalign.report.model import PruneRow

    text = prune_tsv([PruneRow("WARN", "r", "g", "i", "a\tlabel\nwith breaks", "why", "do")])
    assert len(text.splitlines()) == 2 and text.splitlines()[1].split("\t")[4] == "a label with breaks"
