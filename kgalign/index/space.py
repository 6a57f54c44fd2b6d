"""The concept space of a workspace: concept vectors, supports and feature statistics,
persisted under ``<workspace>/neural`` and ``<workspace>/index``, and its lookups. The
questions asked of it (similar symbols, shared features, unstable symbols, pruning
candidates, blind spots…) are the operators of :mod:`kgalign.index.operators`, one
vectorised implementation each, used by the DSL, the report, the CLI and the server.

Rows are ``(graph, iri)`` keys. Everything here answers in keys and numbers; joining
to :class:`~kgalign.symbolic.symbols.Symbol` (labels, definitions) is the caller's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kgalign.errors import UnknownNameError, WorkspaceError
from kgalign.index.vectors import VectorIndex, nearest_other_similarity, normalise_rows
from kgalign.neural.concepts import ConceptTable
from kgalign.neural.features import FeatureStats

Key = tuple[str, str]  # (graph, iri)


class ConceptSpace:
    """Read-side of the neural layer: load once, answer many questions fast."""

    def __init__(self, table: ConceptTable, stats: FeatureStats | None, index: VectorIndex, run: dict,
                 unit: np.ndarray | None = None) -> None:
        """``unit``: the table's vectors as unit rows (:func:`normalise_rows`), when the caller has them."""
        self.table = table
        self.stats = stats
        self.index = index
        self.run = run
        self.keys = table.keys
        self.row = {k: i for i, k in enumerate(table.keys)}
        self._unit = normalise_rows(table.vectors) if unit is None else unit
        self.d_sae = int(table.vectors.shape[1]) if table.vectors.ndim == 2 else 0
        self._graph_of_row = np.array([k[0] for k in table.keys], dtype=object)

    # -- persistence ---------------------------------------------------------------------

    @classmethod
    def open(cls, workspace_path: str | Path) -> ConceptSpace:
        base = Path(workspace_path)
        run_path = base / "neural" / "run.json"
        if not run_path.exists():
            raise WorkspaceError(f"the workspace at {base} has no concept space yet: run 'kgalign embed'")
        run = json.loads(run_path.read_text())
        gen = run.get("generation")
        # run.json names the generation every file comes from (kgalign.index.build); older
        # workspaces keep them in neural/ and index/.
        data = base / "neural" / "generations" / str(gen) if gen else base / "neural"
        table = ConceptTable.load(str(data / "concepts.npz"))
        stats_path = data / "features.json"
        stats = FeatureStats.load(stats_path) if stats_path.exists() else None
        index = VectorIndex.load((data if gen else base / "index") / "symbols.faiss")
        space = cls(table, stats, index, run)
        space.path = base
        return space

    def restricted(self, graphs: set[str] | frozenset[str], keys: set[Key] | None = None) -> ConceptSpace:
        """The space without the rows of graphs not in ``graphs`` (dropped since the last embed) and,
        when ``keys`` is given, without the rows not in it (symbols a reload removed).

        Returns ``self`` when nothing is left out; otherwise a new space over the kept rows with
        its own index (built in memory, of the same kind). The files on disk are not touched:
        the next embed rewrites them without the dropped graphs.
        """
        keep = np.fromiter((k[0] in graphs and (keys is None or k in keys) for k in self.keys), bool,
                           count=len(self.keys))
        if keep.all():
            return self
        rows = np.flatnonzero(keep)
        t = self.table
        table = ConceptTable(
            [t.keys[int(i)] for i in rows], t.vectors[rows], t.support_ids[rows], t.support_weights[rows],
            t.support_freq[rows], t.stability[rows], t.strength[rows], t.n_contexts[rows], dict(t.meta),
            reliability=t.reliability_or_nan()[rows],
        )
        index = VectorIndex.build(table.vectors, self.index.kind if self.index.kind in ("flat", "ivf") else "auto")
        space = ConceptSpace(table, self.stats, index, {**self.run, "restricted_to": sorted(graphs)})
        space.path = getattr(self, "path", None)
        return space

    # -- lookups -------------------------------------------------------------------------

    def has(self, key: Key) -> bool:
        return key in self.row

    def row_of(self, key: Key) -> int:
        try:
            return self.row[key]
        except KeyError:
            raise UnknownNameError(
                "embedded symbol", f"{key[1]} (in {key[0]})", []
            ) from None

    def check_feature(self, f: int) -> int:
        if not 0 <= f < self.d_sae:
            raise UnknownNameError("feature", str(f), [f"features are numbered 0 to {self.d_sae - 1}"])
        return f

    def feature_label(self, f: int) -> str:
        """The feature's grounded label with its kind and precision (:mod:`kgalign.neural.labels`) when the
        run has grounded labels, else the statistics' top words, else ``feature N``."""
        g = self.grounded_label(f)
        if g is not None and g.kind != "silent":
            from kgalign.neural.labels import short_label

            return short_label(g)
        if self.stats is not None and f < len(self.stats.labels):
            return self.stats.labels[f]
        return f"feature {f}"

    def grounded_label(self, f: int):  # noqa: ANN201 - FeatureLabel | None (kept import-free)
        """The grounded :class:`~kgalign.neural.labels.FeatureLabel` of ``f`` (its evidence and precision),
        or ``None`` when this run has none (no ``kgalign check`` yet and no shipped labels for it)."""
        labels = self.grounded_labels()
        return labels[f] if labels is not None and 0 <= f < len(labels) else None

    def grounded_labels(self):  # noqa: ANN201 - FeatureLabels | None
        """The run's grounded labels (workspace cache, else shipped for the run), loaded once."""
        if not hasattr(self, "_grounded"):
            from kgalign.neural.labels import labels_for_run

            self._grounded = labels_for_run(str(self.run.get("run_id", "")), self.d_sae, getattr(self, "path", None))
        return self._grounded

    def forget_labels(self) -> None:
        """Drop the loaded grounded labels (after ``kgalign check`` grounded new ones)."""
        self.__dict__.pop("_grounded", None)

    def feature_density(self, f: int) -> float | None:
        if self.stats is None:
            return None
        return float(self.stats.density[f])

    # -- questions -----------------------------------------------------------------------

    def similarity(self, a: Key, b: Key) -> float:
        """Cosine similarity of two concept vectors."""
        return float(self._unit[self.row_of(a)] @ self._unit[self.row_of(b)])

    def similar(self, key: Key, k: int = 10, graphs: set[str] | None = None) -> list[tuple[Key, float]]:
        """Nearest concept vectors (cosine), excluding the symbol itself (:func:`operators.similar_to`)."""
        from kgalign.index import operators

        return operators.keys_of(self, operators.similar_to(self, key, graphs, k), "similarity")

    def pairwise_similarity(self, rows_a: list[int], rows_b: list[int]) -> np.ndarray:
        """``[len(rows_a), len(rows_b)]`` cosine similarities."""
        return self._unit[rows_a] @ self._unit[rows_b].T

    def support_of(self, key: Key) -> list[tuple[int, float, float]]:
        """``(feature, weight, fraction of contexts fired)``, strongest first."""
        return self.table.support(self.row_of(key))

    def shared_feature_count(self, a: Key, b: Key) -> int:
        fa = {f for f, _, _ in self.support_of(a)}
        fb = {f for f, _, _ in self.support_of(b)}
        return len(fa & fb)

    def symbols_activating(self, f: int, k: int = 20, graphs: set[str] | None = None) -> list[tuple[Key, float]]:
        """The symbols whose concept vectors weigh feature ``f`` most (:func:`operators.symbols_activating`)."""
        from kgalign.index import operators

        self.check_feature(f)
        return operators.keys_of(self, operators.symbols_activating(self, [f], graphs, k), "strength")

    def stability(self, key: Key) -> float:
        return float(self.table.stability[self.row_of(key)])

    def claimed_features(self) -> set[int]:
        """Features at least one symbol loads on (:func:`operators.claimed_features`)."""
        from kgalign.index import operators

        return operators.claimed_features(self)

    def nearest_neighbour_similarity(self) -> np.ndarray:
        """``[n]``: each symbol's cosine to its nearest other symbol (computed once, exactly: see
        :func:`~kgalign.index.vectors.nearest_other_similarity`)."""
        cached = getattr(self, "_nn", None)
        if cached is None:
            cached = self._nn = nearest_other_similarity(self._unit)
        return cached
