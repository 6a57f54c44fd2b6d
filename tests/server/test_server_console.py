"""The web console end to end in headless Chromium (Debian's chromium, driven by Playwright):
a SPARQL query, a symbol page, a feature page, a DSL query with a positioned error, the graph pages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from server_support import EMBEDDED_GRAPH

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(live):
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium): the web console is NOT tested")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install playwright): the web console is NOT tested"
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = browser.new_page()
        pg.set_default_timeout(20_000)
        problems: list[str] = []
        pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        pg.problems = problems  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _open(page, live, hash_: str) -> None:
    page.problems.clear()  # type: ignore[attr-defined]
    page.goto(f"{live.url}/{hash_}")
    page.wait_for_selector("body[data-ready]")


def test_sparql_query_then_symbol_then_feature_pages(page, live, http_ws):
    _open(page, live, "#/query?lang=sparql")
    assert "read-write" in page.get_by_test_id("status").inner_text()
    query = (f"SELECT ?c ?label WHERE {{ GRAPH <urn:kgalign:graph:{EMBEDDED_GRAPH}> "
             "{ ?c a skos:Concept ; skos:prefLabel ?label FILTER(lang(?label) = 'en' || lang(?label) = '') } } "
             "ORDER BY ?label LIMIT 5")
    page.get_by_test_id("query-input").fill(query)
    page.get_by_test_id("run-query").click()
    rows = page.locator("[data-testid=results-table] tbody tr")
    rows.first.wait_for()
    assert rows.count() == 5
    assert page.get_by_test_id("results-meta").inner_text().startswith("5 rows")
    first_iri = rows.first.locator("a.symbol-link").first.inner_text()
    expected = http_ws.symbol(first_iri, EMBEDDED_GRAPH)

    rows.first.locator("a.symbol-link").first.click()  # -> the symbol page
    page.get_by_test_id("symbol-label").wait_for()
    assert page.get_by_test_id("symbol-label").inner_text() == expected.label
    assert page.get_by_test_id("symbol-iri").inner_text() == expected.iri
    assert page.get_by_test_id("symbol-kind").inner_text() == "concept"
    features = page.locator("[data-testid=symbol-features] tbody tr")
    assert features.count() == min(16, len(http_ws.space.support_of((EMBEDDED_GRAPH, expected.iri))))
    assert page.locator("[data-testid=symbol-neighbours] tbody tr").count() == 10
    stability = page.get_by_test_id("symbol-stability").inner_text()
    assert float(stability) == pytest.approx(http_ws.space.stability((EMBEDDED_GRAPH, expected.iri)), abs=1e-3)

    link = page.locator("[data-testid=symbol-features] a[data-testid=feature-link]").first
    n = int(link.inner_text().lstrip("#"))
    link.click()  # -> the feature page
    page.get_by_test_id("feature-label").wait_for()
    assert page.get_by_test_id("feature-label").inner_text().startswith(f"#{n} · ")
    assert page.get_by_test_id("feature-density").inner_text() not in ("", "–")
    top = page.locator("[data-testid=feature-symbols] tbody tr")
    assert top.count() >= 1
    labels = top.locator("a.symbol-link").all_inner_texts()
    assert expected.label in labels or len(labels) == 15
    top.first.locator("a.symbol-link").click()  # and back to a symbol page
    page.get_by_test_id("symbol-label").wait_for()
    page.go_back()
    page.get_by_test_id("feature-label").wait_for()
    assert not page.problems, page.problems  # type: ignore[attr-defined]


def test_dsl_query_and_positioned_error(page, live):
    import importlib

    if getattr(importlib.import_module("kgalign.query"), "run", None) is None:
        pytest.skip("kgalign.query.run is not installed: the console shows the SPARQL box only")
    _open(page, live, "#/query?lang=dsl")
    page.get_by_test_id("query-input").fill("unstable symbols limit 5")
    page.get_by_test_id("run-query").click()
    rows = page.locator("[data-testid=results-table] tbody tr")
    rows.first.wait_for()
    assert 1 <= rows.count() <= 5
    assert rows.first.locator("a.symbol-link").count() >= 1
    page.get_by_test_id("query-input").fill("symbols simlar to Author")
    page.get_by_test_id("run-query").click()
    page.get_by_test_id("error").wait_for()
    assert "QuerySyntaxError" in page.get_by_test_id("error").inner_text()
    assert re.match(r"line 1, column \d+", page.get_by_test_id("error-position").inner_text())
    unexpected = [p for p in page.problems if "status of 400" not in p]  # type: ignore[attr-defined]
    assert not unexpected, unexpected


def test_graph_pages_and_report_link(page, live):
    _open(page, live, "#/graphs")
    page.get_by_test_id("graphs-table").wait_for()
    page.locator("[data-testid=graph-link]", has_text=re.compile(r"^cmt$")).click()
    page.get_by_test_id("symbols-table").wait_for()
    search = page.get_by_test_id("symbol-search")
    search.fill("review")
    search.press("Enter")
    page.wait_for_function("location.hash.includes('q=review')")
    page.locator("[data-testid=symbols-table] tbody tr").first.wait_for()
    labels = page.locator("[data-testid=symbols-table] tbody tr a.symbol-link").all_inner_texts()
    assert labels and all("review" in x.lower() for x in labels)
    assert page.get_by_test_id("nav-report").get_attribute("href") == "report"
    resp = page.request.get(f"{live.url}/report")
    assert resp.status in (200, 501)
    assert not page.problems, page.problems  # type: ignore[attr-defined]
