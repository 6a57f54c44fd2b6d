"""The report's plots, drawn with matplotlib (Agg; no pyplot state, no display): inline SVG for the HTML
page, PNG and SVG files that the Markdown report links.

Every plot has labelled axes with ticks. Text is kept as SVG ``<text>`` (``svg.fonttype = none``), so the
inline plots are searchable and small; matplotlib escapes it for XML, and ontology labels are drawn with
``parse_math=False`` so a ``$`` in a label is a dollar sign, not TeX.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kgalign.report.model import Report
from kgalign.report.svg import PALETTE, colours

#: Points labelled on the concept map.
MAP_LABELS = 12
RC = {"svg.fonttype": "none", "svg.hashsalt": "kgalign", "font.size": 9, "axes.titlesize": 10,
      "axes.spines.top": False, "axes.spines.right": False}


def _figure(width: float = 7.6, height: float = 3.2) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _short(text: str, n: int = 28) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ----------------------------------------------------------------------------------------------- plots


def concept_map(report: Report) -> Figure | None:
    cmap = report.map
    if not cmap.points:
        return None
    palette = colours([g.name for g in report.summary.graphs])
    fig = _figure(7.6, 5.0)
    ax = fig.add_subplot()
    by_graph: dict[str, list] = {}
    for p in cmap.points:
        by_graph.setdefault(p.graph, []).append(p)
    for g, pts in by_graph.items():
        ax.scatter([p.x for p in pts], [p.y for p in pts], s=10, alpha=0.65, color=palette.get(g, PALETTE[0]),
                   label=_short(g, 24), linewidths=0)
    pruned = [p for p in cmap.points if p.pruning]
    if pruned:
        ax.scatter([p.x for p in pruned], [p.y for p in pruned], s=40, facecolors="none", edgecolors="#b00020",
                   linewidths=1.0, label="pruning candidate")
    # the most important points: pruning candidates (least stable first), then the most extreme points
    cx = sum(p.x for p in cmap.points) / len(cmap.points)
    cy = sum(p.y for p in cmap.points) / len(cmap.points)
    extreme = sorted(cmap.points, key=lambda p: -((p.x - cx) ** 2 + (p.y - cy) ** 2))
    chosen = sorted(pruned, key=lambda p: p.stability)[:MAP_LABELS]
    for p in extreme:
        if len(chosen) >= MAP_LABELS:
            break
        if p not in chosen:
            chosen.append(p)
    for i, p in enumerate(chosen):
        ax.annotate(_short(p.label, 24), (p.x, p.y), xytext=(4, 4 if i % 2 else -9), textcoords="offset points",
                    fontsize=7, color="#b00020" if p.pruning else "#333", parse_math=False)
    ex = cmap.explained
    ax.set_xlabel(f"PC1 ({ex[0]:.1%} of variance)")
    ax.set_ylabel(f"PC2 ({ex[1]:.1%} of variance)")
    title = f"Concept map: {len(cmap.points)} symbols"
    if cmap.neighbour_overlap is not None:
        title += f"; {cmap.neighbour_overlap:.0%} of 10-nearest neighbours kept"
    ax.set_title(title)
    ax.legend(loc="best", fontsize=7, markerscale=1.5, frameon=False)
    ax.grid(alpha=0.2)
    return fig


def stability(report: Report) -> Figure | None:
    hist = report.stability
    if not hist.counts:
        return None
    palette = colours([g.name for g in report.summary.graphs])
    fig = _figure()
    ax = fig.add_subplot()
    edges = hist.edges
    width = edges[1] - edges[0] if len(edges) > 1 else 0.05
    bottom = [0] * (len(edges) - 1)
    for g, counts in hist.counts.items():
        ax.bar(edges[:-1], counts, width=width, bottom=bottom, align="edge", color=palette.get(g, PALETTE[0]),
               label=_short(g, 24), edgecolor="white", linewidth=0.5)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.axvline(hist.threshold, color="#b00020", linestyle="--", linewidth=1)
    ax.annotate(f"unstable below {hist.threshold:g}", (hist.threshold, max(bottom or [1])), xytext=(4, -10),
                textcoords="offset points", fontsize=8, color="#b00020")
    ax.set_xlabel("support stability (mean Jaccard of the features across contexts)")
    ax.set_ylabel("symbols")
    ax.set_xlim(0, 1)
    ax.set_title("Support stability of every embedded symbol")
    ax.legend(fontsize=7, frameon=False)
    return fig


def coverage(report: Report) -> Figure | None:
    graphs = report.coverage.graphs
    if not graphs:
        return None
    fig = _figure(7.6, max(1.6, 0.45 * len(graphs) + 1.0))
    ax = fig.add_subplot()
    names = [_short(g.name, 24) for g in graphs]
    only = [g.n_exclusive_features for g in graphs]
    shared = [g.n_features - g.n_exclusive_features for g in graphs]
    ax.barh(names, only, color=PALETTE[0], label="only this graph")
    ax.barh(names, shared, left=only, color="#9ecae1", label="also another graph")
    ax.invert_yaxis()
    ax.set_xlabel(f"SAE features loaded on (of {report.coverage.d_sae})")
    ax.set_title("Feature coverage per graph")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return fig


def density(report: Report) -> Figure | None:
    h = report.sae.density_histogram
    if not h or not h.get("counts"):
        return None
    edges, counts = h["log10_bin_edges"], h["counts"]
    fig = _figure(7.6, 2.8)
    ax = fig.add_subplot()
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color=PALETTE[0], edgecolor="white", linewidth=0.5)
    ax.set_xlabel("feature density: log10 of the fraction of tokens it fires on")
    ax.set_ylabel("features")
    ax.set_title("How often the SAE's features fire")
    return fig


def behaviour(report: Report) -> Figure | None:
    checks = [c for c in report.behaviour.checks if math.isfinite(c.z)]
    if not checks:
        return None
    checks.sort(key=lambda c: c.z)
    fig = _figure(7.6, max(2.0, 0.22 * len(checks) + 1.0))
    ax = fig.add_subplot()
    names = [_short(f"{c.label} · #{c.feature}", 36) for c in checks]
    ax.barh(range(len(checks)), [c.z for c in checks], color=["#1b7f3b" if c.passed else "#999" for c in checks])
    ax.set_yticks(range(len(checks)), names, fontsize=7)
    for t in ax.get_yticklabels():
        t.set_parse_math(False)
    ax.axvline(2.0, color="#b00020", linestyle="--", linewidth=1)
    ax.axvline(0.0, color="#333", linewidth=0.6)
    ax.set_xlabel("z: effect of the edit against random features of the same strength (pass at z >= 2)")
    ax.set_title("Behavioural checks (green: passed)")
    return fig


#: name -> (plot, title), in the order the report shows them
PLOTS: dict[str, tuple[Callable[[Report], Figure | None], str]] = {
    "concept-map": (concept_map, "Concept map"),
    "stability": (stability, "Support stability"),
    "coverage": (coverage, "Feature coverage"),
    "density": (density, "SAE feature density"),
    "behaviour": (behaviour, "Behavioural checks"),
}


# ----------------------------------------------------------------------------------------------- output


def _svg_bytes(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "kgalign"})
    return buf.getvalue()


def render(name: str, report: Report) -> Figure | None:
    with matplotlib.rc_context(RC):
        return PLOTS[name][0](report)


def inline_svg(name: str, report: Report) -> str:
    """The plot as an ``<svg>`` element to put in HTML (``""`` when there is nothing to plot)."""
    fig = render(name, report)
    if fig is None:
        return ""
    svg = _svg_bytes(fig)
    svg = svg[svg.index("<svg"):]
    title = PLOTS[name][1]
    svg = re.sub(r"<svg ", f'<svg class="plot" role="img" aria-label="{title}" data-plot="{name}" ', svg, count=1)
    return re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", svg, count=1)


def write_plots(report: Report, out_dir: str | Path) -> dict[str, dict[str, Path]]:
    """Every plot as ``NAME.png`` and ``NAME.svg`` in ``out_dir``; returns ``{name: {"png": p, "svg": p}}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, dict[str, Path]] = {}
    for name in PLOTS:
        fig = render(name, report)
        if fig is None:
            continue
        paths = {}
        for fmt in ("png", "svg"):
            path = out / f"{name}.{fmt}"
            tmp = path.with_name(path.name + ".tmp")
            with matplotlib.rc_context(RC), open(tmp, "wb") as fh:
                fig.savefig(fh, format=fmt, dpi=120, metadata={"Date": None} if fmt == "svg" else None)
            tmp.replace(path)
            paths[fmt] = path
        written[name] = paths
    return written
