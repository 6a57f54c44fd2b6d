"""The store layer: one :class:`Store` protocol, kgalign's own RDF terms, and the backends.

Backends (the one registry, :data:`BACKENDS`):

- ``oxigraph`` (default): pyoxigraph embedded in the workspace directory
  (:class:`kgalign.symbolic.store.OxigraphStore`).
- ``oxigraph-server``: an Oxigraph server kgalign starts on the workspace directory
  (:mod:`kgalign.store.managed`), reached over the SPARQL protocols.
- ``sparql``: any SPARQL 1.1 server (Oxigraph server, Fuseki, Virtuoso, QLever...)
  (:class:`kgalign.store.remote.SparqlStore`).

``workspace.json`` names the backend under ``"store"``; no entry means the embedded store.
This package sits below every other layer: it imports nothing of kgalign but the errors and
the vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kgalign.errors import WorkspaceError
from kgalign.store.base import Capabilities, GraphInfo, ParsedGraph, Store, StoreError, StoreSnapshot
from kgalign.store.terms import BlankNode, Literal, NamedNode, Quad, Solution, Solutions, Triple, Triples


def _oxigraph(cfg: Mapping[str, Any], workspace: Path, read_only: bool) -> Store:
    from kgalign.symbolic.store import OxigraphStore

    location = cfg.get("location")
    path = Path(location) if location else workspace / "store"
    if location and not path.is_absolute():
        path = workspace / path
    return OxigraphStore(path, read_only=read_only)


def _sparql(cfg: Mapping[str, Any], workspace: Path, read_only: bool) -> Store:
    from kgalign.store.remote import EndpointConfig, SparqlStore

    return SparqlStore(EndpointConfig.from_dict(cfg), read_only=read_only)


def _oxigraph_server(cfg: Mapping[str, Any], workspace: Path, read_only: bool) -> Store:
    from kgalign.store.managed import open_managed

    return open_managed(cfg, workspace, read_only)


#: Backend name -> factory(config from workspace.json, workspace directory, read_only).
BACKENDS: dict[str, Callable[[Mapping[str, Any], Path, bool], Store]] = {
    "oxigraph": _oxigraph,
    "sparql": _sparql,
    "oxigraph-server": _oxigraph_server,
}
DEFAULT_BACKEND = "oxigraph"


def default_store_config() -> dict[str, Any] | None:
    """The store of a new workspace: ``$KGALIGN_STORE_BACKEND`` (``oxigraph``, the default, or
    ``oxigraph-server``; a remote server is chosen with ``kgalign init --sparql-endpoint``)."""
    name = os.environ.get("KGALIGN_STORE_BACKEND", "").strip()
    if not name or name == DEFAULT_BACKEND:
        return None
    if name != "oxigraph-server":
        raise WorkspaceError(
            f"KGALIGN_STORE_BACKEND={name!r}: new workspaces can use 'oxigraph' or 'oxigraph-server' "
            "(for a SPARQL server use 'kgalign init --sparql-endpoint URL')"
        )
    return {"backend": name}


def open_store(config: Mapping[str, Any] | None, workspace: Path, *, read_only: bool = False) -> Store:
    """The store ``config`` (the ``"store"`` entry of ``workspace.json``) describes."""
    cfg = dict(config or {})
    name = cfg.get("backend", DEFAULT_BACKEND)
    factory = BACKENDS.get(name)
    if factory is None:
        raise WorkspaceError(
            f"{workspace / 'workspace.json'}: unknown store backend {name!r}; known backends: {', '.join(sorted(BACKENDS))}"
        )
    return factory(cfg, workspace, read_only)


__all__ = [
    "BACKENDS",
    "BlankNode",
    "Capabilities",
    "GraphInfo",
    "Literal",
    "NamedNode",
    "ParsedGraph",
    "Quad",
    "Solution",
    "Solutions",
    "Store",
    "StoreError",
    "StoreSnapshot",
    "Triple",
    "Triples",
    "open_store",
]
