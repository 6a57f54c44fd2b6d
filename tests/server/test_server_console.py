"""The web console end to end in headless Chromium (Debian's chromium, driven by Playwright):
a SPARQL query, a symbol page, a feature page, a DSL query with a positioned error, the graph pages;
the vendored SPARQL editor (YASQE) offline under the strict CSP, the DSL editor's highlighting and
completion, result downloads, query history, examples built from the workspace, the report's links."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from server_support import EMBEDDED_GRAPH, ONTOLOGIES

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
        pg = browser.new_page(accept_downloads=True)
        pg.set_default_timeout(20_000)
        # Content-Security-Policy violations, as the page itself sees them
        pg.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                           "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
        problems: list[str] = []
        pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        pg.problems = problems  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _open(page, live, hash_: str, path: str = "") -> None:
    page.problems.clear()  # type: ignore[attr-defined]
    page.goto(f"{live.url}/{path}{hash_}")
    page.wait_for_selector("body[data-ready]")
    if "query" in hash_ or not hash_:
        page.wait_for_selector("[data-editor]")


def _set_query(page, text: str) -> None:
    """Put text in the editor (YASQE, CodeMirror or the plain textarea) as a paste would."""
    page.evaluate("t => window.kgaConsole.editor.set(t)", text)


def test_sparql_query_then_symbol_then_feature_pages(page, live, http_ws):
    _open(page, live, "#/query?lang=sparql")
    assert "read-write" in page.get_by_test_id("status").inner_text()
    query = (f"SELECT ?c ?label WHERE {{ GRAPH <urn:kgalign:graph:{EMBEDDED_GRAPH}> "
             "{ ?c a skos:Concept ; skos:prefLabel ?label FILTER(lang(?label) = 'en' || lang(?label) = '') } } "
             "ORDER BY ?label LIMIT 5")
    assert page.get_by_test_id("query-editor").get_attribute("data-editor") == "yasqe"
    _set_query(page, query)
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
    _set_query(page, "unstable symbols limit 5")
    page.get_by_test_id("run-query").click()
    rows = page.locator("[data-testid=results-table] tbody tr")
    rows.first.wait_for()
    assert rows.count() == 5  # the demo has far more than 5 symbols: the limit, exactly
    assert rows.first.locator("a.symbol-link").count() >= 1
    _set_query(page, "symbols simlar to Author")
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
    resp = page.request.get(f"{live.url}/report", timeout=180_000)  # built on first request: slow on a loaded machine
    assert resp.status in (200, 501)
    assert not page.problems, page.problems  # type: ignore[attr-defined]


# -- the editors, downloads, history, examples ---------------------------------------------------------

CMT = "urn:kgalign:graph:cmt"


def _dsl_installed() -> bool:
    import importlib

    return getattr(importlib.import_module("kgalign.query"), "run", None) is not None


def _run_and_wait(page) -> None:
    page.get_by_test_id("run-query").click()
    page.locator("[data-testid=results-meta]").wait_for()


def test_sparql_editor_is_the_vendored_yasqe_offline_under_the_strict_csp(page, live):
    from kgalign.server.app import CONSOLE_CSP

    requests: list[str] = []

    def record(r) -> None:
        requests.append(r.url)

    page.on("request", record)
    try:
        _open(page, live, "#/query?lang=sparql", path="console")
        assert page.get_by_test_id("query-editor").get_attribute("data-editor") == "yasqe"
        assert page.evaluate("typeof window.Yasqe") == "function"
        _set_query(page, f"SELECT ?c WHERE {{ GRAPH <{CMT}> {{ ?c a owl:Class FILTER(isIRI(?c)) }} }} LIMIT 3")
        keywords = page.locator(".yasqe .cm-keyword").all_inner_texts()
        assert {"SELECT", "WHERE", "GRAPH", "FILTER", "LIMIT"} <= set(keywords)  # highlighted by YASQE
        page.wait_for_timeout(200)
        assert page.evaluate("window.kgaConsole.editor.cm.queryValid") is True  # owl: is declared by the server
        _run_and_wait(page)
        assert page.locator("[data-testid=results-table] tbody tr").count() == 3
    finally:
        page.remove_listener("request", record)
    offsite = [u for u in requests if not u.startswith((live.url, "data:", "blob:"))]
    assert offsite == [], offsite
    assert any(u.endswith("/static/vendor/yasqe/yasqe.min.js") for u in requests)
    assert page.evaluate("window.__csp") == []
    resp = page.request.get(f"{live.url}/console")
    assert resp.headers["content-security-policy"] == CONSOLE_CSP
    assert "unsafe" not in CONSOLE_CSP and "script-src 'self'" in CONSOLE_CSP and "style-src 'self'" in CONSOLE_CSP
    assert not page.problems, page.problems  # type: ignore[attr-defined]


def test_sparql_editor_completes_prefixes_and_classes_from_the_workspace(page, live):
    _open(page, live, "#/query?lang=sparql")
    _set_query(page, "")
    page.locator(".yasqe .CodeMirror").click()
    page.keyboard.type("PREFIX cm")
    hints = page.locator(".CodeMirror-hints li")
    hints.first.wait_for()
    assert "cmt: <http://cmt#>" in hints.all_inner_texts()
    page.keyboard.press("Escape")
    _set_query(page, "SELECT * WHERE {\n  ?x a ")
    page.evaluate("window.kgaConsole.editor.cm.setCursor({line: 1, ch: 9})")
    page.keyboard.type("<http://cmt#Autho")
    hints.first.wait_for()
    assert "<http://cmt#Author>" in hints.all_inner_texts()
    page.keyboard.press("Enter")
    assert "?x a <http://cmt#Author>" in page.evaluate("window.kgaConsole.editor.get()")
    assert not page.problems, page.problems  # type: ignore[attr-defined]


def test_dsl_editor_highlights_and_completes(page, live):
    _open(page, live, "#/query?lang=dsl")
    assert page.get_by_test_id("query-editor").get_attribute("data-editor") == "codemirror"
    _set_query(page, 'symbols similar to Author in graph cmt limit 5 # a comment')
    keywords = set(page.locator(".dsl-editor .cm-keyword").all_inner_texts())
    assert {"symbols", "similar", "to", "in", "graph", "limit"} <= keywords
    assert page.locator(".dsl-editor .cm-def").all_inner_texts() == ["cmt"]  # a graph name
    assert "Author" in page.locator(".dsl-editor .cm-variable").all_inner_texts()  # a symbol name
    assert page.locator(".dsl-editor .cm-number").all_inner_texts() == ["5"]
    assert page.locator(".dsl-editor .cm-comment").count() == 1

    _set_query(page, "")
    page.locator(".dsl-editor").click()
    page.keyboard.type("symbols simi")
    _pick_first_hint(page, "similar")
    page.keyboard.type(" to Autho")
    _pick_first_hint(page, "Author")
    page.keyboard.type(" in graph con")
    page.wait_for_function("[...document.querySelectorAll('.CodeMirror-hints li')]"
                           ".some(li => li.textContent.startsWith('confOf'))")
    page.keyboard.press("Escape")
    assert page.evaluate("window.kgaConsole.editor.get()") == "symbols similar to Author in graph con"
    assert not page.problems, page.problems  # type: ignore[attr-defined]


def _pick_first_hint(page, expected: str) -> None:
    """Enter on the completion list once it is the list for the word now under the cursor.

    CodeMirror refreshes the list on the next animation frame after a keystroke: until then the
    widget may still show the list for a shorter prefix, whose range ends before the cursor (on a
    loaded machine Enter then picks from that stale list). Wait for a list whose range ends at the
    cursor, then check that Enter put ``expected`` before the cursor.
    """
    page.wait_for_function(
        """(expected) => {
          const cm = window.kgaConsole.editor.cm, c = cm.state.completionActive;
          const first = document.querySelector('.CodeMirror-hints li');
          return !!(c && c.widget && c.data && first && c.data.to.ch === cm.getCursor().ch
                    && c.data.to.line === cm.getCursor().line && first.textContent.startsWith(expected));
        }""", arg=expected)
    page.keyboard.press("Enter")
    page.wait_for_function(
        """(expected) => {
          const cm = window.kgaConsole.editor.cm, cur = cm.getCursor();
          return cm.getLine(cur.line).slice(0, cur.ch).endsWith(expected);
        }""", arg=expected)


def _download(page, testid: str) -> str:
    with page.expect_download() as info:
        page.get_by_test_id(testid).click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def test_results_download_as_csv_tsv_and_json(page, live):
    import csv
    import io
    import json

    _open(page, live, "#/query?lang=sparql")
    _set_query(page, f"SELECT ?c WHERE {{ GRAPH <{CMT}> {{ ?c a owl:Class FILTER(isIRI(?c)) }} }} ORDER BY ?c LIMIT 4")
    _run_and_wait(page)
    shown = page.locator("[data-testid=results-table] tbody tr a.symbol-link").all_inner_texts()
    rows = list(csv.reader(io.StringIO(_download(page, "download-csv"))))
    assert rows[0] == ["c"] and [r[0] for r in rows[1:]] == shown
    tsv = _download(page, "download-tsv").strip().splitlines()
    assert tsv[0] == "?c" and [x.strip("<>") for x in tsv[1:]] == shown
    data = json.loads(_download(page, "download-json"))
    assert [b["c"]["value"] for b in data["results"]["bindings"]] == shown

    if not _dsl_installed():
        return
    _open(page, live, "#/query?lang=dsl")
    _set_query(page, "unstable symbols limit 3")
    _run_and_wait(page)
    header = page.locator("[data-testid=results-table] thead th").all_inner_texts()
    n = page.locator("[data-testid=results-table] tbody tr").count()
    text = _download(page, "download-csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == header and len(rows) == n + 1, text[:600]
    tsv = _download(page, "download-tsv").splitlines()
    assert tsv[0].split("\t") == header and len(tsv) == n + 1
    assert len(json.loads(_download(page, "download-json"))["rows"]) == n
    assert not page.problems, page.problems  # type: ignore[attr-defined]


def test_query_history_is_kept_in_local_storage(page, live):
    _open(page, live, "#/query?lang=sparql")
    page.evaluate("localStorage.removeItem('kgalign.console.history')")
    first = "ASK { ?s a owl:Class }"
    second = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{CMT}> {{ ?s ?p ?o }} }}"
    for q in (first, second, "SELECT * WHERE {"):
        _set_query(page, q)
        page.get_by_test_id("run-query").click()
        page.wait_for_function("(q) => (JSON.parse(localStorage.getItem('kgalign.console.history') || '[]')[0] || {}).q"
                               " === q", arg=q)
    _open(page, live, "#/query?lang=sparql")  # a new visit: the history is still there
    history = page.get_by_test_id("history")
    assert "history (3)" in history.locator("summary").inner_text()
    history.locator("summary").click()
    items = page.get_by_test_id("history-item")
    assert items.all_inner_texts() == ["SELECT * WHERE {", second, first]
    assert "failed" in history.locator("li").first.inner_text()
    items.nth(2).click()  # load the oldest back into the editor
    page.wait_for_function("(q) => window.kgaConsole && window.kgaConsole.editor.get() === q", arg=first)
    page.get_by_test_id("history").locator("summary").click()
    page.get_by_test_id("history-clear").click()
    page.wait_for_function("localStorage.getItem('kgalign.console.history') === null")
    unexpected = [p for p in page.problems if "status of 400" not in p]  # type: ignore[attr-defined]
    assert not unexpected, unexpected


def test_examples_are_built_from_the_workspace_and_each_runs(page, live, http_ws):
    with live.client() as c:
        ex = c.get("/console/examples").json()
        assert ex["sparql"] and (ex["dsl"] or not _dsl_installed())
        graphs = set(http_ws.graph_names())
        for name, q in ex["sparql"]:
            r = c.post("/sparql", data={"query": q}, headers={"Accept": "application/sparql-results+json"})
            assert r.status_code == 200, (name, q, r.text)
        for name, q in ex["dsl"]:
            r = c.post("/query", json={"query": q})
            assert r.status_code == 200, (name, q, r.text)
            if q.startswith(("align", "bridges")):
                named = re.findall(r"(?:align|with|between|and) (\S+)", q)
                assert set(named) <= graphs, (q, graphs)
    _open(page, live, "#/query?lang=sparql")
    links = page.get_by_test_id("example")
    assert links.all_inner_texts() == [name for name, _ in ex["sparql"]]
    links.nth(1).click()
    page.locator("[data-testid=results-table] tbody tr").first.wait_for()
    assert page.evaluate("window.kgaConsole.editor.get()") == ex["sparql"][1][1]
    assert not page.problems, page.problems  # type: ignore[attr-defined]


def test_examples_follow_what_is_loaded(tmp_path):
    """One unembedded graph: no example that needs an embedding or two graphs; the SPARQL ones run."""
    from kgalign.api import Workspace
    from kgalign.server.console import examples

    ws = Workspace.open(tmp_path / "ws")
    ws.load(ONTOLOGIES / "tort-owl.ttl")
    ex = examples(ws)
    assert ex["dsl"] == []  # nothing embedded, one graph: no DSL example would run
    assert any("urn:kgalign:graph:tort-owl" in q for _, q in ex["sparql"])
    for _, q in ex["sparql"]:
        assert len(list(ws.sparql(q))) >= 1


def test_completions_list_keywords_graphs_symbols_and_prefixes(live, http_ws):
    with live.client() as c:
        comp = c.get("/console/completions").json()
    assert {"symbols", "similar", "align", "limit"} <= set(comp["keywords"])
    assert {"cmt", "confOf"} <= set(comp["graphs"])
    assert any(s["name"] == "Author" and s["graph"] == "cmt" for s in comp["symbols"])
    assert comp["prefixes"]["owl"] == "http://www.w3.org/2002/07/owl#" and comp["prefixes"]["cmt"] == "http://cmt#"
    # kga: functions run inside the embedded store only (a remote one refuses them): offered there only
    assert ("kga:similarity" in comp["functions"]) == http_ws.store.capabilities.supports_extension_functions


# -- the report's links ----------------------------------------------------------------------------------


def test_console_hash_links_of_the_report_open_symbol_and_feature_pages(page, live, http_ws, tmp_path):
    from kgalign.report import build_report, to_html

    report = build_report(http_ws, alignments=[], behaviour=False)
    path = tmp_path / "report.html"
    path.write_text(to_html(report, console_url=f"{live.url}/console"), encoding="utf-8")
    page.problems.clear()  # type: ignore[attr-defined]
    page.goto(path.as_uri())
    link = page.locator("#pruning a.sym").first
    iri, label = link.get_attribute("data-iri"), link.inner_text()
    link.click()
    page.get_by_test_id("symbol-iri").wait_for()
    assert page.url.startswith(f"{live.url}/console#symbol=")
    assert page.get_by_test_id("symbol-iri").inner_text() == iri
    assert page.get_by_test_id("symbol-label").inner_text() == label

    page.goto(path.as_uri())
    feat = page.locator("#pruning a.feat").first
    n = feat.get_attribute("data-feature")
    feat.click()
    page.get_by_test_id("feature-label").wait_for()
    assert page.get_by_test_id("feature-label").inner_text().startswith(f"#{n} · ")
    assert not page.problems, page.problems  # type: ignore[attr-defined]
