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
from kgalign.store import Store, default_store_config, open_store
from kgalign.store.base import GraphInfo
from kgalign.symbolic.loaders import LoadReport, load_file
from kgalign.symbolic.resolve import SymbolTable
from kgalign.symbolic.symbols import KINDS, Symbol, read_symbols

DEFAULT_WORKSPACE = ".kgalign"
CONFIG_FILE = "workspace.json"
FORMAT_VERSION = 1
#: the evidence an embedded workspace adds to every match (see :meth:`Workspace.matcher_plan`): the SAE's
#: concept vectors and the base model's sentence embeddings; Conference ra1 .750 -> .756 and the WordNet
#: pair .711 -> .712 with both, see benchmarks/oaei_conference.py and benchmarks/wordnet_pair.py
NEURAL_POLICY_SCORERS = ("neural", "dense")


def default_workspace_path() -> Path:
    return Path(os.environ.get("KGALIGN_WORKSPACE", DEFAULT_WORKSPACE))


@dataclass
class WorkspaceConfig:
    """What the workspace was built with; written to ``workspace.json``."""

    format_version: int = FORMAT_VERSION
    model: str = "minilm"
    layer: int | None = None
    sae: str | None = None  # a directory in SAELens layout; None = the shipped default
    #: The store backend (see :mod:`kgalign.store`); None = the embedded store in ``store/``.
    store: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> WorkspaceConfig:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise WorkspaceError(f"{path}:{e.lineno}:{e.colno}: corrupt workspace config: {e.msg}") from None
        known = {k: data[k] for k in ("format_version", "model", "layer", "sae", "store", "extra") if k in data}
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
        store: Store | None = None,
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
        #: the ``neural/run.json`` stamp and generation the cached space was built for
        self._space_for: tuple[int | None, int] | None = None
        self._functions: dict[Any, Any] | None = None
        self._functions_for: Any = None
        #: Bumped by every write (load, drop, update, embed): caches above the workspace key on it.
        self.generation = 0
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
    ) -> tuple[Path, Store, WorkspaceConfig]:
        p = Path(path) if path is not None else default_workspace_path()
        cfg_path = p / CONFIG_FILE
        if not cfg_path.exists():
            if read_only or not create:
                raise WorkspaceError(f"no kgalign workspace at {p} (create one with 'kgalign load FILE')")
            p.mkdir(parents=True, exist_ok=True)
            WorkspaceConfig(store=default_store_config()).write(cfg_path)
        elif not p.is_dir():
            raise WorkspaceError(f"{p} is not a directory")
        config = WorkspaceConfig.read(cfg_path)
        store = open_store(config.store, p, read_only=read_only)
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

    def load(
        self, path: str | Path, *, name: str | None = None, format: str | None = None, follow_imports: bool = False
    ) -> LoadReport:
        """Load one artefact into its own named graph (atomically replacing an earlier load).

        Imports are never followed unless ``follow_imports`` (the CLI's ``--follow-imports``).
        """
        with self._write_lock:
            try:
                report = load_file(self.store, path, name=name, format=format, follow_imports=follow_imports)
                self._after_load(report.info.name)
            finally:
                self.invalidate()
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
        """Drop an artefact's graph. Its symbols leave every answer at once: the symbol table and
        the live concept space are rebuilt without them (the concept vectors on disk stay until the
        next embed, which rewrites them; the live space filters them out), its neural facts are
        deleted from the neural graph and the alignments it takes part in from the mappings graph."""
        self.require_graph(graph)
        with self._write_lock:
            try:
                self.store.drop_artefact(graph)
                self._after_drop(graph)
            finally:
                self.invalidate()

    def _after_drop(self, graph: str) -> None:
        from kgalign.symbolic.store import escape_iri
        from kgalign.symbolic.vocab import KGA, MAPPINGS_GRAPH, NEURAL_GRAPH, graph_iri

        marker = self.path / "stale.json"
        if marker.exists():
            stale = set(json.loads(marker.read_text())) - {graph}
            marker.write_text(json.dumps(sorted(stale)))
        g = escape_iri(graph_iri(graph))
        if self.store.has_graph(MAPPINGS_GRAPH):
            # Alignments with the graph on either side go: evidence, the direct mapping triples, the
            # reified mappings, the alignment.
            m, side = MAPPINGS_GRAPH, f"{{ ?a <{KGA}sourceGraph> <{g}> }} UNION {{ ?a <{KGA}targetGraph> <{g}> }}"
            self.store.update(
                f"""DELETE {{ GRAPH <{m}> {{ ?e ?p ?o }} }} WHERE {{ GRAPH <{m}> {{ {side}
                        ?r <{KGA}inAlignment> ?a ; <{KGA}evidence> ?e . ?e ?p ?o }} }} ;
                DELETE {{ GRAPH <{m}> {{ ?s ?pred ?o }} }} WHERE {{ GRAPH <{m}> {{ {side}
                        ?r <{KGA}inAlignment> ?a ; <{KGA}subject> ?s ; <{KGA}predicate> ?pred ; <{KGA}object> ?o }} }} ;
                DELETE {{ GRAPH <{m}> {{ ?r ?p ?o }} }} WHERE {{ GRAPH <{m}> {{ {side}
                        ?r <{KGA}inAlignment> ?a . ?r ?p ?o }} }} ;
                DELETE {{ GRAPH <{m}> {{ ?a ?p ?o }} }} WHERE {{ GRAPH <{m}> {{ {side} ?a ?p ?o }} }}"""
            )
        if not self.store.has_graph(NEURAL_GRAPH):
            return
        n = NEURAL_GRAPH
        # A symbol's scores go when none of its activations belongs to another graph; then the activations.
        self.store.update(
            f"""DELETE {{ GRAPH <{n}> {{ ?s <{KGA}supportStability> ?st ; <{KGA}activationStrength> ?sg }} }}
            WHERE {{ GRAPH <{n}> {{ ?s <{KGA}activation> ?b . ?b <{KGA}inGraph> <{g}> .
                     ?s <{KGA}supportStability> ?st ; <{KGA}activationStrength> ?sg .
                     FILTER NOT EXISTS {{ ?s <{KGA}activation> ?b2 . ?b2 <{KGA}inGraph> ?other .
                                          FILTER(?other != <{g}>) }} }} }} ;
            DELETE {{ GRAPH <{n}> {{ ?s <{KGA}activation> ?b . ?b ?p ?o }} }}
            WHERE {{ GRAPH <{n}> {{ ?s <{KGA}activation> ?b . ?b <{KGA}inGraph> <{g}> ; ?p ?o }} }}"""
        )

    def invalidate(self) -> None:
        """Forget everything derived from the store or the concept files (after any write)."""
        with self._lock:
            self._table = None
            self._space = None
            self._space_for = None
            self._functions = None
            self._functions_for = None
            self.generation += 1

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
            try:
                return embed_workspace(self, graphs=graphs, **kw)
            finally:
                self.invalidate()

    @property
    def space(self) -> Any:
        """The workspace's live :class:`kgalign.index.space.ConceptSpace`.

        The live space holds only the symbols the store has now: rows of a graph dropped (or of a
        symbol a reload removed) since the embed are filtered out. It is rebuilt after any write in this process and whenever
        ``neural/run.json`` changes (an embed by another process).
        """
        from kgalign.index.space import ConceptSpace

        with self._lock:
            stamp = (self._run_stamp(), self.generation)
            if self._space is None or self._space_for != stamp:
                live = self.symbol_table
                self._space = ConceptSpace.open(self.path).restricted(
                    frozenset(self.graph_names()), {(s.graph, s.iri) for s in live})
                self._space_for = stamp
            return self._space

    def _run_stamp(self) -> int | None:
        try:
            return (self.path / "neural" / "run.json").stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def has_space(self) -> bool:
        return (self.path / "neural" / "run.json").exists()

    def invalidate_space(self) -> None:
        self.invalidate()

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
            if self._functions is None or self._functions_for is not space:
                self._functions = custom_functions(space)
                self._functions_for = space
            return self._functions

    def sparql(self, query: str, **kw: Any) -> Any:
        """Run a SPARQL query over the store (artefact, provenance and neural graphs), with the
        ``kga:`` extension functions once embedded: a :class:`kgalign.rows.SparqlResult` of
        kgalign's own typed rows (:meth:`sparql_raw` gives the store's lazy result)."""
        from kgalign.rows import from_store

        return from_store(self.sparql_raw(query, **kw))

    def sparql_raw(self, query: str, **kw: Any) -> Any:
        """:meth:`sparql` as the store library's own (lazy) result, for serialising."""
        if "custom_functions" not in kw:
            kw["custom_functions"] = self.sparql_functions() or None
        return self.store.query(query, **kw)

    def sparql_serialized(self, query: str, choose: Any, **kw: Any) -> tuple[bytes, str]:
        """:meth:`sparql` written out: ``(body, media type)``, the type ``choose(kind)`` names for the
        result's kind (``"solutions"`` or ``"graph"``); the store's own serialiser where it has one."""
        if "custom_functions" not in kw:
            kw["custom_functions"] = self.sparql_functions() or None
        direct = getattr(self.store, "query_serialized", None)
        if direct is not None:
            return direct(query, choose, **kw)
        from kgalign.store.rdfio import serialize_result

        return serialize_result(self.store.query(query, **kw), choose)

    def sparql_update(self, update: str) -> None:
        """Run a SPARQL update; everything derived from the store is rebuilt afterwards (a
        ``DROP ALL`` leaves no symbol and an empty live concept space)."""
        with self._write_lock:
            try:
                self.store.update(update)
            finally:
                self.invalidate()

    # -- the one matcher policy, queries, reports, exports ------------------------------------
    # The CLI, the HTTP server and the DSL call these; they translate, they do not decide.

    def neural_unavailable(self, graphs: Sequence[str]) -> str | None:
        """Why the matcher cannot use neural evidence for ``graphs`` (None when it can)."""
        if not self.has_space():
            return "the workspace is not embedded (run 'kgalign embed')"
        stale = sorted(set(self.stale_graphs()) & set(graphs))
        if stale:
            return f"graphs changed since the last embed: {', '.join(stale)} (run 'kgalign embed')"
        embedded = {k[0] for k in self.space.keys}
        missing = [g for g in dict.fromkeys(graphs) if g not in embedded]
        if missing:
            return f"no concept vectors for {', '.join(missing)} (run 'kgalign embed')"
        return None

    def matcher_plan(self, source: str, target: str, config: Any = None, *, neural: bool | None = None) -> MatchPlan:
        """The matcher configuration this workspace uses for ``source`` ↔ ``target``.

        The policy: neural evidence whenever the workspace is embedded (and neither graph changed
        since), added to ``config`` (default: ``MatcherConfig()``) — the SAE's concept vectors
        (``neural``) and the base model's sentence embeddings (``dense``; an embedded workspace has
        the base model locally); ``neural=False`` leaves both out, ``neural=True`` insists on them
        (an error when they are unavailable). A ``dense`` the config names itself stays when the
        workspace is not embedded (it needs no concept vectors).
        """
        from kgalign.align.matcher import MatcherConfig

        cfg = config if config is not None else MatcherConfig()
        reason = self.neural_unavailable([source, target])
        if neural is False:
            reason = "left out on request"
        elif neural is True and reason is not None:
            raise WorkspaceError(f"neural evidence asked for, but {reason}")
        if reason is None:
            missing = tuple(s for s in NEURAL_POLICY_SCORERS if s not in cfg.scorers)
            if missing:
                cfg = cfg.with_(scorers=(*cfg.scorers, *missing))
        else:
            drop = NEURAL_POLICY_SCORERS if neural is False else ("neural",)
            if any(s in cfg.scorers for s in drop):
                cfg = cfg.with_(scorers=tuple(s for s in cfg.scorers if s not in drop))
        return MatchPlan(cfg, reason)

    def match(self, source: str, target: str, config: Any = None, *, neural: bool | None = None,
              input_alignment: Any = None) -> Any:
        """Align two graphs: :class:`kgalign.align.candidates.Alignment` under the workspace's policy
        (see :meth:`matcher_plan`). ``alignment.metadata['scorers']`` names the evidence used."""
        from kgalign.align.matcher import Matcher

        self.require_graph(source)
        self.require_graph(target)
        plan = self.matcher_plan(source, target, config, neural=neural)
        cache = {"concept_space": self.space} if plan.neural else None
        kw: dict[str, Any] = {"cache": cache}
        if input_alignment is not None:
            kw["input_alignment"] = input_alignment
        alignment = Matcher(plan.config).match(self, source, target, **kw)
        alignment.metadata["scorers"] = list(plan.config.scorers)
        if plan.neural_note:
            alignment.metadata["neural_left_out"] = plan.neural_note
        return alignment

    def match_all(self, graphs: Sequence[str] | None = None, config: Any = None) -> list[Any]:
        """Every pair of ``graphs`` (default: all, in order), each through :meth:`match`."""
        gs = list(graphs) if graphs is not None else self.graph_names()
        return [self.match(a, b, config) for i, a in enumerate(gs) for b in gs[i + 1:]]

    def feature(self, f: int, limit: int = 10) -> dict[str, Any]:
        """Everything known of feature ``f``: label, density, snippets, the symbols weighing it most
        (the DSL's ``symbols activating feature f``), how many symbols load on it."""
        from kgalign.index import operators
        from kgalign.neural.labels import grounded_record

        space = self.space
        space.check_feature(f)
        stats = space.stats
        top = []
        for (g, iri), w in space.symbols_activating(f, limit):
            sym = self.symbol_table.get(iri, g)
            top.append({"graph": g, "iri": iri, "label": sym.label if sym else iri, "weight": round(w, 4)})
        n_loading = int(operators.load_counts(space)[f])
        return {
            "feature": f,
            "label": space.feature_label(f),
            "density": None if stats is None else float(stats.density[f]),
            "mean_activation": None if stats is None else float(stats.mean_activation[f]),
            "snippets": [] if stats is None else stats.snippets[f][:limit],
            "symbols": top,
            "claimed": n_loading > 0,
            "n_symbols_loading": n_loading,
            **grounded_record(self, f, limit),
        }

    def query(self, text: str) -> Any:
        """Run a DSL query (or a whole SPARQL query): a :class:`kgalign.query.result.Result`."""
        from kgalign.query.engine import run

        return run(self, text)

    def explain(self, text: str) -> str:
        """The plan of a DSL query, as text."""
        from kgalign.query.engine import explain

        return explain(self, text)

    def report(self, **kw: Any) -> Any:
        """The pruning report (:func:`kgalign.report.build.build_report`): unless ``alignments`` are
        given, its merge candidates come from :meth:`match_all`, under this workspace's policy."""
        from kgalign.report.build import build_report

        return build_report(self, **kw)

    def export(self, alignment: Any, format: str = "sssom") -> str | int:
        """An alignment as text (``sssom`` TSV, ``alignment`` API RDF/XML), or written into the
        store's mappings graph (``rdf``: returns the number of mappings written)."""
        from kgalign.align import formats

        if format == "sssom":
            return formats.sssom_tsv(alignment)
        if format == "alignment":
            return formats.alignment_rdf(alignment)
        if format == "rdf":
            with self._write_lock:
                try:
                    return formats.export_to_store(self, alignment)
                finally:
                    self.invalidate()
        raise UsageError(f"unknown export format {format!r}; known formats: sssom, alignment, rdf")


@dataclass(frozen=True)
class MatchPlan:
    """What :meth:`Workspace.match` runs: the matcher configuration, and why neural evidence is
    left out (None when it is used)."""

    config: Any
    neural_note: str | None

    @property
    def neural(self) -> bool:
        return self.neural_note is None

    def describe(self) -> str:
        text = " + ".join(self.config.scorers)
        return text if self.neural else f"{text}; no neural evidence: {self.neural_note}"
