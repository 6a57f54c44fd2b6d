"""The query language: a Lark-parsed DSL for neuro-symbolic questions, one with SPARQL.

Stages: :func:`parse` (text → typed AST) → :func:`make_plan` (resolve names, plan operators)
→ :func:`run` (execute, typed :class:`Result`); :func:`explain` prints the plan.
Names are imported lazily, so parsing alone does not load the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "parse": "kgalign.query.parser",
    "run": "kgalign.query.engine",
    "explain": "kgalign.query.engine",
    "make_plan": "kgalign.query.engine",
    "Result": "kgalign.query.result",
    "SymbolHit": "kgalign.query.result",
    "FeatureHit": "kgalign.query.result",
    "PairHit": "kgalign.query.result",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kgalign.query' has no attribute {name!r}")
