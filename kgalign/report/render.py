"""Renderers of a :class:`~kgalign.report.model.Report`: JSON, Markdown, and one self-contained HTML page.

The HTML page has inline CSS, inline SVG plots (:mod:`kgalign.report.svg`) and a few lines of inline
JavaScript that sort tables when a header is clicked (the page reads fine without it). It loads nothing:
no external stylesheet, script, font or image, and a Content-Security-Policy that forbids any. Every string
from the ontologies is escaped (:func:`kgalign.report.svg.esc` in HTML, :func:`md` in Markdown).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

from kgalign.report.check_section import check_html, check_markdown
from kgalign.report.model import FeatureRef, PruneRow, Report, Snippet, report_to_dict
from kgalign.report.svg import colours, coverage_svg, density_svg, esc, histogram_svg, scatter_svg

#: Where the console's symbol and feature pages live (same origin as ``kgalign serve``'s /report).
CONSOLE_URL = "/console"
#: The folder beside report.md that holds the plots, and the prune list's file name.
PLOTS_DIR = "plots"
PRUNE_FILE = "prune.tsv"


def console_symbol_url(iri: str, graph: str, console: str = CONSOLE_URL) -> str:
    """The console page of a symbol.

    >>> console_symbol_url("http://cmt#Author", "cmt")
    '/console#symbol=http%3A%2F%2Fcmt%23Author&graph=cmt'
    """
    return f"{console}#symbol={quote(iri, safe='')}&graph={quote(graph, safe='')}"


def console_feature_url(n: int, console: str = CONSOLE_URL) -> str:
    return f"{console}#feature={int(n)}"


def iri_href(iri: str) -> str | None:
    """The IRI as a link target when it is one a browser should follow (http, https), else None."""
    return iri if re.match(r"https?://[^\s\"<>]+$", iri or "") else None


def _plot(name: str, report: Report) -> str:
    """A matplotlib plot as inline SVG; ``""`` when matplotlib is not installed or there is nothing to plot."""
    try:
        from kgalign.report.plots import inline_svg
    except ImportError:  # pragma: no cover - matplotlib is a dependency; the hand-drawn SVGs stand in
        return ""
    return inline_svg(name, report)

# --------------------------------------------------------------------------------------------------- JSON


def to_json(report: Report, indent: int | None = 2) -> str:
    """The report as JSON (``format: kgalign-report/1``); non-finite numbers are ``null``."""
    return json.dumps(report_to_dict(report), indent=indent, ensure_ascii=False, allow_nan=False)


# ------------------------------------------------------------------------------------------------ numbers


def _num(v: float | int | None, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


# ----------------------------------------------------------------------------------------------- Markdown


def md(text: object) -> str:
    """Escape text for a Markdown table cell: HTML specials as entities, Markdown specials with ``\\``,
    newlines as spaces.

    >>> md("a|b <script>*x*</script>")
    'a\\\\|b &lt;script&gt;\\\\*x\\\\*&lt;/script&gt;'
    """
    s = re.sub(r"\s+", " ", str(text)).strip()
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", s)


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _md_features(fs: Sequence[FeatureRef]) -> str:
    return ", ".join(f"[#{f.index}]({console_feature_url(f.index)}) ({md(f.label)})" for f in fs)


def _md_sym(label: str, graph: str, iri: str | None = None) -> str:
    if not iri:
        return f"{md(label)} ({md(graph)})"
    link = f"[{md(label)}](<{console_symbol_url(iri, graph)}>) ({md(graph)})"
    href = iri_href(iri)
    return link + (f" [↗](<{href}>)" if href else "")


def _md_plot(name: str, title: str) -> list[str]:
    return [f"![{title}]({PLOTS_DIR}/{name}.png)", "",
            f"[{title} as SVG]({PLOTS_DIR}/{name}.svg)", ""]


def behaviour_words(report: Report) -> str:
    """What the behavioural figures mean, in words."""
    beh = report.behaviour
    n = len(beh.checks)
    if not n:
        return ""
    k = sum(bool(c.passed) for c in beh.checks)
    fpr = beh.false_positive_rate
    text = (f"{k} of {n} feature–symbol links passed. A link passes when editing that feature changes the model's "
            "output for the symbol more than editing random features of the same strength does (z ≥ 2 against "
            "those controls, and above 90% of them): the feature demonstrably matters for the symbol, not just "
            "co-occurs with it. A link that fails is not shown wrong, only not shown to matter.")
    if fpr is not None:
        text += (f" The rule's false-positive rate, measured by scoring each random control against the "
                 f"others, is {fpr:.1%}: about {fpr * n:.1f} of {n} links would pass by chance.")
    else:
        text += " The rule is built to pass at most 10% of random features."
    if beh.p_value is not None:
        verdict = ("more passes than chance gives" if beh.p_value < 0.05
                   else "no more passes than chance would give")
        text += f" The chance of {k} or more passes if every link were random is p = {beh.p_value:.3g}: {verdict}."
    return text


def to_markdown(report: Report, plots: bool = True) -> str:
    """The report as Markdown (GitHub-flavoured tables); with ``plots``, images from ``plots/`` (written by
    :func:`kgalign.report.write_report`) and a link to ``prune.tsv``."""
    s = report.summary
    L: list[str] = ["# kgalign pruning report", ""]
    L.append(f"Workspace `{md(s.workspace)}` · model {md(s.model)} layer {s.layer} · SAE {md(s.sae)} "
             f"({s.d_sae} features) · {md(s.generated_at)}")
    L += [""] + check_markdown(report.bridge_check)
    L += ["", "## Summary", ""]
    L += _md_table(["figure", "value"], [
        ["graphs", str(s.n_graphs)], ["symbols", str(s.n_symbols)], ["embedded symbols", str(s.n_embedded)],
        ["merge candidates", str(s.n_merge_candidates)], ["bridges", str(s.n_bridges)],
        ["pruning candidates", str(s.n_pruning_candidates)], ["blind spots", str(s.n_blind_spots)],
        ["unstable symbols", str(s.n_unstable)],
        ["SAE features claimed", f"{s.n_features_claimed} of {s.d_sae}"],
        ["mean support stability", _num(s.mean_stability)],
        ["behavioural checks passed", f"{s.n_behavioural_passed} of {s.n_behavioural_checks}"],
    ])
    L += [""]
    L += _md_table(["graph", "symbols", "embedded", "mean stability", "features", "only here"], [
        [md(g.name), str(g.n_symbols), str(g.n_embedded), _num(g.mean_stability), str(g.n_features),
         str(g.n_exclusive_features)] for g in s.graphs
    ])
    if report.notes:
        L += ["", "Notes:", ""] + [f"- {md(n)}" for n in report.notes]
    if plots:
        L += ["", "## Concept map", ""] + _md_plot("concept-map", "Concept map") + [md(_map_words(report))]

    L += ["", "## Merge candidates", ""]
    if report.merge_candidates:
        L += _md_table(["source", "relation", "target", "confidence", "concept similarity", "evidence"], [
            [_md_sym(m.source_label, m.source_graph, m.source), md(m.relation_name),
             _md_sym(m.target_label, m.target_graph, m.target),
             _num(m.confidence), _num(m.concept_similarity),
             "; ".join(f"{md(e.kind)} {e.score:.2f}" for e in m.evidence)]
            for m in report.merge_candidates
        ])
    else:
        L.append("None (no alignments were given and the matcher found none).")

    L += ["", "## Bridges", ""]
    if report.bridges:
        L += _md_table(["source", "relation", "target", "similarity", "why"], [
            [_md_sym(b.source_label, b.source_graph, b.source), md(b.relation_name),
             _md_sym(b.target_label, b.target_graph, b.target), _num(b.similarity), md(b.reason)]
            for b in report.bridges
        ])
    else:
        L.append("None.")

    L += ["", "## Pruning candidates", ""]
    if plots:
        L += [f"The prune list, with severity, reason and suggested action: [{PRUNE_FILE}]({PRUNE_FILE}).", ""]
    if report.pruning_candidates:
        L += _md_table(["severity", "symbol", "kind", "reasons", "strength", "stability", "nearest in another graph",
                        "suggested action", "top features"], [
            [p.severity or "–", _md_sym(p.label, p.graph, p.iri), md(p.kind), "; ".join(md(r) for r in (*p.reasons, *rule_notes(p))),
             _num(p.strength), _num(p.stability),
             f"{md(p.nearest_elsewhere.label)} ({_num(p.nearest_elsewhere.score, 2)})" if p.nearest_elsewhere else "–",
             md(p.action) or "–", _md_features(p.top_features[:3])]
            for p in report.pruning_candidates
        ])
    else:
        L.append("None.")
    if report.kept:
        L += ["", "Kept after judging across graphs (not dead weight):", ""]
        L += _md_table(["symbol", "why kept"], [
            [_md_sym(p.label, p.graph, p.iri), md(p.kept_because)] for p in report.kept])

    L += ["", "## Blind spots", ""]
    if report.blind_spots:
        for b in report.blind_spots:
            L.append(f"- **[feature {b.feature}]({console_feature_url(b.feature)})** ({md(b.label)}) — suggested "
                     f"label: *{md(b.suggested_label) or '–'}*; "
                     f"density {b.density:.4f}, mean activation {b.mean_activation:.3f}")
            for sn in b.snippets[:3]:
                L.append(f"  - “{md(sn.text)}” (on *{md(sn.token)}*, {sn.activation:.2f})")
            if b.near_symbols:
                L.append("  - nearest symbols: " + ", ".join(_md_sym(r.label, r.graph) for r in b.near_symbols))
    else:
        L.append("None.")

    L += ["", "## Unstable symbols", ""]
    if report.unstable:
        L += _md_table(["symbol", "stability", "contexts", "top features"], [
            [_md_sym(u.label, u.graph, u.iri), _num(u.stability), str(u.n_contexts), _md_features(u.top_features)]
            for u in report.unstable
        ])
    else:
        L.append("None.")

    L += ["", "## Feature coverage", ""]
    c = report.coverage
    L.append(f"{c.claimed} of {c.d_sae} SAE features are loaded on by some symbol.")
    L += [""] + _md_table(["graphs", "shared features", "Jaccard"], [
        [f"{md(o.a)} ∩ {md(o.b)}", str(o.shared), _num(o.jaccard)] for o in c.overlaps
    ])
    if plots:
        L += [""] + _md_plot("coverage", "Feature coverage")
        L += ["## Support stability", ""] + _md_plot("stability", "Support stability")

    L += ["", "## Behavioural checks", ""]
    beh = report.behaviour
    if beh.checks:
        L.append(md(behaviour_words(report)))
        L.append("")
        L.append(f"Median z {_num(beh.summary.get('median_z'), 2)}; "
                 f"{beh.summary.get('n_opposite', 0)} moved the measure the other way (z ≤ −2).")
        if plots:
            L += [""] + _md_plot("behaviour", "Behavioural checks")
        L += [""] + _md_table(
            ["symbol", "feature", "mode", "measure", "effect", "controls (mean ± sd)", "z", "passed"],
            [[_md_sym(ch.label, ch.graph), f"{ch.feature} ({md(ch.feature_label)})", ch.mode, ch.measure,
              f"{ch.effect:+.4f}", f"{ch.control_mean:+.4f} ± {ch.control_std:.4f}", _num(ch.z, 2),
              "yes" if ch.passed else "no"] for ch in beh.checks],
        )
    else:
        L.append(md(beh.note) or "No checks.")

    L += ["", "## SAE quality", ""]
    q = report.sae
    L.append(f"`{md(q.path)}` — {md(q.architecture or '?')}, d_in {q.d_in}, d_sae {q.d_sae}, k {q.k}")
    if q.headline:
        L += [""] + _md_table(["metric", "value"], [[md(k), md(v)] for k, v in q.headline.items()])
    if q.feature_stats_corpus:
        L.append("")
        L.append(f"Feature statistics over {md(q.feature_stats_corpus)} ({q.feature_stats_tokens} tokens); "
                 f"{q.silent_features} features never fired there.")
    if plots and q.density_histogram:
        L += [""] + _md_plot("density", "SAE feature density")
    L += ["", "## Prune list", ""]
    if report.prune_list:
        L += _md_table(["severity", "rule", "symbol", "reason", "suggested action"], [
            [r.severity, md(r.rule), _md_sym(r.label, r.graph, r.iri), md(r.reason), md(r.action)]
            for r in report.prune_list])
    else:
        L.append("Nothing to prune.")
    return "\n".join(L) + "\n"


def _map_words(report: Report) -> str:
    """What the concept map shows and how far to trust it."""
    cm = report.map
    ex = cm.explained
    text = (f"Each dot is a symbol's concept vector projected on the two directions of greatest variance (PCA). "
            f"They explain {ex[0]:.1%} and {ex[1]:.1%} of the variance: the vectors spread over many directions, "
            "so the map shows the broad layout (which graphs overlap, outliers), not fine distances.")
    if cm.neighbour_overlap is not None:
        text += (f" On average {cm.neighbour_overlap:.0%} of a symbol's 10 nearest neighbours in concept space are "
                 "among its 10 nearest on the map; use the symbol pages for neighbours.")
    if cm.sampled_from > len(cm.points):
        text += f" A seeded sample of {len(cm.points)} of {cm.sampled_from} symbols is shown."
    return text


# --------------------------------------------------------------------------------------------------- HTML

CSS = """
:root { --fg: #1d1d1f; --muted: #666; --line: #ddd; --accent: #0072B2; --bad: #b00020; --good: #1b7f3b; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0;
       background: #fff; }
header { padding: 20px 32px 8px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: var(--muted); }
nav { padding: 8px 32px; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: #fff;
      z-index: 1; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; white-space: nowrap; }
main { padding: 8px 32px 40px; max-width: 1280px; }
section { margin-top: 28px; }
h2 { font-size: 19px; border-bottom: 2px solid var(--accent); padding-bottom: 3px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.card b { display: block; font-size: 22px; }
.card span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; position: relative; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #aaa; font-size: 11px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.g { color: var(--muted); font-size: 12px; }
.iri { color: var(--muted); font-size: 11px; word-break: break-all; }
.feat { display: inline-block; background: #eef4fa; border-radius: 3px; padding: 0 4px; margin: 1px 2px;
        font-size: 12px; }
.pass { color: var(--good); font-weight: 600; }
.fail { color: var(--bad); font-weight: 600; }
mark { background: #ffe58f; padding: 0 1px; }
ul.reasons { margin: 0; padding-left: 16px; }
.snip { margin: 2px 0; }
.note { background: #fff8e1; border-left: 3px solid #f0b400; padding: 6px 10px; margin: 6px 0; }
.plot { max-width: 100%; height: auto; display: block; }
details pre { white-space: pre-wrap; background: #f7f7f7; padding: 10px; border-radius: 4px; }
p.lead { color: var(--muted); max-width: 900px; }
a.sym { color: var(--fg); text-decoration: none; border-bottom: 1px dotted var(--accent); }
a.iri-link { color: var(--accent); text-decoration: none; font-size: 11px; }
a.feat { color: var(--fg); text-decoration: none; }
a.download { font-weight: 600; color: var(--accent); }
.sev { font-weight: 700; font-size: 12px; padding: 0 4px; border-radius: 3px; }
.sev-error { background: #fde7ea; color: var(--bad); }
.sev-warn { background: #fff4d6; color: #8a5a00; }
.sev-info { background: #e8f1fb; color: var(--accent); }
svg.plot { width: 100%; max-width: 900px; height: auto; }
"""

SORT_JS = """
(function () {
  function key(td) {
    var v = td.getAttribute("data-v");
    if (v !== null && v !== "" && !isNaN(Number(v))) { return Number(v); }
    return td.textContent.trim().toLowerCase();
  }
  var heads = document.querySelectorAll("table.sortable th");
  Array.prototype.forEach.call(heads, function (th) {
    th.addEventListener("click", function () {
      var row = th.parentNode, table = row.closest("table"), body = table.tBodies[0];
      if (!body) { return; }
      var i = Array.prototype.indexOf.call(row.children, th);
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(row.children, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[i]), y = key(b.cells[i]);
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  document.documentElement.setAttribute("data-tables", "sortable");
})();
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


_console = [CONSOLE_URL]  # set by to_html for the page being rendered


def _sym(label: str, graph: str, iri: str | None = None) -> str:
    if not iri:
        return f"<span>{esc(label)}</span> <span class=\"g\">{esc(graph)}</span>"
    page = console_symbol_url(iri, graph, _console[0])
    out = (f'<a class="sym" href="{esc(page)}" title="{esc(iri)}" data-iri="{esc(iri)}">{esc(label)}</a> '
           f'<span class="g">{esc(graph)}</span>')
    href = iri_href(iri)
    if href:
        out += f' <a class="iri-link" href="{esc(href)}" title="the IRI: {esc(iri)}" rel="noopener noreferrer">↗</a>'
    return out


def _feats(fs: Sequence[FeatureRef], hidden: int = 0) -> str:
    def title(f: FeatureRef) -> str:
        bits = [f.label]
        if f.density is not None:
            bits.append(f"fires on {f.density:.2%} of tokens")
        if f.kind:
            bits.append(f"kind: {f.kind}")
        return " · ".join(bits)

    out = "".join(
        f'<a class="feat" href="{esc(console_feature_url(f.index, _console[0]))}" title="{esc(title(f))}" '
        f'data-feature="{f.index}">#{f.index} {esc(f.label)}</a>' for f in fs
    )
    if hidden:
        out += (f' <span class="g" title="features both load on that fire on a large share of all tokens, '
                f'or on sub-words, punctuation or function words">+{hidden} generic hidden</span>')
    return out or "–"


def _td_num(v: float | int | None, digits: int = 3) -> str:
    data = "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f' data-v="{v}"'
    return f'<td class="n"{data}>{esc(_num(v, digits))}</td>'


def _table(headers: Sequence[str], rows: Sequence[str], empty: str) -> str:
    if not rows:
        return f"<p>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _snippet(sn: Snippet) -> str:
    t = sn.text
    s, e = sn.start, sn.end
    if isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(t):
        body = f"{esc(t[:s])}<mark>{esc(t[s:e])}</mark>{esc(t[e:])}"
    else:
        body = esc(t)
    return f'<div class="snip">“{body}” <span class="g">{sn.activation:.2f}</span></div>'


def _section(sid: str, title: str, body: str, lead: str = "") -> str:
    lead_html = f'<p class="lead">{esc(lead)}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{esc(title)}</h2>{lead_html}{body}</section>'


def _summary_html(report: Report) -> str:
    s = report.summary
    cards = [
        (s.n_embedded, "symbols embedded"), (s.n_graphs, "graphs"), (s.n_merge_candidates, "merge candidates"),
        (s.n_bridges, "bridges"), (s.n_pruning_candidates, "pruning candidates"), (s.n_blind_spots, "blind spots"),
        (s.n_unstable, "unstable symbols"), (f"{s.n_features_claimed}/{s.d_sae}", "SAE features claimed"),
        (_num(s.mean_stability, 2), "mean support stability"),
        (f"{s.n_behavioural_passed}/{s.n_behavioural_checks}", "behavioural checks passed"),
    ]
    body = '<div class="cards">' + "".join(
        f'<div class="card"><b>{esc(v)}</b><span>{esc(label)}</span></div>' for v, label in cards
    ) + "</div>"
    rows = [
        f"<tr><td>{esc(g.name)}</td>{_td_num(g.n_symbols)}{_td_num(g.n_embedded)}{_td_num(g.mean_stability)}"
        f"{_td_num(g.n_features)}{_td_num(g.n_exclusive_features)}</tr>" for g in s.graphs
    ]
    body += _table(["graph", "symbols", "embedded", "mean stability", "features", "only here"], rows, "No graphs.")
    body += "".join(f'<div class="note">{esc(n)}</div>' for n in report.notes)
    return _section("summary", "Summary", body)


def _merge_html(report: Report) -> str:
    rows = []
    for m in report.merge_candidates:
        ev = "".join(f"<li>{esc(e.kind)} {e.score:.2f}: {esc(e.detail)}</li>" for e in m.evidence)
        rows.append(
            f"<tr><td>{_sym(m.source_label, m.source_graph, m.source)}</td><td>{esc(m.relation_name)}</td>"
            f"<td>{_sym(m.target_label, m.target_graph, m.target)}</td>{_td_num(m.confidence)}"
            f"{_td_num(m.concept_similarity)}<td>{_feats(m.shared_features, m.hidden_features)}</td>"
            f"<td><details><summary>{len(m.evidence)} items</summary><ul class=\"reasons\">{ev}</ul>"
            "</details></td></tr>"
        )
    body = _table(["source", "relation", "target", "confidence", "concept similarity", "shared features",
                   "evidence"], rows, "No merge candidates (no alignments were given and the matcher found none).")
    return _section("merge", "Merge candidates", body,
                    "Mappings the matcher kept between pairs of graphs (and individuals of different graphs with "
                    "identical labels), with the concept-space similarity of the two symbols and the SAE features "
                    "both load on. Shared features leave out generic ones (firing on more than 10% of all "
                    "tokens) and form features (sub-words, punctuation, function words): every symbol shares "
                    "those, so they say nothing about shared meaning.")


def _bridges_html(report: Report) -> str:
    rows = [
        f"<tr><td>{_sym(b.source_label, b.source_graph, b.source)}</td><td>{esc(b.relation_name)}</td>"
        f"<td>{_sym(b.target_label, b.target_graph, b.target)}</td>{_td_num(b.similarity)}"
        f"<td>{esc(b.reason)}</td><td>{_feats(b.shared_features, b.hidden_features)}</td></tr>"
        for b in report.bridges
    ]
    body = _table(["source", "suggested relation", "target", "similarity", "why", "shared features"], rows,
                  "No bridges.")
    return _section("bridges", "Bridges", body,
                    "Symbols of different graphs that are each other's nearest neighbour in concept space, well "
                    "above the typical similarity between the two graphs, and that no mapping links yet.")


_SEVERITY_ORDER = {"ERROR": 0, "WARN": 1, "INFO": 2}


def _severity(sev: str) -> str:
    return (f'<td data-v="{_SEVERITY_ORDER.get(sev, 3)}"><span class="sev sev-{esc(sev.lower())}">'
            f"{esc(sev or '–')}</span></td>")


def rule_notes(p: Any) -> list[str]:
    """What pruning ``p`` would break: one note per rule that uses the symbol (SWRL, N3).

    >>> from types import SimpleNamespace as NS
    >>> rule_notes(NS(breaks_rules=[{"graph": "g", "rule": "r1", "text": "A(?x) -> B(?x)", "side": "body"}]))
    ['would break rule r1 (body): A(?x) -> B(?x)']
    """
    return [f"would break rule {r.get('rule', '')} ({r.get('side', '')}): {r.get('text', '')}"
            for r in getattr(p, "breaks_rules", None) or []]


def _pruning_html(report: Report) -> str:
    rows = []
    for p in report.pruning_candidates:
        reasons = "".join(f"<li>{esc(r)}</li>" for r in (*p.reasons, *rule_notes(p)))
        near = p.nearest_elsewhere
        near_html = f"{_sym(near.label, near.graph, near.iri)} ({_num(near.score, 2)})" if near else "–"
        rows.append(
            f"<tr>{_severity(p.severity)}<td>{_sym(p.label, p.graph, p.iri)}<div class=\"iri\">{esc(p.iri)}</div></td>"
            f"<td>{esc(p.kind)}</td><td data-v=\"{len(p.reasons)}\"><ul class=\"reasons\">{reasons}</ul></td>"
            f"{_td_num(p.strength)}{_td_num(p.stability)}{_td_num(p.informativeness)}"
            f"<td>{near_html}</td><td>{esc(p.action)}</td><td>{_feats(p.top_features[:3])}</td>"
            f"<td>{esc(p.definition)}</td></tr>"
        )
    body = _prune_download(report.prune_list)
    body += _table(["severity", "symbol", "kind", "reasons", "strength", "stability", "informativeness",
                    "nearest in another graph", "suggested action", "top features", "definition"], rows,
                   "No pruning candidates.")
    if report.kept:
        kept = [f"<tr><td>{_sym(p.label, p.graph, p.iri)}</td><td>{esc(p.kept_because)}</td>"
                f"<td>{esc('; '.join(p.reasons))}</td></tr>" for p in report.kept]
        body += (f'<details id="kept"><summary>{len(report.kept)} kept after judging across graphs: a '
                 "near-identical counterpart or a confident mapping elsewhere means they are not dead weight"
                 "</summary>" + _table(["symbol", "why kept", "what flagged it"], kept, "") + "</details>")
    return _section("pruning", "Pruning candidates", body,
                    "Symbols with no clear neural counterpart: weak activation (below the 5th percentile), "
                    "no clear counterpart (a reliability score below where meaningless labels score, when the SAE "
                    "ships a background; else unstable support: the features change with the wording), or support "
                    "mostly on features that many symbols share. Each is judged across graphs: ERROR (several "
                    "reasons, nothing like it elsewhere: remove or define it), WARN (review, or merge with a "
                    "close counterpart), INFO (mapped elsewhere: check the mapping first).")


def _prune_download(rows: Sequence[PruneRow]) -> str:
    """A link that downloads the prune list as TSV (a data: URL: the page stays self-contained)."""
    from kgalign.report.curate import prune_tsv

    data = base64.b64encode(prune_tsv(rows).encode("utf-8")).decode("ascii")
    counts = {sev: sum(r.severity == sev for r in rows) for sev in ("ERROR", "WARN", "INFO")}
    summary = ", ".join(f"{n} {sev}" for sev, n in counts.items())
    return (f'<p><a class="download" id="prune-download" download="{PRUNE_FILE}" '
            f'href="data:text/tab-separated-values;charset=utf-8;base64,{data}">Download the prune list '
            f"({PRUNE_FILE}: {len(rows)} rows — {summary})</a> with severity, rule, reason and suggested action "
            "for each symbol, as in ROBOT's report.</p>")


def _blind_html(report: Report) -> str:
    rows = []
    for b in report.blind_spots:
        rows.append(
            f"<tr><td data-v=\"{b.feature}\">{_feats([FeatureRef(b.feature, '')])}</td><td>{esc(b.label)}</td>"
            f"<td><b>{esc(b.suggested_label or '–')}</b></td>{_td_num(b.density, 4)}{_td_num(b.mean_activation)}"
            f"<td>{''.join(_snippet(s) for s in b.snippets)}</td>"
            f"<td>{', '.join(_sym(r.label, r.graph, r.iri) for r in b.near_symbols) or '–'}</td></tr>"
        )
    body = _table(["feature", "automatic label", "suggested label", "density", "mean activation", "evidence",
                   "nearest symbols"], rows, "No blind spots.")
    return _section("blind", "Blind spots", body,
                    "SAE features that fire often and strongly but that no symbol loads on: concepts the model "
                    "uses that the ontologies do not name. The suggested label is the phrase the feature fires "
                    "on most; the nearest symbols have some weight on it. Features that fire on more than a "
                    "tenth of all tokens, or mostly on punctuation and function words, are left out as generic.")


def _unstable_html(report: Report) -> str:
    rows = [
        f"<tr><td>{_sym(u.label, u.graph, u.iri)}</td>{_td_num(u.stability)}{_td_num(u.n_contexts)}"
        f"<td>{_feats(u.top_features)}</td></tr>" for u in report.unstable
    ]
    body = _table(["symbol", "support stability", "contexts", "top features"], rows, "No unstable symbols.")
    return _section("unstable", "Unstable symbols", body,
                    "Support stability is the mean Jaccard overlap of the features that fire for the symbol's "
                    "label in different neutral sentences; below the threshold the symbol has no stable neural "
                    "counterpart.")


def _behaviour_html(report: Report) -> str:
    beh = report.behaviour
    if not beh.checks:
        return _section("behaviour", "Behavioural checks", f"<p>{esc(beh.note or 'No checks.')}</p>")
    sm = beh.summary
    head = (f'<p id="behaviour-words">{esc(behaviour_words(report))}</p>'
            f"<p>Median z {esc(_num(sm.get('median_z'), 2))}; {sm.get('n_opposite', 0)} moved the measure the "
            "other way (z ≤ −2): the feature matters, but not as the report reads it.</p>")
    head += _plot("behaviour", report)
    rows = []
    for c in beh.checks:
        verdict = '<span class="pass">yes</span>' if c.passed else '<span class="fail">no</span>'
        rows.append(
            f"<tr><td>{_sym(c.label, c.graph, c.iri)}</td><td data-v=\"{c.feature}\">"
            f"{_feats([FeatureRef(c.feature, c.feature_label)])}</td><td>{esc(c.mode)} · {esc(c.measure)}</td>"
            f"{_td_num(c.baseline)}{_td_num(c.edited)}{_td_num(c.effect, 4)}{_td_num(c.control_mean, 4)}"
            f"{_td_num(c.control_std, 4)}{_td_num(c.z, 2)}<td data-v=\"{int(c.passed)}\">{verdict}</td>"
            f"{_td_num(c.code, 2)}<td title=\"{esc(c.note)}\">{c.n_controls}</td></tr>"
        )
    body = head + _table(["symbol", "feature", "test", "before", "after", "effect", "control mean",
                          "control sd", "z", "passed", "code", "controls"], rows, "")
    return _section("behaviour", "Behavioural checks", body,
                    "Each link is tested by editing the feature in the model's forward pass at the SAE's layer "
                    "(only that feature's code changes; the SAE's reconstruction error is added back) and "
                    "measuring the output: for an encoder, the cosine between the sentence embeddings of the "
                    "symbol's contexts and of its definition; for a causal LM, the log-probability of the "
                    "symbol's tokens. The same edit along random features, scaled to the same strength, gives "
                    "the controls; a link passes at z ≥ 2 and above the 90th percentile of its controls.")


def _sae_html(report: Report) -> str:
    q = report.sae
    rows = [
        f"<tr><td>{esc(k)}</td><td>{esc(_num(v, 4) if isinstance(v, float) else v)}</td></tr>"
        for k, v in [("path", q.path), ("architecture", q.architecture), ("d_in", q.d_in), ("d_sae", q.d_sae),
                     ("k", q.k), *q.headline.items(),
                     ("features claimed by some symbol", q.features_claimed),
                     ("feature statistics corpus", q.feature_stats_corpus),
                     ("feature statistics tokens", q.feature_stats_tokens),
                     ("features that never fired there", q.silent_features)]
    ]
    body = f"<table><tbody>{''.join(rows)}</tbody></table>"
    if q.density_histogram:
        body += _plot("density", report) or density_svg(q.density_histogram["log10_bin_edges"],
                                                        q.density_histogram["counts"])
    if q.details:
        more = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in q.details.items())
        body += f"<details><summary>All figures of metrics.json</summary><table><tbody>{more}</tbody></table></details>"
    if q.model_card:
        body += f"<details><summary>MODEL_CARD.md</summary><pre>{esc(q.model_card)}</pre></details>"
    return _section("sae", "SAE quality", body, "The figures of the SAE itself, read from the files beside it.")


def to_html(report: Report, console_url: str = CONSOLE_URL) -> str:
    """The report as one self-contained HTML page (inline CSS, inline SVG, a little inline JS); symbols and
    features link to their pages in the console at ``console_url``."""
    _console[0] = console_url
    s = report.summary
    palette = colours([g.name for g in s.graphs])
    cov = report.coverage
    overlap_rows = [
        f"<tr><td>{esc(o.a)}</td><td>{esc(o.b)}</td>{_td_num(o.shared)}{_td_num(o.jaccard)}</tr>"
        for o in cov.overlaps
    ]
    sections: list[tuple[str, str, Callable[[], str]]] = [
        ("check", "Bridge check", lambda: check_html(report.bridge_check)),
        ("summary", "Summary", lambda: _summary_html(report)),
        ("map", "Map", lambda: _section(
            "map", "Concept map", _plot("concept-map", report) or scatter_svg(report.map, palette),
            _map_words(report) + " Colour is the graph; ringed dots are pruning candidates; the labelled dots "
            "are the pruning candidates and the outliers.")),
        ("merge", "Merge candidates", lambda: _merge_html(report)),
        ("bridges", "Bridges", lambda: _bridges_html(report)),
        ("pruning", "Pruning", lambda: _pruning_html(report)),
        ("blind", "Blind spots", lambda: _blind_html(report)),
        ("unstable", "Unstable", lambda: _unstable_html(report)),
        ("coverage", "Coverage", lambda: _section(
            "coverage", "Feature coverage", (_plot("coverage", report) or coverage_svg(cov, palette)) + _table(
                ["graph", "graph", "shared features", "Jaccard"], overlap_rows, ""),
            "How many SAE features each graph's symbols load on (pale: also loaded on by another graph), and "
            "how many features two graphs share.")),
        ("stability", "Stability", lambda: _section(
            "stability", "Support stability",
            _plot("stability", report) or histogram_svg(report.stability, palette))),
        ("behaviour", "Behaviour", lambda: _behaviour_html(report)),
        ("sae", "SAE", lambda: _sae_html(report)),
    ]
    nav = "".join(f'<a href="#{sid}">{esc(name)}</a>' for sid, name, _ in sections)
    body = "".join(render() for _, _, render in sections)
    subtitle = (f"workspace {s.workspace} · model {s.model}, layer {s.layer} · SAE {s.sae} ({s.d_sae} features) · "
                f"generated {s.generated_at}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>kgalign pruning report</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>kgalign pruning report</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<script>{SORT_JS}</script></body></html>\n"
    )


def render(report: Report, fmt: str) -> str:
    """``fmt`` is one of ``html``, ``json``, ``md``."""
    return RENDERERS[fmt](report)


RENDERERS: dict[str, Callable[[Report], str]] = {"html": to_html, "json": to_json, "md": to_markdown}
__all__ = ["RENDERERS", "render", "to_html", "to_json", "to_markdown", "md", "console_symbol_url",
           "console_feature_url"]

