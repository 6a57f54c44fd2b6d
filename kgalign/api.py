"""The public Python facade: a :class:`Workspace` over one directory.

The CLI and the HTTP server are thin layers over this class; everything they do is
a call a user could make from Python::

    from kgalign.api import Workspace
    ws = Workspace.open("./.kgalign")
    ws.load("ontologies/tort-owl.ttl")
    ws.resolve("duty_of_care")
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgalign.errors import UnknownNameError, UsageError, WorkspaceError
from kgalign.symbolic.loaders import LoadReport, load_file
from kgalign.symbolic.resolve import SymbolTable
from kgalign.symbolic.store import GraphInfo, OxigraphStore
from kgalign.symbolic.symbols import KINDS, Symbol, read_symbols

DEFAULT_WORKSPACE = ".kgalign"
CONFIG_FILE = "workspace.json"
FORMAT_VERSION = 1


def default_workspace_path() -> Path:
    return Path(os.environ.get("KGALIGN_WORKSPACE", DEFAULT_WORKSPACE))


@dataclass
class WorkspaceConfig:
    """What the workspace was built with; written to ``workspace.json``."""

    format_version: int = FORMAT_VERSION
    model: str = "minilm"
    layer: int | None = None
    sae: str | None = None  # a directory in SAELens layout; None = the shipped default
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> WorkspaceConfig:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise WorkspaceError(f"{path}:{e.lineno}:{e.colno}: corrupt workspace config: {e.msg}") from None
        known = {k: data[k] for k in ("format_version", "model", "layer", "sae", "extra") if k in data}
        cfg = cls(**known)
        if cfg.format_version > FORMAT_VERSION:
            raise WorkspaceError(f"{path}: workspace format {cfg.format_version} is newer than this kgalign understands")
        return cfg

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2) + "\n")
        os.replace(tmp, path)


def shipped_ontologies() -> list[Path]:
    """The demo symbolic systems: from the installed package, else the source tree."""
    from importlib import resources

    candidates: list[Path] = []
    try:
        pkg = resources.files("kgalign.ontologies")
        candidates.append(Path(str(pkg)))
    except (ModuleNotFoundError, TypeError):
        pass
    candidates.append(Path(__file__).resolve().parent.parent / "ontologies")
    for d in candidates:
        files = sorted(
            p for p in d.glob("*") if p.suffix in (".ttl", ".jsonld", ".rdf", ".owl", ".nt", ".trig", ".obo", ".owx")
        )
        if files:
            return files
    raise WorkspaceError("the demo ontologies are not installed (expected an 'ontologies' directory)")


class Workspace:
    """One kgalign workspace directory: the store and everything later stages add."""

    def __init__(
        self,
        path: str | Path | None = None,
        store: OxigraphStore | None = None,
        config: WorkspaceConfig | None = None,
        read_only: bool = False,
        *,
        create: bool = True,
    ) -> None:
        """``Workspace(path)`` opens (and by default creates) the workspace at ``path``, as :meth:`open`."""
        if store is None or config is None:
            path, store, config = self._open_parts(path, create=create, read_only=read_only)
        path = Path(path) if path is not None else default_workspace_path()
        self.path = path
        self.store = store
        self.config = config
        self.read_only = read_only
        self._table: SymbolTable | None = None
        self._space: Any = None
        #: Guards the cached symbol table and concept space; held only briefly.
        self._lock = threading.RLock()
        #: Serialises writers (loads, drops, embeds, updates); readers never wait for it.
        self._write_lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True, read_only: bool = False) -> Workspace:
        """Open (and by default create) the workspace at ``path`` (default ``./.kgalign``)."""
        return cls(*cls._open_parts(path, create=create, read_only=read_only), read_only)

    @staticmethod
    def _open_parts(
        path: str | Path | None, *, create: bool, read_only: bool
    ) -> tuple[Path, OxigraphStore, WorkspaceConfig]:
        p = Path(path) if path is not None else default_workspace_path()
        cfg_path = p / CONFIG_FILE
        if not cfg_path.exists():
            if read_only or not create:
                raise WorkspaceError(f"no kgalign workspace at {p} (create one with 'kgalign load FILE')")
            p.mkdir(parents=True, exist_ok=True)
            WorkspaceConfig().write(cfg_path)
        elif not p.is_dir():
            raise WorkspaceError(f"{p} is not a directory")
        config = WorkspaceConfig.read(cfg_path)
        store = OxigraphStore(p / "store", read_only=read_only)
        return p, store, config

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_config(self) -> None:
        if self.read_only:
            raise WorkspaceError("the workspace is open read-only")
        self.config.write(self.path / CONFIG_FILE)

    # -- symbolic ------------------------------------------------------------------------

    def load(self, path: str | Path, *, name: str | None = None, format: str | None = None) -> LoadReport:
        """Load one artefact into its own named graph (atomically replacing an earlier load)."""
        with self._write_lock:
            report = load_file(self.store, path, name=name, format=format)
            self._after_load(report.info.name)
        with self._lock:
            self._table = None
        return report

    def _after_load(self, graph: str) -> None:
        """Hook for later stages (the neural layer marks the graph's vectors stale)."""
        marker = self.path / "stale.json"
        stale = set(json.loads(marker.read_text())) if marker.exists() else set()
        stale.add(graph)
        marker.write_text(json.dumps(sorted(stale)))

    def load_many(self, paths: Iterable[str | Path]) -> list[LoadReport]:
        return [self.load(p) for p in paths]

    def drop(self, graph: str) -> None:
        self.require_graph(graph)
        with self._write_lock:
            self.store.drop_artefact(graph)
        with self._lock:
            self._table = None

    def graphs(self) -> list[GraphInfo]:
        return self.store.graphs()

    def graph_names(self) -> list[str]:
        return [g.name for g in self.graphs()]

    def require_graph(self, graph: str) -> str:
        names = self.graph_names()
        if graph not in names:
            raise UnknownNameError.among("graph", graph, names)
        return graph

    @property
    def symbol_table(self) -> SymbolTable:
        """Every symbol of every graph, read once and kept until the next load."""
        with self._lock:
            if self._table is None:
                symbols: list[Symbol] = []
                prefixes: dict[str, dict[str, str]] = {}
                for g in self.graph_names():
                    symbols.extend(read_symbols(self.store, g))
                    prefixes[g] = self.store.prefixes(g)
                self._table = SymbolTable(symbols, prefixes)
            return self._table

    def symbols(self, graph: str | None = None, kind: str | None = None) -> list[Symbol]:
        if kind is not None and kind not in KINDS:
            raise UsageError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
        if graph is not None:
            self.require_graph(graph)
        table = self.symbol_table
        found = table.in_graph(graph) if graph else list(table)
        return [s for s in found if kind is None or s.kind == kind]

    def resolve(self, name: str, graph: str | None = None, *, strict: bool = False) -> list[Symbol]:
        """Every symbol ``name`` may mean, best first: a :class:`kgalign.rows.Resolution` (a list)
        that carries the closest names as ``suggestions`` when empty; ``strict`` raises
        :class:`UnknownNameError` with them instead."""
        from kgalign.rows import Resolution

        if graph is not None:
            self.require_graph(graph)
        found = self.symbol_table.resolve(name, graph)
        if found:
            return Resolution(name, found)
        suggestions = self.symbol_table.suggest(name, graph)
        if strict:
            raise UnknownNameError("symbol", name, suggestions)
        return Resolution(name, (), suggestions)

    def resolve_one(self, name: str, graph: str | None = None) -> Symbol:
        return self.symbol_table.resolve_one(name, graph)

    def symbol(self, iri: str, graph: str | None = None) -> Symbol:
        s = self.symbol_table.get(iri, graph)
        if s is None:
            raise UnknownNameError("symbol", iri, self.symbol_table.suggest(iri))
        return s

    # -- neural --------------------------------------------------------------------------

    def embed(self, graphs: Sequence[str] | None = None, **kw: Any) -> Any:
        """Place every symbol (of all graphs, or of ``graphs``) in the SAE's feature space.

        Returns an :class:`kgalign.index.build.EmbedReport`.
        """
        from kgalign.index.build import embed_workspace

        if self.read_only:
            raise WorkspaceError("the workspace is open read-only; embedding writes to it")
        with self._write_lock:
            return embed_workspace(self, graphs=graphs, **kw)

    @property
    def space(self) -> Any:
        """The workspace's :class:`kgalign.index.space.ConceptSpace` (loaded once, until the next embed)."""
        from kgalign.index.space import ConceptSpace

        with self._lock:
            if self._space is None:
                self._space = ConceptSpace.open(self.path)
            return self._space

    def has_space(self) -> bool:
        return (self.path / "neural" / "run.json").exists()

    def invalidate_space(self) -> None:
        with self._lock:
            self._space = None

    def stale_graphs(self) -> list[str]:
        """Graphs loaded or reloaded since the last embed."""
        marker = self.path / "stale.json"
        return json.loads(marker.read_text()) if marker.exists() else []

    def sparql_functions(self) -> dict[Any, Any]:
        """The ``kga:`` SPARQL extension functions over this workspace's concept space ({} before embed)."""
        from kgalign.query.functions import custom_functions

        if not self.has_space():
            return {}
        with self._lock:
            space = self.space
            if getattr(self, "_functions_for", None) is not space:
                self._functions = custom_functions(space)
                self._functions_for = space
            return self._functions

    def sparql(self, query: str, **kw: Any) -> Any:
        """Run a SPARQL query over the store (artefact, provenance and neural graphs), with the
        ``kga:`` extension functions once embedded: a :class:`kgalign.rows.SparqlResult` of
        kgalign's own typed rows (:meth:`sparql_raw` gives the store's lazy result)."""
        from kgalign.rows import from_oxigraph

        return from_oxigraph(self.sparql_raw(query, **kw))

    def sparql_raw(self, query: str, **kw: Any) -> Any:
        """:meth:`sparql` as the store library's own (lazy) result, for serialising."""
        if "custom_functions" not in kw:
            kw["custom_functions"] = self.sparql_functions() or None
        return self.store.query(query, **kw)

    def sparql_update(self, update: str) -> None:
        with self._write_lock:
            self.store.update(update)
        with self._lock:
            self._table = None
