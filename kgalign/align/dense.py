"""Dense evidence: the base model's sentence embedding of each symbol's names.

The same base model as the SAE (all-MiniLM-L6-v2), read at its final layer and mean-pooled
over the real tokens, L2-normalised — what sentence-transformers computes. A symbol's
similarity to another is the best cosine over their names (label and exact synonyms).
The scorer proposes each source symbol's nearest target symbols through a FAISS
inner-product index (no all-pairs matrix), and scores any pair it is asked about.

:func:`dense_baseline` is the 20-line matcher the issue measured kgalign against: mutual
best label pairs with cosine ≥ a threshold. Benchmarks print it beside kgalign's rows.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from kgalign.align.candidates import Evidence, Pair
from kgalign.align.ontology import OntologyView, category
from kgalign.align.scoring import MatchContext
from kgalign.errors import ModelError

_LOCK = threading.Lock()
_MODEL: Any = None
#: text -> unit vector [d_model]; shared by every match of the process (the texts are short)
_CACHE: dict[str, np.ndarray] = {}
_CACHE_LIMIT = 500_000


def _model() -> Any:
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            from kgalign.neural.model import ModelSpec, load_base_model

            _MODEL = load_base_model(ModelSpec())
        return _MODEL


#: a batch holds at most this many characters, counted as its longest text times its size: names are
#: short, and large batches of them run 2.5x faster on 2 CPU cores than 64-text batches (3,000 WordNet
#: lemmas: 29.8 s CPU at 64 a batch, 14.6 s at 256, 11.8 s at 512)
BATCH_CHARS = 16_384


def embed_texts(texts: Sequence[str], *, progress: bool = False, batch_size: int = 512) -> np.ndarray:
    """``[n_texts, d_model]`` float32 unit vectors of ``texts`` (cached per text); batches of up to
    ``batch_size`` texts of similar length, within :data:`BATCH_CHARS`."""
    todo = list(dict.fromkeys(t for t in texts if t not in _CACHE))
    if todo:
        model = _model()
        todo.sort(key=len)  # similar lengths batch with less padding
        bar = None
        if progress and len(todo) > 2000:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="dense embeddings", unit="name")
        try:
            s = 0
            while s < len(todo):
                n = 1
                while n < batch_size and s + n < len(todo) and len(todo[s + n]) * (n + 1) <= BATCH_CHARS:
                    n += 1
                chunk = todo[s: s + n]
                s += n
                try:
                    vecs = model.sentence_embedding(chunk, batch_size=len(chunk))
                except ModelError:
                    vecs = np.zeros((len(chunk), model.d_model), dtype=np.float32)
                for t, v in zip(chunk, vecs, strict=True):
                    _CACHE[t] = v
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if len(_CACHE) > _CACHE_LIMIT:
            _CACHE.clear()
            return embed_texts(texts)
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([_CACHE[t] for t in texts]).astype(np.float32)


def _texts(sym: Any) -> list[str]:
    return [n for n in sym.names if n.strip()] or [sym.label or sym.local_name]


class _Side:
    """The names of one side's symbols of one category, embedded: ``vectors [n_names, d]``."""

    def __init__(self, iris: list[str], names: list[list[str]], progress: bool) -> None:
        self.iris = iris
        self.index = {iri: i for i, iri in enumerate(iris)}
        flat = [t for ns in names for t in ns]
        self.owner = np.array([i for i, ns in enumerate(names) for _ in ns], dtype=np.int64)
        self.vectors = embed_texts(flat, progress=progress)
        self.rows = _rows_by_owner(self.owner, len(iris))


def _rows_by_owner(owner: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n + 1))
    return [order[bounds[i]: bounds[i + 1]] for i in range(n)]


class DenseScorer:
    """Best cosine of the two symbols' name embeddings (base model's sentence embedding)."""

    name = "dense"
    kind = "neural"

    def __init__(self, config: object = None) -> None:
        self.config = config
        self.k = int(getattr(config, "dense_neighbours", 3))
        self.proposal_floor = float(getattr(config, "dense_proposal_floor", 0.8))
        self.progress = bool(getattr(config, "progress", False))

    def _table(self, context: MatchContext) -> dict[str, tuple[_Side, _Side]]:
        hit = context.cache.get("dense_table")
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        cats = getattr(self.config, "categories", ("class", "property"))
        table: dict[str, tuple[_Side, _Side]] = {}
        for cat in cats:
            src = context.source.of_category(cat)
            tgt = context.target.of_category(cat)
            if not src or not tgt:
                continue
            table[cat] = (
                _Side([s.iri for s in src], [_texts(s) for s in src], self.progress),
                _Side([t.iri for t in tgt], [_texts(t) for t in tgt], self.progress),
            )
        context.cache["dense_table"] = table
        return table

    def propose(self, context: MatchContext) -> set[Pair]:
        import faiss

        out: set[Pair] = set()
        for a, b in self._table(context).values():
            index = faiss.IndexFlatIP(b.vectors.shape[1])
            index.add(np.ascontiguousarray(b.vectors))
            k = min(len(b.owner), 4 * self.k)
            sims, idx = index.search(np.ascontiguousarray(a.vectors), k)  # [n_src_names, k]
            best: dict[int, dict[int, float]] = defaultdict(dict)
            for r in range(len(a.owner)):
                i = int(a.owner[r])
                for s, j in zip(sims[r], idx[r], strict=True):
                    if j < 0 or s < self.proposal_floor:
                        continue
                    t = int(b.owner[j])
                    if s > best[i].get(t, -1.0):
                        best[i][t] = float(s)
            for i, cands in best.items():
                for t, _ in sorted(cands.items(), key=lambda x: -x[1])[: self.k]:
                    out.add((a.iris[i], b.iris[t]))
        return out

    def score(self, pairs: Collection[Pair], context: MatchContext) -> dict[Pair, Evidence]:
        table = self._table(context)
        out: dict[Pair, Evidence] = {}
        for pair in pairs:
            cat = context.category_of(pair)
            t = table.get(cat)
            if t is None:
                continue
            a, b = t
            i, j = a.index.get(pair[0]), b.index.get(pair[1])
            if i is None or j is None:
                continue
            ra, rb = a.rows[i], b.rows[j]
            sims = a.vectors[ra] @ b.vectors[rb].T  # [names_a, names_b]
            x, y = np.unravel_index(int(np.argmax(sims)), sims.shape)
            cos = float(sims[x, y])
            na = _texts(context.source.symbols[pair[0]])[x]
            nb = _texts(context.target.symbols[pair[1]])[y]
            out[pair] = Evidence(
                "neural", round(max(0.0, min(1.0, cos)), 4),
                f"dense: sentence embeddings of {na!r} / {nb!r} cosine {cos:.3f}", (na, nb),
            )
        return out


def dense_baseline(source: OntologyView, target: OntologyView, threshold: float = 0.8,
                   categories: Iterable[str] = ("class", "property")) -> set[Pair]:
    """The plain dense matcher: label embeddings, mutual best pairs with cosine ≥ ``threshold``,
    within each category."""
    out: set[Pair] = set()
    for cat in categories:
        src = [s for s in source.symbols.values() if category(s.kind) == cat]
        tgt = [t for t in target.symbols.values() if category(t.kind) == cat]
        if not src or not tgt:
            continue
        a = embed_texts([s.label or s.local_name for s in src])
        b = embed_texts([t.label or t.local_name for t in tgt])
        sims = a @ b.T  # [n_src, n_tgt]
        best_t = sims.argmax(1)
        best_s = sims.argmax(0)
        for i, j in enumerate(best_t):
            if best_s[j] == i and sims[i, j] >= threshold:
                out.add((src[i].iri, tgt[int(j)].iri))
    return out
