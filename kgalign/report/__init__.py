"""The ontology-pruning report: build it from an embedded workspace, render it as HTML, JSON or Markdown.

Stages::

    build_report(ws, alignments=..., behaviour=True) -> Report      (kgalign.report.build)
    to_html(report) / to_json(report) / to_markdown(report) -> str  (kgalign.report.render)
    write_report(ws, out_dir, formats=("html", "json", "md")) -> {format: path}

The names are imported on first use, so that ``import kgalign.report`` (e.g. by the CLI, to list the
formats) stays cheap.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgalign.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.query.context import QueryContext
    from kgalign.report.build import build_report
    from kgalign.report.model import SECTIONS, Report, report_to_dict
    from kgalign.report.render import to_html, to_json, to_markdown

#: Report formats and the file each is written to.
FORMATS: dict[str, str] = {"html": "report.html", "json": "report.json", "md": "report.md"}

_LAZY = {
    "build_report": "kgalign.report.build",
    "SECTIONS": "kgalign.report.model",
    "Report": "kgalign.report.model",
    "report_to_dict": "kgalign.report.model",
    "to_html": "kgalign.report.render",
    "to_json": "kgalign.report.render",
    "to_markdown": "kgalign.report.render",
    "RENDERERS": "kgalign.report.render",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kgalign.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def write_report(
    ws: QueryContext,
    out_dir: str | os.PathLike[str],
    formats: Sequence[str] = ("html", "json", "md"),
    *,
    alignments: Sequence[Any] | None = None,
    behaviour: bool = True,
    report: Report | None = None,
    **build_options: Any,
) -> dict[str, Path]:
    """Build the report (unless ``report`` is given) and write it to ``out_dir`` in each of ``formats``.

    Beside them: ``prune.tsv`` (the prune list) and, with Markdown, the plots it links (``plots/NAME.png``
    and ``.svg``). Each file is written to a temporary name and renamed into place. Returns
    ``{format: path}`` plus ``"prune"`` (and ``"plots"``, the folder).
    """
    from kgalign.report.build import build_report
    from kgalign.report.render import RENDERERS

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown report format(s) {', '.join(unknown)}; known formats: {', '.join(FORMATS)}")
    if report is None:
        report = build_report(ws, alignments=alignments, behaviour=behaviour, **build_options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt in dict.fromkeys(formats):
        path = out / FORMATS[fmt]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(RENDERERS[fmt](report), encoding="utf-8")
        os.replace(tmp, path)
        paths[fmt] = path
    from kgalign.report.curate import prune_tsv
    from kgalign.report.render import PLOTS_DIR, PRUNE_FILE

    prune = out / PRUNE_FILE
    tmp = prune.with_name(prune.name + ".tmp")
    tmp.write_text(prune_tsv(report.prune_list), encoding="utf-8")
    os.replace(tmp, prune)
    paths["prune"] = prune
    if "md" in formats:
        try:
            from kgalign.report.plots import write_plots
        except ImportError:  # pragma: no cover - matplotlib is a dependency
            pass
        else:
            write_plots(report, out / PLOTS_DIR)
            paths["plots"] = out / PLOTS_DIR
    return paths


__all__ = [
    "FORMATS",
    "RENDERERS",
    "SECTIONS",
    "Report",
    "build_report",
    "report_to_dict",
    "to_html",
    "to_json",
    "to_markdown",
    "write_report",
]
