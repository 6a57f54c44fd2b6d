"""The query language: a Lark-parsed DSL for neuro-symbolic questions, one with SPARQL.

Stages: :func:`parse` (text → typed AST) → :func:`make_plan` (resolve names, plan operators)
→ :func:`run` (execute, typed :class:`Result`); :func:`explain` prints the plan.
"""

from __future__ import annotations

from kgalign.query.engine import explain, make_plan, run
from kgalign.query.parser import parse
from kgalign.query.result import FeatureHit, PairHit, Result, SymbolHit

__all__ = ["FeatureHit", "PairHit", "Result", "SymbolHit", "explain", "make_plan", "parse", "run"]
