"""The parts of kgalign an endpoint may need that a given build may lack, imported lazily.

Each function returns the callable the endpoint uses or raises
:class:`~kgalign.server.errors.NotAvailable` (501) naming what is missing, so the
server starts and serves everything else whatever is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from kgalign.server.errors import NotAvailable


def _attr(module: str, name: str) -> Any | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(mod, name, None)


def dsl_runner() -> Callable[[Any, str], Any]:
    """``kgalign.query.run(ws, text) -> Result`` (with ``.columns``, ``.rows``, ``.to_dict()``)."""
    run = _attr("kgalign.query", "run")
    if run is None:
        raise NotAvailable("the query language (DSL)", "kgalign.query.run", "use /sparql meanwhile")
    return run


def has_dsl() -> bool:
    return _attr("kgalign.query", "run") is not None


def matcher_class() -> Any:
    cls = _attr("kgalign.align.matcher", "Matcher")
    if cls is None:
        raise NotAvailable("the matcher", "kgalign.align.matcher.Matcher")
    return cls


def matcher_config_class() -> Any | None:
    return _attr("kgalign.align.matcher", "MatcherConfig")


def alignment_writer(fmt: str) -> Callable[[Any], str]:
    """The text writer of an alignment format: ``alignment`` (Alignment API RDF/XML) or ``sssom`` (TSV)."""
    name = {"alignment": "alignment_rdf", "sssom": "sssom_tsv"}[fmt]
    fn = _attr("kgalign.align.formats", name)
    if fn is None:
        raise NotAvailable(f"the {fmt} writer", f"kgalign.align.formats.{name}")
    return fn


def alignment_reader() -> Callable[..., Any]:
    fn = _attr("kgalign.align.formats", "read_alignment_rdf")
    if fn is None:
        raise NotAvailable("reading Alignment API files", "kgalign.align.formats.read_alignment_rdf")
    return fn


def stored_alignments() -> Callable[[Any], list[Any]] | None:
    """``read_from_store(ws)``: the alignments recorded in the mappings graph (None if not installed)."""
    return _attr("kgalign.align.formats", "read_from_store")


def neural_scorer_installed() -> bool:
    try:
        from kgalign.align.scoring import scorer_class

        scorer_class("neural")
        return True
    except Exception:
        return False


def report_html() -> Callable[..., str]:
    """``html(ws, alignments=[...], behaviour=False) -> str``: the pruning report, built and rendered in memory
    (``kgalign.report.build_report`` and ``to_html``)."""
    build = _attr("kgalign.report", "build_report")
    to_html = _attr("kgalign.report", "to_html")
    if build is None or to_html is None:
        raise NotAvailable("the pruning report", "kgalign.report.build_report and to_html")

    def html(ws: Any, **kw: Any) -> str:
        return to_html(ws.report(**kw))

    return html
