"""Inline SVG plots for the HTML report, drawn in Python: no plotting library, no scripts, no assets.

Every function returns one ``<svg>`` element as a string. Every piece of text that reaches the markup goes
through :func:`esc` (labels come from the ontologies and may contain anything). Tooltips are SVG
``<title>`` elements, which browsers show on hover without any JavaScript.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from kgalign.report.model import ConceptMap, Coverage, StabilityHistogram

#: Okabe–Ito, distinguishable with the common colour-vision deficiencies; then a few more.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#7F7F7F", "#8C564B")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def esc(text: object) -> str:
    """Escape for HTML/SVG text and attribute values.

    >>> esc('<script>"x" & y</script>')
    '&lt;script&gt;&quot;x&quot; &amp; y&lt;/script&gt;'
    """
    return html.escape(str(text), quote=True)


def colours(names: Sequence[str]) -> dict[str, str]:
    """A colour per graph name, stable for a given list."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=mag * 10)
    start = math.ceil(lo / step) * step
    ticks = []
    t = start
    while t <= hi + 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    for i, (name, colour) in enumerate(items):
        yy = y + i * 16
        parts.append(
            f'<rect x="{_fmt(x)}" y="{_fmt(yy - 9)}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_fmt(x + 14)}" y="{_fmt(yy)}">{esc(name)}</text>'
        )
    return "".join(parts)


def scatter_svg(cmap: ConceptMap, palette: dict[str, str], width: int = 760, height: int = 480) -> str:
    """The concept map: one dot per symbol, coloured by graph; pruning candidates ringed in black."""
    left, right, top, bottom = 50, 170, 20, 40
    pw, ph = width - left - right, height - top - bottom
    pts = cmap.points
    head = (f'<svg class="plot" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'{FONT} aria-label="concept map">')
    if not pts:
        return head + f'<text x="{left}" y="{top + 20}">no embedded symbols</text></svg>'
    xs = [p.x for p in pts]
    ys = [p.y for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    dx = (x1 - x0) or 1.0
    dy = (y1 - y0) or 1.0

    def sx(v: float) -> float:
        return left + (v - x0) / dx * pw

    def sy(v: float) -> float:
        return top + ph - (v - y0) / dy * ph

    out = [head, f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    ex = cmap.explained + [0.0, 0.0]
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 8}" text-anchor="middle">'
               f'PC1 ({ex[0]:.0%} of variance)</text>')
    out.append(f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f'PC2 ({ex[1]:.0%} of variance)</text>')
    # Ordinary symbols first, pruning candidates on top.
    for p in sorted(pts, key=lambda p: p.pruning):
        colour = palette.get(p.graph, "#777")
        tip = f"{p.label} — {p.graph}\n{p.iri}\nsupport stability {p.stability:.2f}"
        if p.pruning:
            tip += "\npruning candidate"
            shape = (f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="5" fill="{colour}" '
                     f'stroke="#000" stroke-width="1.6">')
        else:
            shape = (f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="3.5" fill="{colour}" '
                     f'fill-opacity="0.8">')
        out.append(f"{shape}<title>{esc(tip)}</title></circle>")
    items = [(g, c) for g, c in palette.items() if any(p.graph == g for p in pts)]
    out.append(_legend(items, width - right + 16, top + 14))
    ly = top + 14 + 16 * len(items) + 10
    out.append(f'<circle cx="{width - right + 21}" cy="{ly - 4}" r="5" fill="#fff" stroke="#000" '
               f'stroke-width="1.6"/><text x="{width - right + 30}" y="{ly}">pruning candidate</text>')
    if cmap.sampled_from > len(pts):
        out.append(f'<text x="{width - right + 16}" y="{ly + 20}">{len(pts)} of {cmap.sampled_from} '
                   "symbols</text>")
    out.append("</svg>")
    return "".join(out)


def histogram_svg(hist: StabilityHistogram, palette: dict[str, str], width: int = 760, height: int = 300) -> str:
    """Support stability, stacked by graph, with the instability threshold dashed."""
    left, right, top, bottom = 50, 170, 16, 40
    pw, ph = width - left - right, height - top - bottom
    n_bins = len(hist.edges) - 1
    totals = [sum(c[i] for c in hist.counts.values()) for i in range(n_bins)]
    ymax = max(totals, default=0) or 1
    out = [f'<svg class="plot" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'{FONT} aria-label="support stability histogram">']
    bw = pw / max(1, n_bins)
    for t in _nice_ticks(0, ymax, 4):
        y = top + ph - t / ymax * ph
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    for i in range(n_bins):
        base = 0
        for g, counts in hist.counts.items():
            c = counts[i]
            if not c:
                continue
            y = top + ph - (base + c) / ymax * ph
            h = c / ymax * ph
            tip = f"{g}: {c} symbols with stability {hist.edges[i]:.2f}–{hist.edges[i + 1]:.2f}"
            out.append(f'<rect x="{left + i * bw + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                       f'fill="{palette.get(g, "#777")}"><title>{esc(tip)}</title></rect>')
            base += c
    for i in range(0, n_bins + 1, max(1, n_bins // 10)):
        x = left + i * bw
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{hist.edges[i]:.1f}</text>')
    tx = left + hist.threshold * pw
    out.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{top + ph}" stroke="#c00" '
               f'stroke-dasharray="4 3"/><text x="{tx + 4:.1f}" y="{top + 12}" fill="#c00">'
               f'unstable below {hist.threshold:g}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#999"/>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 6}" text-anchor="middle">support stability</text>')
    out.append(_legend([(g, palette.get(g, "#777")) for g in hist.counts], width - right + 16, top + 14))
    out.append("</svg>")
    return "".join(out)


def coverage_svg(cov: Coverage, palette: dict[str, str], width: int = 760) -> str:
    """Features per graph (those only this graph loads on, solid; shared, pale) and pairwise overlaps."""
    left, right, bar = 190, 150, 18
    pw = width - left - right
    rows = len(cov.graphs) + 1 + (1 + len(cov.overlaps) if cov.overlaps else 0)
    height = 20 + rows * (bar + 10) + 10
    vmax = max([cov.claimed] + [g.n_features for g in cov.graphs]) or 1
    out = [f'<svg class="plot" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'{FONT} aria-label="feature coverage per graph">']
    y = 14

    def label(text: str, yy: float) -> str:
        return f'<text x="{left - 8}" y="{yy + 13:.1f}" text-anchor="end">{esc(text)}</text>'

    w = cov.claimed / vmax * pw
    out.append(label("all graphs", y))
    out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="#555">'
               f"<title>{esc(f'{cov.claimed} of {cov.d_sae} SAE features are loaded on by some symbol')}</title>"
               f'</rect><text x="{left + w + 6:.1f}" y="{y + 13}">{cov.claimed} of {cov.d_sae} features</text>')
    y += bar + 10
    for g in cov.graphs:
        colour = palette.get(g.name, "#777")
        we = g.n_exclusive_features / vmax * pw
        ws = (g.n_features - g.n_exclusive_features) / vmax * pw
        tip = f"{g.name}: {g.n_features} features, {g.n_exclusive_features} loaded on by no other graph"
        out.append(label(g.name, y))
        out.append(f'<rect x="{left}" y="{y}" width="{we:.1f}" height="{bar}" fill="{colour}">'
                   f"<title>{esc(tip)}</title></rect>")
        out.append(f'<rect x="{left + we:.1f}" y="{y}" width="{ws:.1f}" height="{bar}" fill="{colour}" '
                   f'fill-opacity="0.35"><title>{esc(tip)}</title></rect>')
        out.append(f'<text x="{left + we + ws + 6:.1f}" y="{y + 13}">{g.n_features} '
                   f"({g.n_exclusive_features} only here)</text>")
        y += bar + 10
    if cov.overlaps:
        out.append(f'<text x="{left}" y="{y + 12}" font-weight="bold">shared between two graphs</text>')
        y += bar + 10
        for o in cov.overlaps:
            w = o.shared / vmax * pw
            tip = f"{o.a} and {o.b} share {o.shared} features (Jaccard {o.jaccard:.2f})"
            out.append(label(f"{o.a} ∩ {o.b}", y))
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="#999">'
                       f"<title>{esc(tip)}</title></rect>"
                       f'<text x="{left + w + 6:.1f}" y="{y + 13}">{o.shared} (Jaccard {o.jaccard:.2f})</text>')
            y += bar + 10
    out.append("</svg>")
    return "".join(out)


def density_svg(edges: Sequence[float], counts: Sequence[float], width: int = 760, height: int = 220) -> str:
    """The SAE's feature density histogram (log10 firing frequency), from its ``metrics.json``."""
    left, right, top, bottom = 50, 20, 14, 40
    pw, ph = width - left - right, height - top - bottom
    n = min(len(counts), len(edges) - 1)
    ymax = max(counts[:n], default=0) or 1
    lo, hi = float(edges[0]), float(edges[n])
    span = (hi - lo) or 1.0
    out = [f'<svg class="plot" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'{FONT} aria-label="feature density histogram">']
    for i in range(n):
        x = left + (float(edges[i]) - lo) / span * pw
        w = (float(edges[i + 1]) - float(edges[i])) / span * pw
        h = float(counts[i]) / ymax * ph
        tip = f"{counts[i]:g} features with log10 density in [{edges[i]:g}, {edges[i + 1]:g})"
        out.append(f'<rect x="{x + 1:.1f}" y="{top + ph - h:.1f}" width="{max(0.0, w - 2):.1f}" height="{h:.1f}" '
                   f'fill="#0072B2"><title>{esc(tip)}</title></rect>')
    for i in range(0, n + 1, max(1, n // 8)):
        x = left + (float(edges[i]) - lo) / span * pw
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{float(edges[i]):g}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#999"/>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 6}" text-anchor="middle">'
               "log10 feature density (fraction of tokens a feature fires on)</text>")
    out.append("</svg>")
    return "".join(out)
