"""The bridge check in the report's header: the figures ``kgalign check`` measured on this workspace.

Read from ``neural/check.json`` (written by :func:`kgalign.align.check.save_check`), never recomputed here;
when there is none for the current embed run the header says how to get one.
"""

from __future__ import annotations

from html import escape as esc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.query.context import QueryContext as Workspace

__all__ = ["bridge_check", "check_html", "check_markdown"]

_MISSING = "no bridge check for this embed run yet: run 'kgalign check' to measure how far the SAE can be trusted here"


def bridge_check(ws: Workspace) -> dict[str, Any] | None:
    """The saved check of the workspace's current run, as JSON-ready data, or ``None``."""
    from kgalign.align.check import load_check

    res = load_check(ws)
    if res is None:
        return None
    d = res.to_dict()
    d.pop("behaviour", None)
    d["behaviour"] = {"tests": res.behaviour.get("tests", {})}
    return d


def _mark(ok: bool | None) -> str:
    return {True: "trusted", False: "not trusted", None: "not measured"}[ok]


def check_html(check: dict[str, Any] | None) -> str:
    """A small section for the top of the HTML report."""
    if not check:
        return f'<section id="check"><h2>Bridge check</h2><p class="lead">{esc(_MISSING)}</p></section>'
    rows = "".join(
        f"<tr><td>{esc(v['claim'])}</td><td>{esc(_mark(v['ok']))}</td><td>{esc(v['figure'])}</td>"
        f"<td>{esc(v.get('detail') or '')}</td></tr>"
        for v in check.get("verdicts", [])
    )
    return (
        '<section id="check"><h2>Bridge check</h2>'
        f'<p class="lead"><strong>{esc(check.get("summary", ""))}</strong> — measured by <code>kgalign check</code> '
        f'on {check.get("n_symbols", 0)} symbols at {esc(str(check.get("created", "")))}; every neural claim below '
        "is as reliable as its kind measured here.</p>"
        "<table><thead><tr><th>claim kind</th><th>verdict</th><th>measured on this workspace</th><th></th></tr>"
        f"</thead><tbody>{rows}</tbody></table></section>"
    )


def check_markdown(check: dict[str, Any] | None) -> list[str]:
    """The same section as Markdown lines."""
    if not check:
        return ["## Bridge check", "", _MISSING, ""]
    out = ["## Bridge check", "", f"**{check.get('summary', '')}** (kgalign check, {check.get('created', '')})", "",
           "| claim kind | verdict | measured on this workspace |", "|---|---|---|"]
    for v in check.get("verdicts", []):
        fig = str(v["figure"]).replace("|", "\\|")
        out.append(f"| {v['claim']} | {_mark(v['ok'])} | {fig} |")
    return out + [""]
