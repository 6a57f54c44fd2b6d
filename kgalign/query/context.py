"""The context a query runs in: symbols, store and concept space, plus SPARQL with the ``kga:``
functions and the matcher under the workspace's one policy (a :class:`typing.Protocol`;
:class:`kgalign.api.Workspace` satisfies it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kgalign.index.context import SpaceContext


class QueryContext(SpaceContext, Protocol):
    """What the DSL and the report need beyond the concept space."""

    def sparql(self, query: str, **kw: Any) -> Any: ...

    def matcher_plan(self, source: str, target: str, config: Any = None, *, neural: bool | None = None) -> Any: ...

    def match(self, source: str, target: str, config: Any = None, *, neural: bool | None = None,
              input_alignment: Any = None) -> Any: ...

    def match_all(self, graphs: Sequence[str] | None = None, config: Any = None) -> list[Any]: ...
