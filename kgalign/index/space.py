"""The concept space of a workspace: concept vectors, supports and feature statistics,
persisted under ``<workspace>/neural`` and ``<workspace>/index``, with the questions
the query language and the aligner ask of it.

Rows are ``(graph, iri)`` keys. Everything here answers in keys and numbers; joining
to :class:`~kgalign.symbolic.symbols.Symbol` (labels, definitions) is the caller's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgalign.errors import UnknownNameError, WorkspaceError
from kgalign.index.vectors import VectorIndex, normalise_rows
from kgalign.neural.concepts import ConceptTable
from kgalign.neural.features import FeatureStats

Key = tuple[str, str]  # (graph, iri)

#: Weights below this fraction of a symbol's strongest feature do not count as "loading on" a feature.
LOAD_FRACTION = 0.1


@dataclass(frozen=True)
class SharedFeatures:
    key: Key
    overlap: float  # weighted Jaccard of the two supports
    shared: tuple[tuple[int, float, float], ...]  # (feature, weight here, weight in the query symbol)


@dataclass(frozen=True)
class PruningReason:
    key: Key
    reasons: tuple[str, ...]
    strength: float
    stability: float
    informativeness: float


class ConceptSpace:
    """Read-side of the neural layer: load once, answer many questions fast."""

    def __init__(self, table: ConceptTable, stats: FeatureStats | None, index: VectorIndex, run: dict) -> None:
        self.table = table
        self.stats = stats
        self.index = index
        self.run = run
        self.keys = table.keys
        self.row = {k: i for i, k in enumerate(table.keys)}
        self._unit = normalise_rows(table.vectors)
        self.d_sae = int(table.vectors.shape[1]) if table.vectors.ndim == 2 else 0
        # Inverted index: feature -> rows that load on it (with their weight).
        self.loads: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for r in range(len(table)):
            sup = table.support(r)
            if not sup:
                continue
            top = sup[0][1]
            for f, w, _ in sup:
                if w >= LOAD_FRACTION * top:
                    self.loads[f].append((r, w))
        for f in self.loads:
            self.loads[f].sort(key=lambda x: -x[1])
        # Exact inverted index over every support entry, as arrays, for vectorised overlap.
        ids, ws = table.support_ids, table.support_weights
        valid = ids >= 0
        flat_rows = np.repeat(np.arange(len(table)), ids.shape[1]).reshape(ids.shape)[valid] if len(table) else np.zeros(0, int)
        flat_f = ids[valid]
        flat_w = ws[valid]
        order = np.argsort(flat_f, kind="stable")
        flat_rows, flat_f, flat_w = flat_rows[order], flat_f[order], flat_w[order]
        bounds = np.searchsorted(flat_f, np.arange(self.d_sae + 1))
        self._inv_rows = [flat_rows[bounds[f] : bounds[f + 1]] for f in range(self.d_sae)]
        self._inv_w = [flat_w[bounds[f] : bounds[f + 1]] for f in range(self.d_sae)]
        self._row_total = np.where(valid, ws, 0).sum(1).astype(np.float32) if len(table) else np.zeros(0, np.float32)
        self._graph_of_row = np.array([k[0] for k in table.keys], dtype=object)

    # -- persistence ---------------------------------------------------------------------

    @classmethod
    def open(cls, workspace_path: str | Path) -> ConceptSpace:
        base = Path(workspace_path)
        run_path = base / "neural" / "run.json"
        if not run_path.exists():
            raise WorkspaceError(f"the workspace at {base} has no concept space yet: run 'kgalign embed'")
        run = json.loads(run_path.read_text())
        table = ConceptTable.load(str(base / "neural" / "concepts.npz"))
        stats_path = base / "neural" / "features.json"
        stats = FeatureStats.load(stats_path) if stats_path.exists() else None
        index = VectorIndex.load(base / "index" / "symbols.faiss")
        return cls(table, stats, index, run)

    def restricted(self, graphs: set[str] | frozenset[str]) -> ConceptSpace:
        """The space without the rows of graphs not in ``graphs`` (dropped since the last embed).

        Returns ``self`` when nothing is left out; otherwise a new space over the kept rows with
        its own index (built in memory, of the same kind). The files on disk are not touched:
        the next embed rewrites them without the dropped graphs.
        """
        keep = np.fromiter((k[0] in graphs for k in self.keys), bool, count=len(self.keys))
        if keep.all():
            return self
        rows = np.flatnonzero(keep)
        t = self.table
        table = ConceptTable(
            [t.keys[int(i)] for i in rows], t.vectors[rows], t.support_ids[rows], t.support_weights[rows],
            t.support_freq[rows], t.stability[rows], t.strength[rows], t.n_contexts[rows], dict(t.meta),
        )
        index = VectorIndex.build(table.vectors, self.index.kind if self.index.kind in ("flat", "ivf") else "auto")
        return ConceptSpace(table, self.stats, index, {**self.run, "restricted_to": sorted(graphs)})

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
        if self.stats is not None and f < len(self.stats.labels):
            return self.stats.labels[f]
        return f"feature {f}"

    def feature_density(self, f: int) -> float | None:
        if self.stats is None:
            return None
        return float(self.stats.density[f])

    # -- questions -----------------------------------------------------------------------

    def similarity(self, a: Key, b: Key) -> float:
        """Cosine similarity of two concept vectors."""
        return float(self._unit[self.row_of(a)] @ self._unit[self.row_of(b)])

    def similar(self, key: Key, k: int = 10, graphs: set[str] | None = None) -> list[tuple[Key, float]]:
        """Nearest concept vectors (cosine), excluding the symbol itself."""
        r = self.row_of(key)
        want = k + 1 if graphs is None else min(len(self.keys), (k + 1) * 8)
        scores, ids = self.index.search(self._unit[r : r + 1], want)
        out: list[tuple[Key, float]] = []
        for s, i in zip(scores[0], ids[0]):
            if i < 0 or i == r:
                continue
            kk = self.keys[int(i)]
            if graphs is not None and kk[0] not in graphs:
                continue
            out.append((kk, float(s)))
            if len(out) >= k:
                break
        if graphs is not None and len(out) < k:  # the filter was too selective for the ANN window: exact pass
            rows = [i for i, kk in enumerate(self.keys) if kk[0] in graphs and i != r]
            if rows:
                sims = self._unit[rows] @ self._unit[r]
                order = np.argsort(-sims)[:k]
                out = [(self.keys[rows[j]], float(sims[j])) for j in order]
        return out

    def pairwise_similarity(self, rows_a: list[int], rows_b: list[int]) -> np.ndarray:
        """``[len(rows_a), len(rows_b)]`` cosine similarities."""
        return self._unit[rows_a] @ self._unit[rows_b].T

    def support_of(self, key: Key) -> list[tuple[int, float, float]]:
        """``(feature, weight, fraction of contexts fired)``, strongest first."""
        return self.table.support(self.row_of(key))

    def sharing_features(
        self, key: Key, graphs: set[str] | None = None, limit: int | None = None
    ) -> list[SharedFeatures]:
        """Symbols whose supports overlap ``key``'s, by weighted Jaccard, highest first.

        Vectorised over the inverted feature index: only symbols sharing at least one
        support feature are touched, and the shared-feature lists are built for the
        ``limit`` best only.
        """
        r = self.row_of(key)
        mine = self.table.support(r)
        sum_min = np.zeros(len(self.keys), np.float32)
        touched = np.zeros(len(self.keys), bool)
        for f, w, _ in mine:
            rows, ws = self._inv_rows[f], self._inv_w[f]
            if len(rows):
                np.add.at(sum_min, rows, np.minimum(ws, w))
                touched[rows] = True
        touched[r] = False
        if graphs is not None:
            touched &= np.isin(self._graph_of_row, [g for g in graphs])
        cand = np.flatnonzero(touched)
        total_q = float(sum(w for _, w, _ in mine))
        denom = total_q + self._row_total[cand] - sum_min[cand]
        overlap = np.where(denom > 0, sum_min[cand] / np.maximum(denom, 1e-12), 0.0)
        order = np.lexsort((cand, -overlap))
        if limit is not None:
            order = order[:limit]
        mine_w = {f: w for f, w, _ in mine}
        out: list[SharedFeatures] = []
        for j in order:
            c = int(cand[j])
            theirs = {f: w for f, w, _ in self.table.support(c)}
            shared = tuple(
                sorted(((f, theirs[f], mine_w[f]) for f in set(mine_w) & set(theirs)), key=lambda x: -min(x[1], x[2]))
            )
            out.append(SharedFeatures(self.keys[c], float(overlap[j]), shared))
        return out

    def shared_feature_count(self, a: Key, b: Key) -> int:
        fa = {f for f, _, _ in self.support_of(a)}
        fb = {f for f, _, _ in self.support_of(b)}
        return len(fa & fb)

    def symbols_activating(self, f: int, k: int = 20, graphs: set[str] | None = None) -> list[tuple[Key, float]]:
        """The symbols whose concept vectors weigh feature ``f`` most."""
        self.check_feature(f)
        col = self.table.vectors[:, f]
        order = np.argsort(-col, kind="stable")
        out = []
        for i in order:
            if col[i] <= 0:
                break
            kk = self.keys[int(i)]
            if graphs is not None and kk[0] not in graphs:
                continue
            out.append((kk, float(col[i])))
            if len(out) >= k:
                break
        return out

    def stability(self, key: Key) -> float:
        return float(self.table.stability[self.row_of(key)])

    def unstable(self, limit: int = 20, graphs: set[str] | None = None) -> list[tuple[Key, float]]:
        rows = [i for i, k in enumerate(self.keys) if graphs is None or k[0] in graphs]
        rows.sort(key=lambda i: (float(self.table.stability[i]), self.keys[i]))
        return [(self.keys[i], float(self.table.stability[i])) for i in rows[:limit]]

    def claimed_features(self) -> set[int]:
        """Features at least one symbol loads on."""
        return set(self.loads)

    def blind_spots(self, min_density: float = 1e-3, limit: int = 20) -> list[tuple[int, float, float]]:
        """Features that fire strongly and often on the corpus but that no symbol loads on:
        ``(feature, density, mean activation)``, most salient (density × mean activation) first."""
        if self.stats is None:
            raise WorkspaceError("no feature statistics in this workspace: run 'kgalign embed --corpus ...'")
        claimed = self.claimed_features()
        d = self.stats.density
        a = self.stats.mean_activation
        salience = d * a
        order = np.argsort(-salience, kind="stable")
        out = []
        for f in order:
            f = int(f)
            if d[f] < min_density:
                continue
            if f in claimed:
                continue
            out.append((f, float(d[f]), float(a[f])))
            if len(out) >= limit:
                break
        return out

    def promiscuity(self) -> np.ndarray:
        """``[d_sae]``: the fraction of symbols that load on each feature."""
        n = max(1, len(self.keys))
        out = np.zeros(self.d_sae, np.float32)
        for f, rows in self.loads.items():
            out[f] = len(rows) / n
        return out

    def nearest_neighbour_similarity(self) -> np.ndarray:
        """``[n]``: each symbol's cosine to its nearest other symbol (computed once, via the index)."""
        cached = getattr(self, "_nn", None)
        if cached is not None:
            return cached
        n = len(self.keys)
        out = np.full(n, -1.0, np.float32)
        for start in range(0, n, 2048):
            q = self._unit[start : start + 2048]
            scores, ids = self.index.search(q, 2)
            for j in range(len(q)):
                others = [s for s, i in zip(scores[j], ids[j]) if i >= 0 and i != start + j]
                out[start + j] = others[0] if others else -1.0
        self._nn = out
        return out

    def pruning_candidates(
        self,
        *,
        min_strength: float | None = None,
        min_stability: float = 0.35,
        max_promiscuity: float = 0.15,
        isolation_percentile: float = 5.0,
        graphs: set[str] | None = None,
    ) -> list[PruningReason]:
        """Symbols with no clear neural counterpart, each with the reasons:

        - weak activation: strength below ``min_strength`` (default: the 5th percentile);
        - unstable support: stability below ``min_stability``;
        - uninformative support: over half its support weight sits on features that more
          than ``max_promiscuity`` of all symbols load on;
        - isolated: its nearest other symbol (in any graph) is farther than the nearest
          neighbour of all but ``isolation_percentile`` % of the symbols — nothing in any
          loaded system means anything like it, to the model.
        """
        strength = self.table.strength
        nn = self.nearest_neighbour_similarity()
        isolated_below = float(np.percentile(nn, isolation_percentile)) if len(nn) > 20 else -np.inf
        if min_strength is None:
            min_strength = float(np.percentile(strength, 5)) if len(strength) else 0.0
        prom = self.promiscuity()
        out: list[PruningReason] = []
        for i, k in enumerate(self.keys):
            if graphs is not None and k[0] not in graphs:
                continue
            sup = self.table.support(i)
            total = sum(w for _, w, _ in sup) or 1.0
            generic = sum(w for f, w, _ in sup if prom[f] > max_promiscuity) / total
            info = 1.0 - generic
            reasons = []
            if strength[i] < min_strength:
                reasons.append(f"weak activation ({strength[i]:.3g} < {min_strength:.3g})")
            if self.table.stability[i] < min_stability:
                reasons.append(f"unstable support (stability {self.table.stability[i]:.2f} < {min_stability})")
            if generic > 0.5:
                reasons.append(f"uninformative support ({generic:.0%} of its weight on features shared by many symbols)")
            if nn[i] < isolated_below:
                reasons.append(f"isolated: its nearest symbol in any graph is at cosine {nn[i]:.3f}, below the {isolation_percentile:g}th percentile ({isolated_below:.3f}); unique to its system, or dead weight")
            if reasons:
                out.append(PruningReason(k, tuple(reasons), float(strength[i]), float(self.table.stability[i]), info))
        out.sort(key=lambda p: (-len(p.reasons), p.stability, p.strength))
        return out
