"""The pruning report on the demo ontologies: every section, the dead symbol, blind spots, the three
renderers, escaping of hostile labels, a self-contained page that headless Chromium opens cleanly, the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kgalign.errors import UsageError
from kgalign.report import SECTIONS, build_report, to_html, to_json, to_markdown, write_report
from kgalign.report.build import pca_2d, suggest_label
from kgalign.report.svg import esc

CHROMIUM = Path("/usr/bin/chromium")
DEAD = "https://example.org/tort/owl#MiscEntry17"
HOSTILE_LABEL = """<script>alert('pwned')</script> & "quoted" label"""
HOSTILE_ONTOLOGY = """
@prefix ex: <https://example.org/hostile#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
ex:Tort a owl:Class ; rdfs:label "Tort" ; skos:definition "A civil wrong causing harm." .
ex:Hostile a owl:Class ; rdfs:subClassOf ex:Tort ; rdfs:label "LABEL" ;
    skos:definition "A label with <b>markup</b> & an ampersand: </td></tr></table>." .
ex:Negligence a owl:Class ; rdfs:subClassOf ex:Tort ; rdfs:label "Negligence" ;
    skos:definition "Failure to take reasonable care." .
""".replace("LABEL", HOSTILE_LABEL.replace('"', '\\"'))


def _default_sae_present() -> bool:
    from kgalign.index.build import default_sae_dir

    return (default_sae_dir() / "cfg.json").is_file()


@pytest.fixture(scope="module")
def report_ws(request, tmp_path_factory, demo_files):
    """The three demo systems embedded with the shipped SAE; without it, the suite's shared tiny-SAE workspace."""
    if not _default_sae_present():
        return request.getfixturevalue("demo_ws")
    from kgalign.api import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("report-ws") / "ws")
    for f in demo_files:
        ws.load(f)
    ws.embed(quiet=True)
    return ws


@pytest.fixture(scope="module")
def report(report_ws, minilm):
    return build_report(report_ws, behaviour=True, behaviour_options={"max_symbols": 4, "model": minilm})


@pytest.fixture(scope="module")
def hostile_ws(request, tmp_path_factory):
    from kgalign.api import Workspace

    root = tmp_path_factory.mktemp("hostile")
    onto = root / "hostile.ttl"
    onto.write_text(HOSTILE_ONTOLOGY, encoding="utf-8")
    ws = Workspace.open(root / "ws")
    ws.load(onto)
    ws.config.sae = None if _default_sae_present() else str(request.getfixturevalue("tiny_sae_dir"))
    ws.save_config()
    ws.embed(quiet=True)
    assert any(s.label == HOSTILE_LABEL for s in ws.symbols())
    return ws


@pytest.fixture(scope="module")
def hostile_html(hostile_ws):
    return to_html(build_report(hostile_ws, alignments=[], behaviour=False))


# ------------------------------------------------------------------------------------------- content


def test_report_has_every_section(report, report_ws):
    for name in SECTIONS:
        assert getattr(report, name) is not None, name
    s = report.summary
    space = report_ws.space
    assert s.n_graphs == 3 and s.n_embedded == len(space.keys) and s.d_sae == space.d_sae
    assert {g.name for g in s.graphs} == set(report_ws.graph_names())
    assert s.n_merge_candidates == len(report.merge_candidates) > 0  # the matcher ran on every pair
    assert all(m.source_graph != m.target_graph and 0 <= m.confidence <= 1 for m in report.merge_candidates)
    for b in report.bridges:
        assert b.source_graph != b.target_graph and b.relation in {"=", "<", ">", "~"}
        pairs = {(m.source, m.target) for m in report.merge_candidates}
        assert (b.source, b.target) not in pairs and (b.target, b.source) not in pairs
    assert s.n_pruning_candidates == len(report.pruning_candidates) > 0
    assert all(p.reasons for p in report.pruning_candidates)
    assert len(report.map.points) == s.n_embedded and len(report.map.explained) == 2
    assert sum(sum(c) for c in report.stability.counts.values()) == s.n_embedded
    assert [g.name for g in report.coverage.graphs] == [g.name for g in s.graphs]
    assert len(report.coverage.overlaps) == 3
    assert report.behaviour.ran and len(report.behaviour.checks) == 4
    assert s.n_behavioural_checks == 4 and s.n_behavioural_passed == sum(c.passed for c in report.behaviour.checks)
    assert report.sae.d_sae == space.d_sae and report.sae.features_claimed == s.n_features_claimed


def test_the_dead_placeholder_symbol_is_a_pruning_candidate(report):
    if not _default_sae_present():
        pytest.xfail(
            "without the shipped SAE the suite's tiny SAE is used, and with it MiscEntry17 ('Misc Entry "
            "Seventeen') is not flagged: its strength is at the 14th percentile (cut: 5th), its stability at the "
            "67th, and its nearest symbol is not among the 5% most isolated"
        )
    flagged = {p.iri: p for p in report.pruning_candidates}
    assert DEAD in flagged, "MiscEntry17 is not among the pruning candidates"
    dead = flagged[DEAD]
    assert dead.reasons and not dead.mapped
    assert dead.nearest_elsewhere is not None and dead.nearest_elsewhere.graph != "tort-owl"


def test_the_dead_symbol_is_at_least_placed_and_reported_with_its_figures(report, report_ws):
    """Whatever the verdict, the placeholder is embedded and on the map, with no mapping to any graph."""
    assert report_ws.space.has(("tort-owl", DEAD))
    assert any(p.iri == DEAD for p in report.map.points)
    assert not any(DEAD in (m.source, m.target) for m in report.merge_candidates)


def test_at_least_one_blind_spot_with_evidence(report):
    assert report.summary.n_blind_spots == len(report.blind_spots) >= 1
    for b in report.blind_spots:
        assert 0 <= b.feature < report.summary.d_sae and b.density > 0 and b.mean_activation > 0
    assert any(b.snippets for b in report.blind_spots)
    assert any(b.suggested_label for b in report.blind_spots)


def test_suggested_label_prefers_a_recurring_phrase():
    snips = [{"text": "the occupiers' liability act", "word": "occupiers'", "activation": 2.0},
             {"text": "occupiers' liability again", "word": "occupiers'", "activation": 1.0}]
    assert suggest_label(snips) == "Occupiers' liability"
    assert suggest_label([{"text": ", and", "word": ",", "activation": 1.0}]) == ""


def test_pca_map_is_deterministic_and_finds_the_main_axis():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(50, 1))
    x = np.abs(np.hstack([t * 3, t * 2, rng.normal(size=(50, 6)) * 0.01]) + 5)
    a, ex = pca_2d(x)
    b, _ = pca_2d(x)
    assert np.array_equal(a, b) and a.shape == (50, 2)
    assert ex[0] > 0.9 and ex[0] >= ex[1]


# ----------------------------------------------------------------------------------------- renderers


def test_json_parses_and_carries_every_section(report):
    data = json.loads(to_json(report))
    for name in SECTIONS:
        assert name in data
    assert data["format"] == "kgalign-report/1"
    assert data["summary"]["n_embedded"] == report.summary.n_embedded
    check = data["behaviour"]["checks"][0]
    assert {"key", "feature", "effect", "control_mean", "control_std", "z", "passed", "n_controls", "mode"} <= set(check)


def test_markdown_has_every_section(report):
    text = to_markdown(report)
    for heading in ("## Summary", "## Merge candidates", "## Bridges", "## Pruning candidates", "## Blind spots",
                    "## Unstable symbols", "## Feature coverage", "## Behavioural checks", "## SAE quality"):
        assert heading in text


def _external_refs(page: str) -> list[str]:
    """What the page would load (links a reader follows, <a href>, load nothing)."""
    page = re.sub(r"<a\b[^>]*>", "<a>", page, flags=re.I)
    refs = re.findall(r"""\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?([^"'\s>]+)""", page, re.I)
    refs += re.findall(r"url\(\s*['\"]?([^)'\"]+)", page, re.I)
    refs += re.findall(r"@import\s+['\"]?([^'\";\s]+)", page, re.I)
    return [r for r in refs if not r.startswith("#")]


def test_html_is_self_contained(report):
    page = to_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert _external_refs(page) == []
    assert not re.search(r"""<(?:link|iframe|img|object|embed)\b""", page, re.I)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count("<svg") >= 3 and page.count("<script>") == 1
    for sid in ("summary", "map", "merge", "bridges", "pruning", "blind", "unstable", "coverage", "stability",
                "behaviour", "sae"):
        assert f'id="{sid}"' in page


def test_html_escapes_a_hostile_label(hostile_html, hostile_ws):
    svgs = re.findall(r"<svg\b.*?</svg>", hostile_html, re.S)
    outside = re.sub(r"<svg\b.*?</svg>", "", hostile_html, flags=re.S)
    assert "alert('pwned')" not in outside
    # matplotlib's SVG text is XML-escaped: the label is shown, inert
    assert all("<script" not in svg for svg in svgs)
    assert any("&lt;script&gt;alert('pwned')" in svg for svg in svgs)
    assert "<b>markup</b>" not in hostile_html
    assert esc(HOSTILE_LABEL) in hostile_html  # shown, as text
    assert hostile_html.count("<script>") == 1  # only the page's own table sorter
    assert _external_refs(hostile_html) == []
    md = to_markdown(build_report(hostile_ws, alignments=[], behaviour=False))
    assert "<script>" not in md and "&lt;script&gt;" in md


# -------------------------------------------------------------------------------------- in a browser


def _chromium(url: str) -> tuple[str, str]:
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", "--dump-dom", url],
        capture_output=True, text=True, timeout=90,
    )
    return proc.stdout, proc.stderr


def _console_errors(stderr: str) -> list[str]:
    return [
        line for line in stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line or "Content Security Policy" in line
    ]


def test_html_opens_in_headless_chromium_without_console_errors(hostile_html, report, tmp_path):
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"SKIPPED LOUDLY: no Chromium binary at {CHROMIUM} to open the report in "
                    "(apt-get install -y chromium)")
    # The detector itself: a page with a script error must be caught.
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    _, err = _chromium(broken.as_uri())
    assert _console_errors(err), "the console-error detector missed a deliberate error:\n" + err[-2000:]

    for name, page in (("demo", to_html(report)), ("hostile", hostile_html)):
        path = tmp_path / f"{name}.html"
        path.write_text(page, encoding="utf-8")
        dom, err = _chromium(path.as_uri())
        assert _console_errors(err) == [], f"{name}: console errors:\n" + "\n".join(_console_errors(err))
        assert "kgalign pruning report" in dom and "<svg" in dom
        assert 'data-tables="sortable"' in dom, f"{name}: the inline script did not run to its end"
        assert "<script>alert" not in dom


# ------------------------------------------------------------------------------------ files and CLI


def test_write_report_writes_each_format(report, report_ws, tmp_path):
    paths = write_report(report_ws, tmp_path / "out", formats=("json", "md", "html"), report=report)
    assert set(paths) == {"json", "md", "html", "prune", "plots"}  # + prune.tsv and the plots the md links
    assert paths["prune"].read_text().startswith("severity\trule\t")
    assert json.loads(paths["json"].read_text())["summary"]["n_graphs"] == 3
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(UsageError, match="known formats: html, json, md"):
        write_report(report_ws, tmp_path / "x", formats=("pdf",), report=report)


def test_cli_report_prints_where_each_file_went(hostile_ws, tmp_path, capsys):
    from kgalign.cli import main

    out = tmp_path / "cli"
    rc = main(["-w", str(hostile_ws.path), "report", "-o", str(out), "--format", "json", "md", "--no-behaviour"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert f"report (json): {out / 'report.json'}" in printed and f"report (md): {out / 'report.md'}" in printed
    data = json.loads((out / "report.json").read_text())
    assert data["behaviour"]["ran"] is False and not (out / "report.html").exists()
