"""kgalign: align knowledge graphs in the concept coordinate system of a sparse autoencoder.

The Python API, imported lazily so ``import kgalign`` stays cheap::

    from kgalign import Workspace, Matcher, MatcherConfig, run_query, write_report
    ws = Workspace(".kgalign")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> (module, attribute); modules are imported on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "Workspace": ("kgalign.api", "Workspace"),
    "Matcher": ("kgalign.align.matcher", "Matcher"),
    "MatcherConfig": ("kgalign.align.config", "MatcherConfig"),
    "Alignment": ("kgalign.align.candidates", "Alignment"),
    "run_query": ("kgalign.query", "run"),
    "explain_query": ("kgalign.query", "explain"),
    "write_report": ("kgalign.report", "write_report"),
    "SparqlResult": ("kgalign.rows", "SparqlResult"),
    "Row": ("kgalign.rows", "Row"),
    "Term": ("kgalign.rows", "Term"),
    "KgalignError": ("kgalign.errors", "KgalignError"),
    "UnknownNameError": ("kgalign.errors", "UnknownNameError"),
}
#: where a name lived before the module named in _LAZY existed.
_FALLBACK = {"MatcherConfig": ("kgalign.align.matcher", "MatcherConfig")}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from kgalign.align.candidates import Alignment  # noqa: F401
    from kgalign.align.matcher import Matcher, MatcherConfig  # noqa: F401
    from kgalign.api import Workspace  # noqa: F401
    from kgalign.errors import KgalignError, UnknownNameError  # noqa: F401
    from kgalign.query import explain as explain_query  # noqa: F401
    from kgalign.query import run as run_query  # noqa: F401
    from kgalign.report import write_report  # noqa: F401
    from kgalign.rows import Row, SparqlResult, Term  # noqa: F401


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'kgalign' has no attribute {name!r}")
    module, attr = _LAZY[name]
    try:
        value = getattr(importlib.import_module(module), attr)
    except (ModuleNotFoundError, AttributeError):
        if name not in _FALLBACK:
            raise
        module, attr = _FALLBACK[name]
        value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
