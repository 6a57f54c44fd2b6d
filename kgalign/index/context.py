"""The context the index layer and those above it are given: the symbolic context plus the concept
space and the workspace directory it lives in (a :class:`typing.Protocol`; :class:`kgalign.api.Workspace`
satisfies it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kgalign.symbolic.context import SymbolContext

if TYPE_CHECKING:
    from kgalign.index.space import ConceptSpace


class SpaceContext(SymbolContext, Protocol):
    """Symbols, store, and the live concept space (only the graphs the store has now)."""

    #: the workspace directory (``neural/``, ``index/``, ``workspace.json``)
    path: Path
    #: what the workspace was built with (model, layer, SAE)
    config: Any

    @property
    def space(self) -> ConceptSpace: ...

    def has_space(self) -> bool: ...

    def stale_graphs(self) -> list[str]: ...

    def invalidate_space(self) -> None: ...
