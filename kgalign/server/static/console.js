/* kgalign web console: plain JavaScript over the HTTP API (no build step). The one dependency is
 * @zazuko/yasqe (the YASGUI SPARQL editor, with CodeMirror 5 inside it), vendored in static/vendor/.
 *
 * Pages are hash routes, so every view is a link:
 *   #/query?lang=sparql&q=...        query editor (YASQE for SPARQL, CodeMirror for the DSL), results,
 *                                    downloads (CSV/TSV/JSON), history (localStorage), examples from the server
 *   #symbol=IRI&graph=G, #feature=N  the report's links (same pages as below)
 *   #/graphs, #/graph/NAME           artefacts and their symbols
 *   #/symbol?iri=...&graph=...       a symbol page (labels, hierarchy, features, neighbours, mappings)
 *   #/features, #/feature/N          the feature dashboard
 * Every text from the server is inserted as text (never as HTML).
 */
"use strict";

const state = { status: null };

// -- DOM helpers -----------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "testid") el.setAttribute("data-testid", v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined) return "–";
  if (typeof x === "number") {
    if (Number.isInteger(x)) return String(x);
    if (Math.abs(x) < 0.001 && x !== 0) return x.toExponential(2);
    return x.toFixed(digits);
  }
  return String(x);
}

function bar(value, max, cls) {
  const pct = max > 0 ? Math.max(0, Math.min(100, (100 * value) / max)) : 0;
  const fill = h("span", {});
  fill.style.width = `${pct.toFixed(1)}%`; // CSSOM, not a style attribute: the CSP forbids inline styles
  return h("div", { class: "barcell" }, h("div", { class: "bar " + (cls || "") }, fill),
    h("span", { class: "mono" }, fmt(value)));
}

function symbolHref(iri, graph) {
  const p = new URLSearchParams({ iri });
  if (graph) p.set("graph", graph);
  return "#/symbol?" + p.toString();
}

function symbolLink(iri, label, graph) {
  return h("a", { href: symbolHref(iri, graph), title: iri, class: "symbol-link" }, label || iri);
}

function table(columns, rows, cell, testid) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.label || c.key)));
  const body = rows.map((r) => h("tr", {}, columns.map((c) =>
    h("td", { class: c.num ? "num" : null }, cell ? cell(c, r) : fmt(r[c.key])))));
  return h("div", { class: "table-wrap" }, h("table", { testid }, h("thead", {}, head), h("tbody", {}, body)));
}

function showError(target, err) {
  const box = h("div", { class: "error", testid: "error" });
  const body = err && err.body;
  if (body && body.error) {
    box.append(h("strong", {}, body.error + ": "), body.message || "");
    if (body.line) box.append(h("div", { class: "meta", testid: "error-position" }, `line ${body.line}, column ${body.column}`));
    if (body.context) box.append(h("pre", {}, body.context));
    if (body.suggestions && body.suggestions.length) box.append(h("div", {}, "did you mean: " + body.suggestions.join(", ")));
    if (body.expected && body.expected.length) box.append(h("div", { class: "meta" }, "expected: " + body.expected.slice(0, 12).join(", ")));
  } else {
    box.append(String(err && err.message ? err.message : err));
  }
  target.append(box);
  return box;
}

// -- the API ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, options = {}) {
  const resp = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, typeof body === "object" ? body : { message: body });
  return body;
}

// -- router ----------------------------------------------------------------------------------------

const routes = [
  [/^\/?$/, () => viewQuery()],
  [/^\/query$/, () => viewQuery()],
  [/^\/graphs$/, () => viewGraphs()],
  [/^\/graph\/(.+)$/, (m) => viewGraph(decodeURIComponent(m[1]))],
  [/^\/symbol$/, () => viewSymbol()],
  [/^\/features$/, () => viewFeatures()],
  [/^\/feature\/(\d+)$/, (m) => viewFeature(Number(m[1]))],
];

function currentRoute() {
  let raw = location.hash.replace(/^#/, "") || "/query";
  // the report's links: #symbol=IRI&graph=G and #feature=N
  if (!raw.startsWith("/")) {
    const p = new URLSearchParams(raw);
    if (p.get("symbol")) {
      const q = new URLSearchParams({ iri: p.get("symbol") });
      if (p.get("graph")) q.set("graph", p.get("graph"));
      raw = "/symbol?" + q.toString();
    } else if (/^\d+$/.test(p.get("feature") || "")) raw = "/feature/" + p.get("feature");
  }
  const [path, query] = raw.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

async function render() {
  const view = document.getElementById("view");
  view.replaceChildren(h("div", { class: "loading" }, "loading…"));
  const { path } = currentRoute();
  for (const a of document.querySelectorAll(".top nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === "#" + path.split("/").slice(0, 2).join("/"));
  }
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      try {
        const content = await fn(m);
        view.replaceChildren(...[content].flat());
      } catch (err) {
        view.replaceChildren();
        showError(view, err);
      }
      return;
    }
  }
  view.replaceChildren(h("p", {}, "No such page. "), h("a", { href: "#/query" }, "Back to the query box"));
}

// -- query -----------------------------------------------------------------------------------------

// Examples come from the server (GET console/examples), built from the graphs and symbols loaded.
const FALLBACK_EXAMPLES = {
  sparql: [["graphs", "SELECT ?g (COUNT(*) AS ?triples) WHERE {\n  GRAPH ?g { ?s ?p ?o }\n} GROUP BY ?g ORDER BY DESC(?triples)"]],
  dsl: [["unstable", "unstable symbols limit 20"]],
};

async function loadOnce(key, path) {
  if (!state[key]) state[key] = api(path).catch(() => null);
  return state[key];
}

// -- query history (localStorage) -------------------------------------------------------------------

const HISTORY_KEY = "kgalign.console.history";
const HISTORY_MAX = 50;

function readHistory() {
  try {
    const items = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(items) ? items.filter((x) => x && typeof x.q === "string") : [];
  } catch (e) {
    return [];
  }
}

function remember(entry) {
  const items = readHistory().filter((x) => !(x.q === entry.q && x.lang === entry.lang));
  items.unshift(entry);
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(items.slice(0, HISTORY_MAX)));
  } catch (e) { /* storage full or disabled: history is a convenience */ }
}

// -- downloads ----------------------------------------------------------------------------------------

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function delimited(columns, rows, sep) {
  const cell = (v) => {
    let s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    if (sep === "\t") return s.replace(/[\t\r\n]+/g, " ");
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  return [columns.map(cell).join(sep), ...rows.map((r) => columns.map((c) => cell(r[c])).join(sep))].join("\r\n") + "\r\n";
}

function downloadBar(lang, text, data) {
  const bar = h("div", { class: "downloads", testid: "downloads" }, "download: ");
  const add = (label, fn) => bar.append(h("button", { class: "plain", testid: "download-" + label.toLowerCase(), onclick: fn }, label));
  if (lang === "sparql") {
    const fetchAs = async (fmt, name) => {
      const resp = await fetch("sparql", { method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ query: text, format: fmt }) });
      download(name, resp.headers.get("content-type") || "text/plain", await resp.text());
    };
    if (typeof data === "string") add("Turtle", () => fetchAs("turtle", "results.ttl"));
    else {
      add("CSV", () => fetchAs("csv", "results.csv"));
      add("TSV", () => fetchAs("tsv", "results.tsv"));
      add("JSON", () => fetchAs("json", "results.json"));
    }
  } else {
    const cols = data.columns || [];
    const rows = data.rows || [];
    add("CSV", () => download("results.csv", "text/csv", delimited(cols, rows, ",")));
    add("TSV", () => download("results.tsv", "text/tab-separated-values", delimited(cols, rows, "\t")));
    add("JSON", () => download("results.json", "application/json", JSON.stringify(data, null, 2)));
  }
  return bar;
}

// -- editors ------------------------------------------------------------------------------------------

// The DSL's highlighting: keywords, numbers, strings, IRIs, CURIEs, known graph and symbol names, and
// SPARQL groups in braces (kept as one token so their content is not read as DSL).
function defineDslMode(CM, comp) {
  const keywords = new Set((comp && comp.keywords) || []);
  const graphs = new Set((comp && comp.graphs) || []);
  const names = new Set();
  for (const s of (comp && comp.symbols) || []) { if (s.name) names.add(s.name.toLowerCase()); }
  CM.defineMode("kgalign-dsl", () => ({
    startState: () => ({ depth: 0 }),
    token(stream, st) {
      if (st.depth > 0) {
        while (!stream.eol()) {
          const ch = stream.next();
          if (ch === "{") st.depth++;
          else if (ch === "}" && --st.depth === 0) break;
        }
        return "meta";
      }
      if (stream.eatSpace()) return null;
      if (stream.match("#")) { stream.skipToEnd(); return "comment"; }
      if (stream.peek() === "{") { stream.next(); st.depth = 1; return "meta"; }
      if (stream.match(/^"(?:[^"\\]|\\.)*"?/) || stream.match(/^'(?:[^'\\]|\\.)*'?/)) return "string";
      if (stream.match(/^<[^<>"{}|^`\\\s]*>/)) return "link";
      if (stream.match(/^-?\d+(\.\d+)?/)) return "number";
      if (stream.match(/^(>=|<=|!=|[<>=,;()])/)) return "operator";
      const m = stream.match(/^(?:[^\W\d](?:[\w.-]*[\w-])?)?:[\w%.:-]*/);
      if (m) return "variable-2";
      const w = stream.match(/^[^\W\d](?:[\w-]*\w)?/);
      if (w) {
        const word = w[0];
        if (keywords.has(word.toLowerCase())) return "keyword";
        if (graphs.has(word)) return "def";
        if (names.has(word.toLowerCase())) return "variable";
        return null;
      }
      stream.next();
      return null;
    },
  }));
}

function dslHint(comp) {
  return (cm) => {
    const cur = cm.getCursor();
    const line = cm.getLine(cur.line);
    let start = cur.ch;
    while (start > 0 && /[\w-]/.test(line.charAt(start - 1))) start--;
    const word = line.slice(start, cur.ch).toLowerCase();
    const list = [];
    const seen = new Set();
    const push = (text, displayText, className) => {
      if (seen.has(text) || list.length >= 60) return;
      seen.add(text);
      list.push({ text, displayText, className });
    };
    for (const k of comp.keywords || []) if (k.startsWith(word)) push(k, k, "hint-keyword");
    for (const g of comp.graphs || []) if (g.toLowerCase().startsWith(word)) push(g, g + "  · graph", "hint-graph");
    if (word.length >= 1) {
      for (const s of comp.symbols || []) {
        const n = s.name || "";
        if (n && /^[^\W\d](?:[\w-]*\w)?$/.test(n) && (n.toLowerCase().startsWith(word) || (s.label || "").toLowerCase().startsWith(word))) {
          push(n, `${n}  · ${s.label} (${s.graph}, ${s.kind})`, "hint-symbol");
        }
      }
    }
    return { list, from: { line: cur.line, ch: start }, to: cur };
  };
}

function sparqlCompleters(Y, comp) {
  // Class and property completion from the workspace instead of the LOV web service (no network).
  const iris = (kinds) => (comp.symbols || []).filter((s) => kinds.includes(s.kind)).map((s) => s.iri);
  state.sparqlCompletions = comp;
  if (Y.Autocompleters && Y.Autocompleters.prefixes && !Y.Autocompleters.kgaPrefixes) {
    // the prefixes the server declares for every query, and one per loaded graph
    Y.forkAutocompleter("prefixes", { name: "kgaPrefixes", bulk: true, autoShow: true, persistenceId: null,
      get: () => Object.entries((state.sparqlCompletions || {}).prefixes || {}).map(([p, ns]) => `${p}: <${ns}>`) }, false);
  }
  if (Y.Autocompleters && Y.Autocompleters.class && !Y.Autocompleters.kgaClasses) {
    Y.forkAutocompleter("class", { name: "kgaClasses", bulk: true, autoShow: true, persistenceId: null,
      get: () => iris(["class", "concept"]) }, false);
    Y.forkAutocompleter("property", { name: "kgaProperties", bulk: true, autoShow: true, persistenceId: null,
      get: () => iris(["object_property", "data_property", "annotation_property", "property"]) }, false);
  }
}

// kgalign declares the standard prefixes (rdf:, owl:, skos:, kga:, ...) for every query: tell YASQE's
// syntax check, so that `owl:Class` without a PREFIX line is not marked as an error.
function declareServerPrefixes(Y, comp) {
  const CM = Object.getPrototypeOf(Y);
  const base = CM && CM.modes && CM.modes.sparql11;
  if (!base || base.kgaWrapped) return;
  const wrapped = function (config, parserConfig) {
    const mode = base(config, parserConfig);
    const start = mode.startState;
    mode.startState = function () {
      const st = start.apply(this, arguments);
      if (st && st.prefixes) Object.assign(st.prefixes, (state.sparqlCompletions || comp || {}).prefixes || {});
      return st;
    };
    return mode;
  };
  wrapped.kgaWrapped = true;
  CM.modes.sparql11 = wrapped;
}

function makeEditor(host, lang, text, comp, run) {
  const Y = window.Yasqe;
  if (lang === "sparql" && Y) {
    sparqlCompleters(Y, comp || {});
    declareServerPrefixes(Y, comp || {});
    const yasqe = new Y(host, {
      value: text, persistenceId: null, showQueryButton: false, createShareableLink: null,
      consumeShareLink: null, prefixCcApi: null, resizeable: true, editorHeight: "240px",
      autocompleters: ["kgaPrefixes", "variables", "kgaClasses", "kgaProperties"],
      extraKeys: { "Ctrl-Enter": run, "Cmd-Enter": run, "Ctrl-Space": "autocomplete" },
    });
    // the server declares these prefixes for every query: completion offers them too
    yasqe.getWrapperElement().setAttribute("data-testid", "sparql-editor");
    return { get: () => yasqe.getValue(), set: (v) => yasqe.setValue(v), cm: yasqe, kind: "yasqe" };
  }
  const CM = Y ? Object.getPrototypeOf(Y) : null;
  if (lang === "dsl" && CM && typeof CM.defineMode === "function") {
    defineDslMode(CM, comp);
    const hint = dslHint(comp || {});
    const cm = CM(host, {
      value: text, mode: "kgalign-dsl", lineNumbers: true, lineWrapping: true, viewportMargin: Infinity,
      extraKeys: { "Ctrl-Enter": run, "Cmd-Enter": run,
        "Ctrl-Space": (ed) => ed.showHint({ hint, completeSingle: false }) },
    });
    cm.on("inputRead", (ed, change) => {
      if (/^[\w-]$/.test(change.text[0] || "") && !ed.state.completionActive) ed.showHint({ hint, completeSingle: false });
    });
    cm.getWrapperElement().classList.add("dsl-editor");
    cm.getWrapperElement().setAttribute("data-testid", "dsl-editor");
    return { get: () => cm.getValue(), set: (v) => cm.setValue(v), cm, kind: "codemirror" };
  }
  const ta = h("textarea", { id: "query-input", spellcheck: "false" }, text);
  ta.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } });
  host.append(ta);
  return { get: () => ta.value, set: (v) => { ta.value = v; }, cm: null, kind: "textarea" };
}

function renderSparqlResults(out, data, elapsed) {
  if (typeof data === "string") {
    out.append(h("div", { class: "meta", testid: "results-meta" }, `graph result in ${elapsed} ms`), h("pre", { testid: "results-text" }, data));
    return;
  }
  if ("boolean" in data) {
    out.append(h("div", { class: "meta", testid: "results-meta" }, `in ${elapsed} ms`),
      h("div", { class: "card", testid: "results-boolean" }, h("strong", {}, String(data.boolean))));
    return;
  }
  const vars = data.head.vars || [];
  const rows = data.results.bindings;
  out.append(h("div", { class: "meta", testid: "results-meta" }, `${rows.length} rows in ${elapsed} ms`));
  out.append(table(vars.map((v) => ({ key: v })), rows, (c, r) => {
    const b = r[c.key];
    if (!b) return "";
    if (b.type === "uri") return symbolLink(b.value, b.value);
    if (b.type === "bnode") return "_:" + b.value;
    return b.value;
  }, "results-table"));
}

function cellValue(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object" && !Array.isArray(v)) {
    if (v.iri) return symbolLink(v.iri, v.label || v.iri, v.graph);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
  if (typeof v === "string" && /^(https?:|urn:)/.test(v)) return symbolLink(v, v);
  return fmt(v);
}

// Columns of DSL results that name a symbol or a feature become links to their pages.
const LINKED = {
  symbol: (r) => (r.iri ? symbolLink(r.iri, r.symbol, r.graph) : null),
  source: (r) => (r.source_iri ? symbolLink(r.source_iri, r.source, r.source_graph) : null),
  target: (r) => (r.target_iri ? symbolLink(r.target_iri, r.target, r.target_graph) : null),
  feature: (r) => (Number.isInteger(r.feature) ? h("a", { href: "#/feature/" + r.feature, testid: "feature-link" }, "#" + r.feature) : null),
};

function renderDslResults(out, data, elapsed) {
  const cols = data.columns || [];
  const rows = data.rows || [];
  const kind = data.kind ? `${data.kind}: ` : "";
  out.append(h("div", { class: "meta", testid: "results-meta" }, `${kind}${rows.length} rows in ${elapsed} ms`));
  if (data.kind === "boolean" && rows.length === 1) {
    out.append(h("div", { class: "card", testid: "results-boolean" }, h("strong", {}, String(Object.values(rows[0])[0]))));
    return;
  }
  out.append(table(cols.map((c) => ({ key: c })), rows, (c, r) => {
    const link = LINKED[c.key] && LINKED[c.key](r);
    return link || cellValue(r[c.key]);
  }, "results-table"));
  if (data.plan) out.append(h("details", {}, h("summary", { class: "meta" }, "plan"), h("pre", {}, data.plan)));
}

function rowCount(data) {
  if (typeof data === "string") return null;
  if (data && data.results) return data.results.bindings.length;
  if (data && data.rows) return data.rows.length;
  return null;
}

async function runQuery(lang, text, out, onDone) {
  out.replaceChildren(h("div", { class: "loading" }, "running…"));
  const t0 = performance.now();
  try {
    let data;
    if (lang === "sparql") {
      const isGraph = /^\s*(PREFIX[^\n]*\n\s*)*(CONSTRUCT|DESCRIBE)\b/i.test(text);
      data = await api("sparql", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded",
          Accept: isGraph ? "text/turtle" : "application/sparql-results+json" },
        body: new URLSearchParams({ query: text }),
      });
    } else {
      data = await api("query", {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query: text }),
      });
    }
    const elapsed = Math.round(performance.now() - t0);
    out.replaceChildren();
    if (lang === "sparql") renderSparqlResults(out, data, elapsed);
    else renderDslResults(out, data, elapsed);
    out.prepend(downloadBar(lang, text, data));
    remember({ lang, q: text, at: new Date().toISOString(), rows: rowCount(data), ok: true });
  } catch (err) {
    out.replaceChildren();
    showError(out, err);
    remember({ lang, q: text, at: new Date().toISOString(), rows: null, ok: false });
  }
  if (onDone) onDone();
}

function historyList(lang, load) {
  const items = readHistory();
  const box = h("details", { class: "history", testid: "history" },
    h("summary", {}, `history (${items.length})`));
  if (!items.length) box.append(h("p", { class: "note" }, "Queries you run are kept here, in this browser only."));
  const list = h("ol", { class: "history-list" });
  for (const it of items) {
    const when = new Date(it.at);
    list.append(h("li", { class: it.ok ? "" : "failed" },
      h("a", { href: "#", testid: "history-item", title: it.q, onclick: (e) => { e.preventDefault(); load(it); } },
        it.q.length > 90 ? it.q.slice(0, 89) + "…" : it.q),
      h("span", { class: "meta" }, ` ${it.lang === "sparql" ? "SPARQL" : "DSL"} · ${isNaN(when) ? "" : when.toLocaleString()}`
        + (it.ok ? (it.rows === null ? "" : ` · ${it.rows} rows`) : " · failed"))));
  }
  box.append(list);
  if (items.length) {
    box.append(h("button", { class: "plain", testid: "history-clear", onclick: () => {
      localStorage.removeItem(HISTORY_KEY); render();
    } }, "clear history"));
  }
  return box;
}

async function viewQuery() {
  const { params } = currentRoute();
  const dsl = state.status && state.status.features && state.status.features.dsl;
  const lang = params.get("lang") || (dsl ? "dsl" : "sparql");
  const [comp, ex] = await Promise.all([loadOnce("completions", "console/completions"), loadOnce("examples", "console/examples")]);
  const examplesFor = ((ex && ex[lang]) || FALLBACK_EXAMPLES[lang] || []);
  const text = params.get("q") || (examplesFor[0] ? examplesFor[0][1] : "");
  const select = h("select", { id: "query-lang", testid: "query-lang" },
    h("option", { value: "dsl", selected: lang === "dsl" }, "kgalign DSL"),
    h("option", { value: "sparql", selected: lang === "sparql" }, "SPARQL"));
  const out = h("div", { id: "results", testid: "results" });
  const host = h("div", { class: "editor-host", testid: "query-editor" });
  let editor = null;
  const run = () => {
    const q = editor.get();
    const target = "#/query?" + new URLSearchParams({ lang: select.value, q }).toString();
    if (location.hash !== target) history.replaceState(null, "", target);
    runQuery(select.value, q, out, () => {
      const old = document.querySelector("[data-testid=history]");
      if (old) old.replaceWith(historyList(select.value, loadFromHistory));
    });
  };
  const loadFromHistory = (it) => {
    location.hash = "#/query?" + new URLSearchParams({ lang: it.lang, q: it.q, run: "0" }).toString();
  };
  const examples = h("span", { class: "examples", testid: "examples" }, "examples: ",
    examplesFor.map(([name, q]) =>
      h("a", { href: "#/query?" + new URLSearchParams({ lang, q }), testid: "example" }, name)));
  select.addEventListener("change", () => { location.hash = "#/query?lang=" + select.value; });
  const note = dsl ? null : h("div", { class: "note", testid: "dsl-note" },
    "The query language is not installed in this build; SPARQL works (with the kga: functions once embedded).");
  const card = h("div", { class: "card query-form" }, host,
    h("div", { class: "row" }, select, h("button", { id: "run-query", testid: "run-query", onclick: () => run() }, "Run"),
      h("span", { class: "meta" }, "Ctrl+Enter · Ctrl+Space completes"), examples), note);
  const parts = [h("h1", {}, "Query"), card, historyList(lang, loadFromHistory), out];
  // the editor needs its host in the document to measure itself
  setTimeout(() => {
    editor = makeEditor(host, lang, text, comp, run);
    window.kgaConsole = { editor, run, lang };
    host.setAttribute("data-editor", editor.kind);
    if (params.get("q") && params.get("run") !== "0") run();
  }, 0);
  return parts;
}

// -- graphs and symbols ----------------------------------------------------------------------------

async function viewGraphs() {
  const data = await api("graphs");
  const cols = [
    { key: "name" }, { key: "triples", num: true }, { key: "symbols", num: true }, { key: "kinds" },
    { key: "format" }, { key: "loaded_at", label: "loaded" },
  ];
  return [
    h("h1", {}, "Graphs"),
    h("div", { class: "sub" }, `${data.graphs.length} artefacts, one named graph each`),
    table(cols, data.graphs, (c, r) => {
      if (c.key === "name") return h("a", { href: "#/graph/" + encodeURIComponent(r.name), testid: "graph-link" }, r.name);
      if (c.key === "kinds") return Object.entries(r.kinds).map(([k, n]) => `${n} ${k}`).join(", ");
      return fmt(r[c.key]);
    }, "graphs-table"),
  ];
}

async function viewGraph(name) {
  const { params } = currentRoute();
  const q = params.get("q") || "";
  const kind = params.get("kind") || "";
  const offset = Number(params.get("offset") || 0);
  const limit = 100;
  const info = await api("graphs/" + encodeURIComponent(name));
  const sp = new URLSearchParams({ graph: name, limit, offset });
  if (q) sp.set("q", q);
  if (kind) sp.set("kind", kind);
  const list = await api("symbols?" + sp.toString());
  const search = h("input", { type: "search", value: q, placeholder: "search labels, names, IRIs", testid: "symbol-search" });
  const kindSel = h("select", {}, h("option", { value: "" }, "all kinds"),
    Object.keys(info.kinds).map((k) => h("option", { value: k, selected: k === kind }, k)));
  const go = (off) => {
    const p = new URLSearchParams();
    if (search.value) p.set("q", search.value);
    if (kindSel.value) p.set("kind", kindSel.value);
    if (off) p.set("offset", off);
    location.hash = "#/graph/" + encodeURIComponent(name) + (p.toString() ? "?" + p : "");
  };
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") go(0); });
  kindSel.addEventListener("change", () => go(0));
  return [
    h("h1", {}, name),
    h("div", { class: "sub" }, info.iri, " · ", info.source),
    h("div", { class: "card" }, h("dl", { class: "facts" },
      h("dt", {}, "triples"), h("dd", {}, fmt(info.triples)),
      h("dt", {}, "symbols"), h("dd", {}, Object.entries(info.kinds).map(([k, n]) => `${n} ${k}`).join(", ")),
      h("dt", {}, "embedded"), h("dd", {}, info.embedded ? `yes (${info.embedded_symbols} symbols)` : "no"),
      h("dt", {}, "format"), h("dd", {}, info.format),
      h("dt", {}, "loaded"), h("dd", {}, info.loaded_at))),
    h("div", { class: "pager" }, search, kindSel, h("button", { class: "plain", onclick: () => go(0) }, "Search"),
      h("span", { class: "meta" }, `${list.total} symbols`),
      offset > 0 ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); go(Math.max(0, offset - limit)); } }, "‹ previous") : null,
      offset + limit < list.total ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); go(offset + limit); } }, "next ›") : null),
    table([{ key: "label" }, { key: "kind" }, { key: "local_name", label: "name" }, { key: "definition" }], list.symbols,
      (c, r) => (c.key === "label" ? symbolLink(r.iri, r.label, r.graph) : r[c.key] || ""), "symbols-table"),
  ];
}

function refList(refs, testid) {
  if (!refs || !refs.length) return h("span", { class: "note" }, "none");
  return h("ul", { class: "links", testid }, refs.map((r) => h("li", {}, symbolLink(r.iri, r.label, r.graph))));
}

async function viewSymbol() {
  const { params } = currentRoute();
  const sp = new URLSearchParams({ iri: params.get("iri") || "" });
  if (params.get("graph")) sp.set("graph", params.get("graph"));
  const s = await api("symbol?" + sp.toString());
  const maxW = Math.max(0, ...s.features.map((f) => f.weight));
  const parts = [
    h("h1", { testid: "symbol-label" }, s.label),
    h("div", { class: "sub" }, h("span", { class: "badge", testid: "symbol-kind" }, s.kind),
      h("a", { href: "#/graph/" + encodeURIComponent(s.graph), class: "badge muted" }, s.graph),
      h("span", { class: "mono", testid: "symbol-iri" }, s.iri)),
  ];
  const facts = h("dl", { class: "facts" });
  const fact = (k, v) => facts.append(h("dt", {}, k), h("dd", {}, v));
  if (s.alt_labels.length) fact("also called", s.alt_labels.join("; "));
  fact("definition", s.definitions.length ? s.definitions.join(" · ") : h("span", { class: "note" }, "none"));
  fact("support stability", s.stability === null ? h("span", { class: "note" }, s.neural_note || "–")
    : h("span", { testid: "symbol-stability" }, bar(s.stability, 1, "good")));
  if (s.also_in.length) fact("also declared in", s.also_in.join(", "));
  parts.push(h("div", { class: "card" }, facts));
  parts.push(h("div", { class: "grid" },
    h("div", { class: "card" }, h("h2", {}, "Parents"), refList(s.parents, "symbol-parents")),
    h("div", { class: "card" }, h("h2", {}, "Children"), refList(s.children, "symbol-children"))));
  if (s.domains.length || s.ranges.length) {
    parts.push(h("div", { class: "grid" },
      h("div", { class: "card" }, h("h2", {}, "Domain"), refList(s.domains)),
      h("div", { class: "card" }, h("h2", {}, "Range"), refList(s.ranges))));
  }
  parts.push(h("h2", {}, "SAE features"));
  if (s.features.length) {
    parts.push(table([{ key: "feature", num: true }, { key: "label" }, { key: "weight" }, { key: "fired_in", label: "fired in" },
      { key: "density", num: true }], s.features, (c, r) => {
      if (c.key === "feature") return h("a", { href: "#/feature/" + r.feature, testid: "feature-link" }, "#" + r.feature);
      if (c.key === "label") return h("a", { href: "#/feature/" + r.feature }, r.label);
      if (c.key === "weight") return bar(r.weight, maxW);
      if (c.key === "fired_in") return fmt(r.fired_in, 2);
      return fmt(r[c.key]);
    }, "symbol-features"));
  } else parts.push(h("p", { class: "note" }, s.neural_note || "no features"));
  parts.push(h("h2", {}, "Neighbours (similar concept vectors)"));
  if (s.neighbours.length) {
    parts.push(table([{ key: "label" }, { key: "graph" }, { key: "similarity" }], s.neighbours, (c, r) => {
      if (c.key === "label") return symbolLink(r.iri, r.label, r.graph);
      if (c.key === "similarity") return bar(r.similarity, 1);
      return r[c.key];
    }, "symbol-neighbours"));
  } else parts.push(h("p", { class: "note" }, s.neural_note || "none"));
  parts.push(h("h2", {}, "Mapping candidates"));
  if (s.mappings.length) {
    parts.push(table([{ key: "relation" }, { key: "other", label: "with" }, { key: "confidence" }, { key: "justification" }],
      s.mappings, (c, r) => {
        if (c.key === "other") return symbolLink(r.other, r.other_label);
        if (c.key === "confidence") return bar(r.confidence, 1);
        return r[c.key] || "";
      }, "symbol-mappings"));
  } else parts.push(h("p", { class: "note" }, "none recorded in the mappings graph"));
  return parts;
}

// -- features --------------------------------------------------------------------------------------

async function viewFeatures() {
  const { params } = currentRoute();
  const sort = params.get("sort") || "symbols";
  const data = await api("features?" + new URLSearchParams({ sort, limit: 200 }));
  const maxN = Math.max(1, ...data.features.map((f) => f.n_symbols_loading));
  return [
    h("h1", {}, "Features"),
    h("div", { class: "sub" }, `${data.d_sae} SAE features · sorted by `,
      ["symbols", "density", "index"].map((s) => h("a", { href: "#/features?sort=" + s, class: s === sort ? "badge" : "badge muted" }, s))),
    table([{ key: "feature", num: true }, { key: "label" }, { key: "n_symbols_loading", label: "symbols" }, { key: "density", num: true }],
      data.features, (c, r) => {
        if (c.key === "feature") return h("a", { href: "#/feature/" + r.feature }, "#" + r.feature);
        if (c.key === "n_symbols_loading") return bar(r.n_symbols_loading, maxN);
        return fmt(r[c.key]);
      }, "features-table"),
  ];
}

function snippet(sn) {
  const t = sn.text;
  const s = Math.max(0, sn.start), e = Math.max(s, sn.end);
  return h("div", { class: "snippet" }, h("span", { class: "act" }, fmt(sn.activation, 2)),
    t.slice(0, s), h("mark", {}, t.slice(s, e)), t.slice(e));
}

// The evidence behind a feature's grounded label (kgalign.neural.labels): in-group items marked.
function groundedCard(f) {
  const g = f.grounded;
  if (!g) return h("div", { class: "card", testid: "feature-grounded" }, h("p", { class: "note" }, "no grounded label for this SAE run (run kgalign check)"));
  const items = (g.source === "tokens" || g.source === "wordnet-words") ? g.tokens : g.contexts;
  const inGroup = (it) => it.in_group || (g.source === "tokens" && (it.form === g.kind || (g.kind === "positional" && (it.form === "first" || it.form === "last"))));
  return h("div", { class: "card", testid: "feature-grounded" },
    h("p", {}, h("strong", {}, g.summary)), g.gloss ? h("p", { class: "note" }, g.gloss) : null,
    items.slice(0, 12).map((it) => h("div", { class: "snippet" + (inGroup(it) ? "" : " muted") }, inGroup(it) ? "✓ " : "· ", snippet(it))));
}

async function viewFeature(n) {
  const f = await api("features/" + n + "?limit=15");
  const maxW = Math.max(0, ...f.symbols.map((s) => s.weight));
  return [
    h("h1", { testid: "feature-label" }, `#${f.feature} · ${f.label}`),
    h("div", { class: "sub" },
      f.feature > 0 ? h("a", { href: "#/feature/" + (f.feature - 1) }, "‹ previous") : null, " ",
      f.feature + 1 < f.d_sae ? h("a", { href: "#/feature/" + (f.feature + 1) }, "next ›") : null),
    h("div", { class: "card" }, h("dl", { class: "facts", testid: "feature-facts" },
      h("dt", {}, "density"), h("dd", { testid: "feature-density" }, fmt(f.density)),
      h("dt", {}, "mean activation"), h("dd", {}, fmt(f.mean_activation)),
      h("dt", {}, "symbols loading on it"), h("dd", {}, fmt(f.n_symbols_loading)),
      h("dt", {}, "mean stability of its top symbols"), h("dd", {}, f.mean_stability === null ? "–" : bar(f.mean_stability, 1, "good")),
      h("dt", {}, "claimed by a symbol"), h("dd", {}, f.claimed ? "yes" : "no (a blind spot if it fires often)"))),
    h("h2", {}, "Label evidence"), groundedCard(f),
    h("div", { class: "grid" },
      h("div", {}, h("h2", {}, "Top symbols"),
        f.symbols.length ? table([{ key: "label" }, { key: "graph" }, { key: "weight" }, { key: "stability" }], f.symbols, (c, r) => {
          if (c.key === "label") return symbolLink(r.iri, r.label, r.graph);
          if (c.key === "weight") return bar(r.weight, maxW);
          if (c.key === "stability") return r.stability === null ? "–" : bar(r.stability, 1, "good");
          return r[c.key];
        }, "feature-symbols") : h("p", { class: "note" }, "no symbol loads on this feature")),
      h("div", {}, h("h2", {}, "Top evidence snippets"),
        h("div", { class: "card", testid: "feature-snippets" },
          f.snippets.length ? f.snippets.map(snippet) : h("p", { class: "note" }, "no snippets recorded")))),
  ];
}

// -- start -----------------------------------------------------------------------------------------

async function start() {
  try {
    state.status = await api("status");
    const s = state.status;
    document.getElementById("status").textContent =
      `${s.graphs} graphs · ${s.embedded ? "embedded" : "not embedded"} · ${s.read_only ? "read-only" : "read-write"}`;
  } catch (err) {
    document.getElementById("status").textContent = "status unavailable";
  }
  window.addEventListener("hashchange", render);
  await render();
  document.body.setAttribute("data-ready", "1");
}

document.addEventListener("DOMContentLoaded", start);
