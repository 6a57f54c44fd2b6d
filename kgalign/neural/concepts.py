"""Concept vectors: every symbol placed in the SAE's feature space.

Stages for a batch of symbols: probing contexts (:mod:`kgalign.neural.probing`) →
residual-stream activations at the mention tokens (:class:`BaseModel`) → SAE codes per
mention token, averaged over the mention → one code per context ``[d_sae]`` →
aggregated per symbol into

- ``concept_vector [d_sae]``: the mean code over all the symbol's contexts;
- ``support``: its strongest features, with their mean weight and the fraction of
  contexts in which each fired;
- ``support_stability``: the mean pairwise Jaccard similarity of the top-``m`` supports
  of the symbol's paraphrase contexts (its label alone and in fixed neutral templates).
  1 means the same features fire whatever the wording around the symbol; near 0 means
  the symbol has no stable neural counterpart. This is kgalign's semantic-continuity
  measure.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from kgalign.errors import EmbedError
from kgalign.neural.model import BaseModel, run_streams
from kgalign.neural.probing import ProbeContext, has_text, probe_contexts
from kgalign.symbolic.symbols import Symbol

#: How many of a context's strongest features form its support for stability.
STABILITY_TOP_M = 16
#: How many features of a symbol's support are kept.
SUPPORT_SIZE = 32
#: Where a context's code is read: the mean code over the mention's tokens, the code of its last token,
#: the code of the mean state over the mention's tokens, or the code of the state pooled over the context.
POSITIONS = ("mention", "last", "mention_state", "pooled")
WEIGHTINGS = ("none", "idf", "sqrtidf")
#: How each token's code enters the mean: as it is, or damped (``log``: ``log(1 + c)``; ``sqrt``: ``√c``), so
#: that one very strong feature does not dominate a concept vector (chosen by benchmarks/readout_sweep.py).
ACTIVATIONS = ("linear", "log", "sqrt")
#: Which codes a token contributes: the SAE's own (``sae``: its top-k, threshold or ReLU) or every latent whose
#: pre-activation is positive (``positive``: the encoder without the sparsity cut; chosen by
#: benchmarks/readout_sweep.py for the shipped TopK SAE, whose top-64 cut loses retrieval the encoder carries).
CODES = ("sae", "positive")


@dataclass(frozen=True)
class Readout:
    """How context codes become concept vectors; an SAE records its own in ``cfg.json``
    (``metadata.kgalign_readout``) with its vectors in ``readout.safetensors``, so embedding reads it the
    way the benchmark measured it. The default is the original readout (mention mean, no weighting).

    ``weighting="idf"`` scales feature ``f`` by ``-log10`` of its firing frequency (generic features count
    less; ``"sqrtidf"``: by its square root); ``centre`` subtracts the background concept vector (the
    mean over common words in neutral templates: the template and generic component); ``activation``
    damps each token's code before it is averaged (see :data:`ACTIVATIONS`); ``codes`` says which latents a
    token contributes (see :data:`CODES`).
    """

    position: str = "mention"
    weighting: str = "none"
    centre: bool = False
    activation: str = "linear"
    codes: str = "sae"
    idf: np.ndarray | None = field(default=None, repr=False, compare=False)
    background: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: Background of the mention-state codes and the typical distance from it (for reliability).
    background_state: np.ndarray | None = field(default=None, repr=False, compare=False)
    reliability_scale: float | None = None

    def __post_init__(self) -> None:
        if self.position not in POSITIONS:
            raise EmbedError(f"readout position must be one of {', '.join(POSITIONS)}; got {self.position!r}")
        if self.weighting not in WEIGHTINGS:
            raise EmbedError(f"readout weighting must be one of {', '.join(WEIGHTINGS)}; got {self.weighting!r}")
        if self.activation not in ACTIVATIONS:
            raise EmbedError(f"readout activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}")
        if self.codes not in CODES:
            raise EmbedError(f"readout codes must be one of {', '.join(CODES)}; got {self.codes!r}")

    def transform(self, v: np.ndarray) -> np.ndarray:
        """Concept vectors ``[n, d_sae]`` (or one ``[d_sae]``) as this readout compares them."""
        if self.centre and self.background is not None:
            v = v - self.background
        if self.weighting == "idf" and self.idf is not None:
            v = v * self.idf
        elif self.weighting == "sqrtidf" and self.idf is not None:
            v = v * np.sqrt(self.idf)
        return v.astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"position": self.position, "weighting": self.weighting, "centre": self.centre}
        if self.activation != "linear":
            d["activation"] = self.activation
        if self.codes != "sae":
            d["codes"] = self.codes
        return d


def readout_of(sae) -> Readout:
    """The readout an SAE was shipped with (see :class:`Readout`); the original one if it names none."""
    cfg = getattr(sae, "cfg", None)
    extra = getattr(cfg, "metadata_extra", None) or {}
    raw = extra.get("kgalign_readout") if isinstance(extra, dict) else None
    if not isinstance(raw, dict):
        return Readout()
    vectors = getattr(sae, "readout_vectors", {}) or {}
    scale = vectors.get("reliability_scale")
    return Readout(
        position=str(raw.get("position", "mention")),
        weighting=str(raw.get("weighting", "none")),
        centre=bool(raw.get("centre", False)),
        activation=str(raw.get("activation", "linear")),
        codes=str(raw.get("codes", "sae")),
        idf=vectors.get("idf"),
        background=vectors.get("background"),
        background_state=vectors.get("background_state"),
        reliability_scale=float(scale.reshape(-1)[0]) if scale is not None else None,
    )


@dataclass
class ConceptTable:
    """Concept vectors and supports of ``n`` symbols.

    ``keys``: ``(graph, iri)`` per row; ``vectors [n, d_sae]`` float32 (mean codes, not
    normalised); ``support_ids [n, SUPPORT_SIZE]`` int32 (-1 padded, strongest first);
    ``support_weights`` and ``support_freq [n, SUPPORT_SIZE]`` float32; ``stability [n]``;
    ``strength [n]`` (the largest mean feature weight); ``n_contexts [n]`` int32.
    """

    keys: list[tuple[str, str]]
    vectors: np.ndarray
    support_ids: np.ndarray
    support_weights: np.ndarray
    support_freq: np.ndarray
    stability: np.ndarray
    strength: np.ndarray
    n_contexts: np.ndarray
    meta: dict = field(default_factory=dict)
    #: ``[n]`` :func:`kgalign.neural.reliability.concept_reliability` per symbol (NaN when the SAE ships no
    #: background to measure it against).
    reliability: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def empty(cls, d_sae: int) -> ConceptTable:
        m = SUPPORT_SIZE
        return cls(
            [], np.zeros((0, d_sae), np.float32), np.zeros((0, m), np.int32), np.zeros((0, m), np.float32),
            np.zeros((0, m), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32),
        )

    @classmethod
    def concat(cls, tables: Sequence[ConceptTable], d_sae: int) -> ConceptTable:
        if not tables:
            return cls.empty(d_sae)
        if len(tables) == 1 and tables[0].reliability is not None:  # one table: itself (no copy)
            return tables[0]
        return cls(
            [k for t in tables for k in t.keys],
            np.concatenate([t.vectors for t in tables]),
            np.concatenate([t.support_ids for t in tables]),
            np.concatenate([t.support_weights for t in tables]),
            np.concatenate([t.support_freq for t in tables]),
            np.concatenate([t.stability for t in tables]),
            np.concatenate([t.strength for t in tables]),
            np.concatenate([t.n_contexts for t in tables]),
            reliability=np.concatenate([t.reliability_or_nan() for t in tables]),
        )

    def reliability_or_nan(self) -> np.ndarray:
        if self.reliability is not None and len(self.reliability) == len(self.keys):
            return self.reliability.astype(np.float32)
        return np.full(len(self.keys), np.nan, np.float32)

    def save(self, path: str) -> None:
        """Write as one ``.npz`` (arrays and keys only: no pickles)."""
        np.savez(
            path,
            graphs=np.array([k[0] for k in self.keys], dtype=np.str_),
            iris=np.array([k[1] for k in self.keys], dtype=np.str_),
            vectors=self.vectors.astype(np.float16),
            support_ids=self.support_ids,
            support_weights=self.support_weights,
            support_freq=self.support_freq,
            stability=self.stability,
            strength=self.strength,
            n_contexts=self.n_contexts,
            reliability=self.reliability_or_nan(),
        )

    def as_saved(self) -> ConceptTable:
        """The table :meth:`load` gives back after :meth:`save`, without the file (vectors at the stored
        float16 precision, reliability NaN where unmeasured, no meta)."""
        return ConceptTable(
            list(self.keys), self.vectors.astype(np.float16).astype(np.float32), self.support_ids,
            self.support_weights, self.support_freq, self.stability, self.strength, self.n_contexts,
            reliability=self.reliability_or_nan(),
        )

    @classmethod
    def load(cls, path: str) -> ConceptTable:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                list(zip(z["graphs"].tolist(), z["iris"].tolist(), strict=False)),
                z["vectors"].astype(np.float32),
                z["support_ids"],
                z["support_weights"],
                z["support_freq"],
                z["stability"],
                z["strength"],
                z["n_contexts"],
                reliability=z["reliability"] if "reliability" in z.files else None,
            )

    def support(self, row: int) -> list[tuple[int, float, float]]:
        """``(feature, mean weight, fraction of contexts fired)`` of one row, strongest first."""
        ids = self.support_ids[row]
        return [
            (int(f), float(w), float(q))
            for f, w, q in zip(ids, self.support_weights[row], self.support_freq[row], strict=False)
            if f >= 0
        ]


def jaccard(a: set[int], b: set[int]) -> float:
    """|a ∩ b| / |a ∪ b|, and 1.0 for two empty sets.

    >>> jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def support_stability(codes: np.ndarray, top_m: int = STABILITY_TOP_M) -> float:
    """Mean pairwise Jaccard of the top-``top_m`` active features of each row of ``codes [n_ctx, d_sae]``.

    >>> import numpy as np
    >>> c = np.array([[0, 2.0, 1.0, 0], [0, 2.0, 1.0, 0]])
    >>> support_stability(c)
    1.0
    """
    sets = []
    for row in codes:
        active = np.flatnonzero(row > 0)
        if len(active) > top_m:
            active = active[np.argsort(-row[active], kind="stable")[:top_m]]
        sets.append(set(active.tolist()))
    if len(sets) < 2:
        return 1.0 if sets and sets[0] else 0.0
    pairs = list(itertools.combinations(sets, 2))
    return float(np.mean([jaccard(a, b) for a, b in pairs]))


def _no_entries() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)


def _top_dense(
    x: np.ndarray, m: int, feature: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row of ``x [r, w]``'s ``m`` strongest positive entries, by value and then by feature
    (``feature(rows, columns)``, or the column): a stable sort of the descending values over the ascending
    features, as :func:`support_stability` and the support take them. ``(row [e], rank [e], feature [e],
    value [e])``, by row then rank. The ``m``-th largest value of each row comes from ``torch.topk``; every
    entry above it is taken, and of the entries equal to it the lowest features, as many as the row still
    needs; only the chosen entries are sorted."""
    import torch

    r, w = x.shape
    if r == 0 or w == 0:
        return _no_entries()
    feat_of = feature or (lambda _rows, cols: cols)
    if w > m:
        thr = torch.topk(torch.from_numpy(x), m, dim=1, sorted=False).values.min(1).values.numpy()
        if np.isnan(thr).any():  # torch ranks NaN first; the comparisons below never take it
            thr = torch.topk(torch.from_numpy(np.where(np.isnan(x), -np.inf, x)), m, dim=1,
                             sorted=False).values.min(1).values.numpy()
        thr = np.maximum(thr, 0)[:, None]
    else:
        thr = np.zeros((r, 1), x.dtype)
    above = x > thr
    rows, cols = np.nonzero(above)
    tr, tc = np.nonzero((x == thr) & (thr > 0))  # ties at the threshold
    if len(tr):
        order = np.lexsort((feat_of(tr, tc), tr))
        tr, tc = tr[order], tc[order]
        need = m - above.sum(1)
        keep = np.arange(len(tr)) - np.searchsorted(tr, tr) < need[tr]
        rows, cols = np.r_[rows, tr[keep]], np.r_[cols, tc[keep]]
    feat = np.asarray(feat_of(rows, cols), np.int64)
    val = x[rows, cols]
    order = np.lexsort((feat, -val, rows))
    rows, feat, val = rows[order], feat[order], val[order]
    return rows, np.arange(len(rows)) - np.searchsorted(rows, rows), feat, val


def _top_entries(
    start: np.ndarray, length: np.ndarray, cols: np.ndarray, vals: np.ndarray, m: int, block: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_top_dense` of sparse rows (row ``k``: ``cols/vals[start[k] : start[k] + length[k]]``; ``row``
    in the result = ``k``), by blocks of rows of similar length, each padded to its longest."""
    start = np.asarray(start, np.int64)
    length = np.asarray(length, np.int64)
    by_len = np.argsort(length, kind="stable")
    parts: list[tuple[np.ndarray, ...]] = []
    for b0 in range(0, len(by_len), block):
        k = by_len[b0 : b0 + block]
        lens, base = length[k], start[k]
        width = int(lens.max()) if len(k) else 0
        if width == 0:
            continue
        total = int(lens.sum())
        first = np.cumsum(lens) - lens
        pad = np.zeros(len(k) * width, np.float32)
        pad[np.repeat(np.arange(len(k)) * width - first, lens) + np.arange(total)] = vals[
            np.repeat(base - first, lens) + np.arange(total)]
        w, rank, f, v = _top_dense(pad.reshape(len(k), width), m, lambda rr, cc, base=base: cols[base[rr] + cc])
        parts.append((k[w], rank, f, v))
    if not parts:
        return _no_entries()
    w, rank, f, v = (np.concatenate(x) for x in zip(*parts, strict=True))
    order = np.argsort(w, kind="stable")  # by row (each row's entries are already in rank order)
    return w[order], rank[order], f[order], v[order]


def _group_stability(sets: np.ndarray, counts: np.ndarray, block: int = 512) -> np.ndarray:
    """:func:`support_stability` of many groups at once, bit for bit: ``sets [r, m]`` the top features of
    each row (-1 padded), the rows of group ``j`` the next ``counts[j]`` ones → ``[len(counts)]`` float64 (1
    for one non-empty set, 0 for none or one empty set; else the mean pairwise Jaccard, pairs in
    ``itertools.combinations`` order, the mean summed as ``np.mean`` sums one group's list)."""
    out = np.zeros(len(counts), np.float64)
    starts = np.cumsum(counts) - counts
    size = (sets >= 0).sum(1)
    one = counts == 1
    out[one] = (size[starts[one]] > 0).astype(np.float64)
    for p in np.unique(counts[counts >= 2]):
        a_i, b_i = np.triu_indices(int(p), 1)  # (0, 1), (0, 2), ..., (1, 2), ...: combinations' order
        groups = np.flatnonzero(counts == p)
        for g0 in range(0, len(groups), block):
            g = groups[g0 : g0 + block]
            a = starts[g][:, None] + a_i
            b = starts[g][:, None] + b_i
            sa, sb = sets[a], sets[b]  # [g, pairs, m]
            inter = ((sa[..., :, None] == sb[..., None, :]) & (sa[..., :, None] >= 0)).sum((-1, -2))
            union = size[a] + size[b] - inter
            jac = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
            out[g] = jac.mean(1)
    return out


def encode_codes(sae, x: np.ndarray) -> np.ndarray:
    """SAE codes ``[n, d_sae]`` float32 of activations ``x [n, d_in]``."""
    import torch

    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return sae.encode(t).float().cpu().numpy()


def context_codes(
    model: BaseModel, sae, contexts: Sequence[ProbeContext], batch_size: int = 1024, position: str = "mention",
    activation: str = "linear", codes: str = "sae",
) -> np.ndarray:
    """One SAE code per context ``[n_ctx, d_sae]``, read at ``position`` (see :data:`POSITIONS`), each token's
    code (see :data:`CODES`) damped by ``activation`` (see :data:`ACTIVATIONS`) before the mean."""
    return context_codes_at(model, sae, contexts, (position,), batch_size=batch_size,
                            activations={position: activation}, codes={position: codes})[position]


#: Padded tokens per forward batch when embedding (see :meth:`BaseModel.batches`); chosen among 2,048 / 4,096 /
#: 8,192 / 16,384 on WordNet and OAEI Conference probing contexts (4,096-8,192 fastest; 4,096 pads less).
MAX_BATCH_TOKENS = 4096
#: Whether embed runs its forward passes on :data:`EMBED_STREAMS` worker threads, ahead of the aggregation (see
#: :func:`kgalign.neural.model.run_streams`); ``False``: the forwards on the caller's thread, one batch at a time
#: (the next step's plan is still made on a thread of its own: see ``embed_symbols``).
EMBED_AHEAD = True
#: How many items (a step's plan, or one batch's sparse codes: ~1 MB) the forward streams may run ahead of
#: the aggregation; enough to keep the forwards going while a step is aggregated.
EMBED_DEPTH = 32
#: Forward streams of embed (threads, each forwarding its own batches with its share of torch's threads).
#: Two streams of one thread each, on 2 cores, keep both cores busy: one stream's single-threaded work (the
#: SAE's top-k, reading the mention tokens, the sparse means) runs beside the other's forward, where one
#: forward on two threads left a core idle at each of those steps (measured quiet, 4,096 WordNet nouns, the
#: forward plus SAE work alone: 29.5-32.9 s with two streams against 33.8-34.7 s with one).
EMBED_STREAMS = 2


def embed_streams(threads: int) -> tuple[int, int]:
    """``(streams, torch threads per stream)`` for ``threads`` torch threads: :data:`EMBED_STREAMS` streams
    sharing them (one stream, all of them, on a single thread)."""
    streams = max(1, min(EMBED_STREAMS, threads))
    return streams, max(1, threads // streams)


def context_codes_at(
    model: BaseModel, sae, contexts: Sequence[ProbeContext], positions: Sequence[str], batch_size: int = 1024,
    activations: dict[str, str] | None = None, max_tokens: int | None = MAX_BATCH_TOKENS,
    only: dict[str, Sequence[bool]] | None = None, codes: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """The codes of each context read at each of ``positions``, from ONE forward pass over the contexts; each
    position's token codes (``codes[position]``, default the SAE's own) damped by ``activations[position]``
    (default linear) before the mean.

    Contexts that share their text (the same label in the same template, for two symbols or two mentions)
    share one forward pass; batches are length-sorted with at most ``max_tokens`` padded tokens (and
    ``batch_size`` texts). ``only[position]`` (a flag per context) reads that position at the flagged contexts
    alone; the others keep a zero row. (:func:`embed_symbols` keeps the codes sparse instead.)"""
    d_sae = int(sae.W_dec.shape[0])
    out = {p: np.zeros((len(contexts), d_sae), np.float32) for p in positions}
    for position, idx, c in _code_batches(model, sae, contexts, positions, batch_size, activations,
                                          max_tokens, only, codes=codes):
        out[position][idx] = c.toarray()
    return out


def sparse_codes(sae, x: np.ndarray, codes: str = "sae"):  # noqa: ANN201 - scipy.sparse.csr_matrix
    """SAE codes of activations ``x [n, d_in]`` as a CSR matrix ``[n, d_sae]`` (float32).

    A TopK SAE's codes come straight from its top ``k`` pre-activations (no dense ``[n, d_sae]`` code
    matrix is made, scattered and searched again); any other SAE is encoded densely and converted.
    Either way the values are exactly :meth:`encode`'s; ``codes="positive"``: :meth:`encode_positive`'s.
    """
    import scipy.sparse as sp
    import torch

    d_sae = int(sae.W_dec.shape[0])
    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if codes == "positive":
            m = _csr(sae.encode_positive(t).float().cpu().numpy())
        elif hasattr(sae, "encode_topk"):
            values, indices = sae.encode_topk(t)
            k = values.shape[1]
            m = sp.csr_matrix((values.float().numpy().ravel(), indices.numpy().ravel().astype(np.int32),
                               np.arange(0, len(x) * k + 1, k)), shape=(len(x), d_sae))
        else:
            m = _csr(sae.encode(t).float().cpu().numpy())
    m.eliminate_zeros()
    return m


def _csr(dense: np.ndarray):  # noqa: ANN202 - scipy.sparse.csr_matrix
    """``scipy.sparse.csr_matrix(dense)`` for a C-ordered 2-d array, the same arrays (nonzeros in row-major
    order), ~4x faster on [600, 4096] codes: one flat nonzero scan instead of scipy's generic conversion."""
    import scipy.sparse as sp

    dense = np.ascontiguousarray(dense)
    n, d = dense.shape
    mask = dense != 0
    flat = np.flatnonzero(mask)
    index = np.int32 if len(flat) < 2**31 - 1 else np.int64  # scipy's choice
    indptr = np.zeros(n + 1, index)
    np.cumsum(np.count_nonzero(mask, axis=1), out=indptr[1:])
    return sp.csr_matrix((dense.ravel()[flat], (flat % d).astype(index), indptr), shape=(n, d))


def _code_batches(
    model: BaseModel, sae, contexts: Sequence[ProbeContext], positions: Sequence[str], batch_size: int,
    activations: dict[str, str] | None, max_tokens: int | None, only: dict[str, Sequence[bool]] | None,
    codes: dict[str, str] | None = None,
) -> Iterator[tuple[str, np.ndarray, Any]]:
    """``(position, context indices [m], codes)`` per forward batch, codes a CSR matrix ``[m, d_sae]`` (see
    :func:`context_codes_at`), on the caller's thread. Memory: one batch of hidden states and the sparse
    codes. Contexts that read the same tokens of the same text (the same label in the same template for two
    symbols) are encoded once. (:func:`embed_symbols` runs the same job's batches on its forward streams.)"""
    import torch

    texts, job = _code_job(sae, contexts, positions, activations, only, codes)
    with torch.inference_mode():
        for idx, items in model.batches(texts, batch_size, max_tokens):
            yield from job(model, idx, items)


def _code_job(
    sae, contexts: Sequence[ProbeContext], positions: Sequence[str], activations: dict[str, str] | None,
    only: dict[str, Sequence[bool]] | None, codes: dict[str, str] | None = None,
) -> tuple[list[str], Callable[[BaseModel, list[int], list], list[tuple[str, np.ndarray, Any]]]]:
    """``(the distinct texts of contexts, job)``: ``job(model, text indices, encodings)`` forwards one batch
    of those texts and turns it into ``[(position, context indices, CSR codes)]`` (under inference mode).
    Which tokens each context reads is worked out for the whole batch before the forward
    (:func:`_batch_hits`), so the model computes its last block at those tokens only (see
    :meth:`BaseModel._capture`); the SAE encodes them right after, on the same thread. ``job`` only reads
    the job's arrays: batches may run on several threads at once."""
    wanted = {p: (None if only is None or p not in only else np.asarray(only[p], dtype=bool)) for p in positions}
    texts: list[str] = []
    slot: dict[str, int] = {}
    users: list[list[int]] = []
    for i, c in enumerate(contexts):
        j = slot.setdefault(c.text, len(texts))
        if j == len(texts):
            texts.append(c.text)
            users.append([])
        users[j].append(i)
    start = np.fromiter((c.start for c in contexts), np.int64, len(contexts))
    end = np.fromiter((c.end for c in contexts), np.int64, len(contexts))

    def job(model: BaseModel, idx: list[int], items: list) -> list[tuple[str, np.ndarray, Any]]:
        import torch

        ids, mask = model._pad(items)
        hits = _batch_hits(items, [users[j] for j in idx], start, end, int(ids.shape[1]))
        needed = torch.from_numpy(_needed_tokens(hits, positions, wanted))
        hidden = model._capture(ids, mask, needed)
        h = hidden.float().cpu().numpy()
        h = h.reshape(-1, h.shape[-1])
        out = []
        for position, ctx, read, x, counts in _batch_reads(items, None, start, end, h, positions, wanted,
                                                           hits=hits):
            c = sparse_codes(sae, x, (codes or {}).get(position, "sae"))
            activation = (activations or {}).get(position, "linear")
            if activation == "log":
                np.log1p(np.maximum(c.data, 0.0, out=c.data), out=c.data)
            elif activation == "sqrt":
                np.sqrt(np.maximum(c.data, 0.0, out=c.data), out=c.data)
            out.append((position, ctx, _run_means(c, counts)[read]))
        return out

    return texts, job


def _run_means(codes: Any, counts: np.ndarray) -> Any:
    """The mean of each run of ``counts`` consecutive rows of the CSR ``codes``: one row of (averaging
    matrix) @ codes per run."""
    import scipy.sparse as sp

    mean = sp.csr_matrix((np.repeat(1.0 / counts, counts).astype(np.float32), np.arange(codes.shape[0]),
                          np.r_[0, np.cumsum(counts)]), shape=(len(counts), codes.shape[0]))
    return (mean @ codes).tocsr()


def _segment_means(rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``[len(counts), d]``: the mean of each run of ``counts`` consecutive ``rows``, exactly as
    ``rows[a:b].mean(0)`` computes it (runs of one length are averaged together as one ``[m, c, d]`` block)."""
    out = np.empty((len(counts), rows.shape[1]), rows.dtype)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    for c in np.unique(counts):
        which = np.flatnonzero(counts == c)
        take = (starts[which][:, None] + np.arange(c)).reshape(-1)
        out[which] = rows[take].reshape(len(which), int(c), -1).mean(1)
    return out


class _Hits(NamedTuple):
    """Which tokens the contexts of one forward batch read (see :func:`_batch_hits`)."""

    real: np.ndarray  # [texts, width] bool: a real (not special, not padding) token
    row: np.ndarray  # [pairs] the text of each (text, context) pair
    ctx: np.ndarray  # [pairs] the context
    hit: np.ndarray  # [pairs, width] bool: the tokens the context reads
    ok: np.ndarray  # [pairs] bool: the context reads at least one token


def _batch_hits(
    items: Sequence[Any], users: Sequence[Sequence[int]], start: np.ndarray, end: np.ndarray, width: int
) -> _Hits:
    """The tokens each context of a forward batch reads (``items[b]`` the encoding of text ``b``, read by the
    contexts ``users[b]``, rows padded to ``width``): the real tokens overlapping its mention, or all real
    tokens when the mention was truncated away."""
    n_text = len(items)
    s = np.zeros((n_text, width), np.int64)
    t = np.zeros((n_text, width), np.int64)
    real = np.zeros((n_text, width), bool)
    for b, e in enumerate(items):
        n = len(e.ids)
        if n:
            offs = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
            s[b, :n], t[b, :n] = offs[:, 0], offs[:, 1]
            real[b, :n] = ~np.asarray(e.special, dtype=bool)
    lens = np.fromiter((len(u) for u in users), np.int64, n_text)
    ctx = np.fromiter((i for u in users for i in u), np.int64, int(lens.sum()))
    row = np.repeat(np.arange(n_text), lens)
    hit = real[row] & (t[row] > s[row]) & (s[row] < end[ctx, None]) & (t[row] > start[ctx, None])
    gone = ~hit.any(1)  # mention truncated away: fall back to the real tokens
    hit[gone] = real[row[gone]]
    return _Hits(real, row, ctx, hit, hit.any(1))


def _needed_tokens(hits: _Hits, positions: Sequence[str], wanted: dict[str, np.ndarray | None]) -> np.ndarray:
    """``[texts, width]`` bool: every token some position reads (:func:`_batch_reads`) — all real tokens of a
    text read ``pooled``, the hit tokens otherwise."""
    needed = np.zeros_like(hits.real)
    for position in positions:
        keep = hits.ok if wanted[position] is None else hits.ok & wanted[position][hits.ctx]
        sel = np.flatnonzero(keep)
        if len(sel) == 0:
            continue
        if position == "pooled":
            needed[hits.row[sel]] |= hits.real[hits.row[sel]]
        else:
            np.logical_or.at(needed, hits.row[sel], hits.hit[sel])
    return needed


def _batch_reads(
    items: Sequence[Any], users: Sequence[Sequence[int]] | None, start: np.ndarray, end: np.ndarray, h: np.ndarray,
    positions: Sequence[str], wanted: dict[str, np.ndarray | None], hits: _Hits | None = None,
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """For one forward batch (``items[b]`` the encoding of text ``b``, read by the contexts ``users[b]``;
    ``h [b * t, d]`` its hidden states, rows padded to ``t``): per position ``(position, context indices,
    the read each takes, rows to encode, how many rows each read has)``. A context reads the real tokens
    overlapping its mention (all real tokens when the mention was truncated away); contexts reading the
    same tokens of the same text share one read; reads are numbered in order of first use. ``hits``: the
    batch's :func:`_batch_hits`, when already worked out (``users`` is then not read)."""
    n_text = len(items)
    width = h.shape[0] // max(n_text, 1)
    if hits is None:
        hits = _batch_hits(items, users or [], start, end, width)
    real, row, ctx, hit, ok = hits
    for position in positions:
        keep = ok if wanted[position] is None else ok & wanted[position][ctx]
        sel = np.flatnonzero(keep)
        if len(sel) == 0:
            continue
        if position == "pooled":
            key = row[sel, None]
        else:
            key = np.concatenate([row[sel, None], np.packbits(hit[sel], axis=1).astype(np.int64)], axis=1)
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        read = rank[inverse.reshape(-1)]
        reps = sel[first[order]]  # one context per read, reads in order of first use
        mask = real[row[reps]] if position == "pooled" else hit[reps]
        r, col = np.nonzero(mask)
        counts = mask.sum(1)
        if position == "last":
            x = h[row[reps] * width + (width - 1 - np.argmax(mask[:, ::-1], axis=1))]
            counts = np.ones(len(reps), np.int64)
        elif position == "mention":
            x = h[row[reps][r] * width + col]
        else:  # mention_state, pooled: the mean state over the tokens read
            x = _segment_means(h[row[reps][r] * width + col], counts)
            counts = np.ones(len(reps), np.int64)
        yield position, ctx[sel], read, x, counts


class SparseCodes:
    """Per-context codes ``[n, d]`` kept sparse (an SAE code has k of d features active): the rows of a
    whole embed step fit in a few MiB instead of ``n x d`` floats.

    Rows stay where they were added (no reordering of the entries): after :meth:`freeze`, context ``i``'s
    entries are ``cols/vals[start[i] : start[i] + length[i]]`` (length 0 for a context never added); a
    context added in several pieces is gathered into one run (a sort; embed adds each context once)."""

    def __init__(self, n: int, d: int) -> None:
        self.n, self.d = n, d
        self._ctx: list[np.ndarray] = []
        self._len: list[np.ndarray] = []
        self._col: list[np.ndarray] = []
        self._val: list[np.ndarray] = []
        self.start: np.ndarray | None = None
        self.length: np.ndarray | None = None

    def add(self, idx: np.ndarray, codes: Any) -> None:
        """The codes (a scipy CSR matrix, one row per entry of ``idx``) of contexts ``idx``."""
        codes.eliminate_zeros()
        self._ctx.append(np.asarray(idx, dtype=np.int64))
        self._len.append(np.diff(codes.indptr).astype(np.int64))
        self._col.append(codes.indices.astype(np.int32))
        self._val.append(codes.data.astype(np.float32))

    def freeze(self) -> SparseCodes:
        ctx = np.concatenate(self._ctx) if self._ctx else np.zeros(0, np.int64)
        lens = np.concatenate(self._len) if self._len else np.zeros(0, np.int64)
        self.cols = np.concatenate(self._col) if self._col else np.zeros(0, np.int32)
        self.vals = np.concatenate(self._val) if self._val else np.zeros(0, np.float32)
        self._ctx, self._len, self._col, self._val = [], [], [], []
        self.start = np.zeros(self.n, np.int64)
        self.length = np.zeros(self.n, np.int64)
        if len(ctx) and np.bincount(ctx).max() > 1:  # a context added in pieces: one run each, pieces in order
            order = np.argsort(np.repeat(ctx, lens), kind="stable")
            self.cols, self.vals = self.cols[order], self.vals[order]
            self.length[:] = np.bincount(ctx, weights=lens, minlength=self.n).astype(np.int64)
            self.start[:] = np.cumsum(self.length) - self.length
        else:
            self.start[ctx] = np.cumsum(lens) - lens
            self.length[ctx] = lens
        return self

    def _stored(self) -> tuple[Any, np.ndarray]:
        """``(the stored runs as a CSR matrix, the run of each context or -1)``."""
        import scipy.sparse as sp

        assert self.start is not None and self.length is not None, "freeze() first"
        has = np.flatnonzero(self.length)
        order = has[np.argsort(self.start[has], kind="stable")]
        run = np.full(self.n, -1, np.int64)
        run[order] = np.arange(len(order))
        indptr = np.r_[0, self.start[order] + self.length[order]]  # the runs tile cols/vals in order
        m = sp.csr_matrix((self.vals, self.cols, indptr), shape=(len(order), self.d))
        return m, run

    def _sum_matrix(self, rows: np.ndarray, counts: np.ndarray, run: np.ndarray) -> Any:
        """The 0/1 matrix whose row ``j`` adds the stored runs of the next ``counts[j]`` ``rows`` (in order;
        contexts with no entries add nothing and are left out)."""
        import scipy.sparse as sp

        r = run[np.asarray(rows, np.int64)]
        group = np.repeat(np.arange(len(counts)), counts)
        keep = r >= 0
        indptr = np.r_[0, np.cumsum(np.bincount(group[keep], minlength=len(counts)))]
        return sp.csr_matrix((np.ones(int(keep.sum()), np.float32), r[keep], indptr),
                             shape=(len(counts), int(max(run.max(initial=-1) + 1, 0))))

    def group_sums(self, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For runs of rows ``bounds[j]:bounds[j+1]``: ``(sums [g, d] float32, counts of positive entries
        [g, d] float32)``. Each sum adds the run's rows in order, as ``take(rows).sum(0)`` does, so a mean
        from it is bit for bit the dense one."""
        import scipy.sparse as sp

        c, run = self._stored()
        a = self._sum_matrix(np.arange(bounds[0], bounds[-1]), np.diff(bounds), run)
        positive = sp.csr_matrix(((c.data > 0).astype(np.float32), c.indices, c.indptr), shape=c.shape)
        return (a @ c).toarray(), (a @ positive).toarray()

    def group_sums_of(self, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """``[len(counts), d]`` float32: the sum of each run of ``counts`` consecutive ``rows`` (any rows, in
        the order given), added in order as ``take(run).sum(0)`` does."""
        c, run = self._stored()
        return (self._sum_matrix(rows, counts, run) @ c).toarray()

    def take(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Dense ``[len(rows), d]`` float32 of the given rows."""
        assert self.start is not None and self.length is not None, "freeze() first"
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), self.d), np.float32)
        for k, r in enumerate(rows):
            a = self.start[r]
            b = a + self.length[r]
            out[k, self.cols[a:b]] = self.vals[a:b]
        return out


def state_codes(model: BaseModel, sae, contexts: Sequence[ProbeContext], batch_size: int = 1024) -> np.ndarray:
    """Codes of the mean mention state of each context (what :func:`concept_reliability` reads)."""
    return context_codes(model, sae, contexts, batch_size=batch_size, position="mention_state")


def embed_symbols(
    symbols: Sequence[Symbol],
    model: BaseModel,
    sae,
    *,
    label_of: Callable[[str], str | None] | None = None,
    chunk: int = 4096,
    batch_size: int = 1024,
    max_tokens: int | None = MAX_BATCH_TOKENS,
    progress: Callable[[int, int], None] | None = None,
    ahead: bool = EMBED_AHEAD,
) -> ConceptTable:
    """Place ``symbols`` in the SAE's feature space (see the module docstring).

    Symbols with no text at all (no label with a letter, no definition) are skipped and
    listed in ``meta["skipped"]``; if every symbol lacks text, :class:`EmbedError`.

    Symbols go in steps of ``chunk``: a step's distinct context texts are length-sorted together (less
    padding the larger the step) and its per-context codes are held sparse; a text is forwarded once in the
    whole embed, by the first step that uses it, which hands the codes of later steps' contexts on to them.
    ``progress(done, total)`` is called after every forward batch.

    With ``ahead`` the forward batches run on :data:`EMBED_STREAMS` threads, each with its share of torch's
    threads (given back when the embed ends or is interrupted), while the caller's thread aggregates the
    steps whose batches are all in. The table does not depend on which stream ran a batch, or in which order
    batches came back: a context's codes are added where they land and summed in context order.
    """
    d_sae = int(sae.W_dec.shape[0])
    readout = readout_of(sae)
    todo = [s for s in symbols if has_text(s)]
    skipped = [s.iri for s in symbols if not has_text(s)]
    if symbols and not todo:
        raise EmbedError(f"none of the {len(symbols)} symbols has any text (no text to probe with) (e.g. {skipped[0]})")
    t0 = time.perf_counter()
    n_tokens = 0
    if progress:
        progress(0, len(todo))
    reliable = readout.background_state is not None
    positions = (readout.position, "mention_state") if reliable and readout.position != "mention_state" else (
        readout.position,)

    activations = {readout.position: readout.activation}
    read_codes = {readout.position: readout.codes}
    # Every step's contexts up front (~1.5 s and ~70 MB for 48,000 WordNet nouns), so that each distinct text
    # is forwarded once in the whole embed, not once per step that uses it: a text ("esophagus is a kind of
    # muscular structure.", a shared synonym, a homonym's template) goes with the first step that uses it,
    # which also reads the contexts of later steps on it and hands their codes on (6.6% of the tokens of
    # 48,000 WordNet nouns in steps of 4,096 were forwarded twice before).
    steps: list[tuple[list[Symbol], list[ProbeContext], list[int]]] = []
    first: dict[str, int] = {}
    for k, start in enumerate(range(0, len(todo), chunk)):
        part = list(todo[start : start + chunk])
        ctxs: list[ProbeContext] = []
        owner: list[int] = []
        for j, s in enumerate(part):
            cs = probe_contexts(s, label_of)
            ctxs.extend(cs)
            owner.extend([j] * len(cs))
        for c in ctxs:
            first.setdefault(c.text, k)
        steps.append((part, ctxs, owner))
    # carried[k]: (step, context) of later steps whose text step k forwards.
    carried: list[list[tuple[int, int]]] = [[] for _ in steps]
    for m, (_, ctxs, _) in enumerate(steps):
        for i, c in enumerate(ctxs):
            if (k := first[c.text]) != m:
                carried[k].append((m, i))

    def prepare(k: int) -> tuple[dict[int, int], list[tuple[str, Any]]]:
        """Step ``k``'s plan: ``(batches feeding each step, its forward batches as work items)``."""
        ctxs = steps[k][1]
        dest = [(k, i) for i, c in enumerate(ctxs) if first[c.text] == k] + carried[k]
        dest_step = np.fromiter((m for m, _ in dest), np.int64, len(dest))
        dest_ix = np.fromiter((i for _, i in dest), np.int64, len(dest))
        job_ctxs = [steps[m][1][i] for m, i in dest]
        # One forward pass for both; the reliability state is read linear, as before, and only at the
        # paraphrase contexts (all that reliability reads).
        only = {"mention_state": [c.paraphrase for c in job_ctxs]} if readout.position != "mention_state" else None
        texts, job = _code_job(sae, job_ctxs, positions, activations, only, read_codes)
        # The steps each text's contexts belong to: a batch feeds those of its texts.
        fed: dict[str, set[int]] = {}
        for c, m in zip(job_ctxs, dest_step.tolist(), strict=True):
            fed.setdefault(c.text, set()).add(m)
        batches = model.batches(texts, batch_size, max_tokens)
        feeds = [sorted(set().union(*(fed[texts[j]] for j in idx))) for idx, _ in batches]
        counts: dict[int, int] = {}
        for f in feeds:
            for m in f:
                counts[m] = counts.get(m, 0) + 1
        return counts, [("work", (k, job, idx, items, dest_step, dest_ix, f))
                        for (idx, items), f in zip(batches, feeds, strict=True)]

    def plan() -> Iterator[tuple[str, Any]]:
        """Every step's plan, then its forward batches as work items. The next step's plan (its texts, tokens
        and length sort: ~1.5 s for a step of 4,096 WordNet nouns) is made on a thread of its own while this
        step's batches are forwarded; made on a stream when its items were asked for, it held both streams
        (the other one waiting for the same items) at every step."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="kgalign-plan") as ahead_of:
            following = ahead_of.submit(prepare, 0) if steps else None
            for k in range(len(steps)):
                assert following is not None
                counts, items = following.result()
                following = ahead_of.submit(prepare, k + 1) if k + 1 < len(steps) else None
                yield "step", (k, counts)
                yield from items

    def work(payload: tuple) -> list[tuple[int, str, np.ndarray, Any]]:
        """One batch's codes, each under the step and context it belongs to."""
        import torch

        k, job, idx, items, dest_step, dest_ix, _ = payload
        with torch.inference_mode():
            coded = job(model, idx, items)
        out = []
        for position, ix, c in coded:
            to = dest_step[ix]
            if (to == k).all():
                out.append((k, position, dest_ix[ix], c))
                continue
            for m in np.unique(to).tolist():
                rows = np.flatnonzero(to == m)
                out.append((m, position, dest_ix[ix[rows]], c[rows]))
        return out

    def opened(m: int) -> dict[str, Any]:
        st = open_steps.get(m)
        if st is None:
            part, ctxs, owner = steps[m]
            st = open_steps[m] = {"part": part, "ctxs": ctxs, "owner": owner, "expected": 0, "got": 0,
                                  "codes": {p: SparseCodes(len(ctxs), d_sae) for p in positions}}
        return st

    def finish(k: int) -> None:
        nonlocal n_tokens, done_symbols
        st = open_steps.pop(k)
        for sc in st["codes"].values():
            sc.freeze()
        n_tokens += sum(len(c.text) for c in st["ctxs"]) // 4
        t = _aggregate(st["part"], st["ctxs"], st["owner"], st["codes"][readout.position], d_sae, readout)
        if reliable:
            t.reliability = _reliabilities(st["codes"]["mention_state"], st["ctxs"], st["owner"], len(st["part"]),
                                           readout.background_state, readout.reliability_scale)
        finished[k] = t
        done_symbols += len(st["part"])
        if progress:
            progress(done_symbols + _in_flight(), len(todo))

    def _in_flight() -> int:
        return sum(min(len(st["part"]) - 1, len(st["part"]) * st["got"] // max(st["expected"], 1))
                   for m, st in open_steps.items() if m <= planned)

    def sequential() -> Iterator[tuple[str, Any]]:
        for kind, payload in plan():
            yield (kind, payload) if kind != "work" else ("done", (payload, work(payload)))

    finished: dict[int, ConceptTable] = {}
    open_steps: dict[int, dict[str, Any]] = {}
    done_symbols = 0
    planned = -1  # the last step whose plan came through: every batch feeding it is known from then on
    restore = None
    if ahead:
        import torch

        restore = torch.get_num_threads()
        streams, per_stream = embed_streams(restore)
        stream = run_streams(plan(), work, streams=streams, depth=EMBED_DEPTH,
                             setup=lambda: torch.set_num_threads(per_stream))
    else:
        stream = sequential()
    try:
        for kind, payload in stream:
            if kind == "step":
                k, counts = payload
                opened(k)
                for m, n in counts.items():  # a step's batches feed it and later steps only
                    opened(m)["expected"] += n
                planned = k
                touched: Sequence[int] = (k,)
            else:  # one batch's codes, for the steps it feeds (two streams finish in any order)
                (_, _, _, _, _, _, touched), coded = payload
                for m, position, ix, c in coded:
                    open_steps[m]["codes"][position].add(ix, c)
                for m in touched:
                    open_steps[m]["got"] += 1
                if progress:
                    progress(done_symbols + _in_flight(), len(todo))
            for m in touched:  # every batch feeding step m is in (or none did)
                st = open_steps.get(m)
                if st is not None and m <= planned and st["got"] == st["expected"]:
                    finish(m)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        if restore is not None:
            import torch

            torch.set_num_threads(restore)
    table = ConceptTable.concat([finished[k] for k in sorted(finished)], d_sae)
    table.meta = {"skipped": skipped, "seconds": time.perf_counter() - t0, "approx_tokens": n_tokens,
                  "readout": readout.to_dict()}
    return table


def _aggregate(
    part: Sequence[Symbol],
    ctxs: Sequence[ProbeContext],
    owner: Sequence[int],
    codes: SparseCodes,
    d_sae: int,
    readout: Readout | None = None,
) -> ConceptTable:
    """The step's concept table from its frozen per-context codes, every symbol at once: mean codes and
    firing counts from sparse products, supports and stability sets from :func:`_top_dense` (the same values,
    bit for bit, as :func:`support_stability` and a per-symbol top-``SUPPORT_SIZE`` give)."""
    n, m = len(part), SUPPORT_SIZE
    sids = np.full((n, m), -1, np.int32)
    sw = np.zeros((n, m), np.float32)
    sf = np.zeros((n, m), np.float32)
    bounds = np.searchsorted(np.asarray(owner), np.arange(n + 1))  # owner runs 0, 0, 1, 1, 1, 2, ...
    ncx = np.diff(bounds).astype(np.int32)
    # Every symbol's mean code and firing counts at once (the sums add each symbol's contexts in order, as
    # the dense mean does: the same bits).
    sums, positive = codes.group_sums(bounds)
    means = sums / ncx[:, None].astype(np.float32)
    vectors = means if readout is None else readout.transform(means)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    # Supports: each symbol's strongest positive features, strongest first (ties: lower feature first).
    which, rank, feat, val = _top_dense(vectors, m)
    sids[which, rank] = feat
    sw[which, rank] = val
    sf[which, rank] = positive[which, feat].astype(np.float64) / ncx[which].astype(np.int64)
    # Stability: the paraphrase contexts' top-STABILITY_TOP_M sets, compared pairwise within each symbol.
    para = np.flatnonzero(np.asarray([c.paraphrase for c in ctxs], dtype=bool))
    top_m = STABILITY_TOP_M
    w, r, f, _ = _top_entries(codes.start[para], codes.length[para], codes.cols, codes.vals, top_m)
    sets = np.full((len(para), top_m), -1, np.int64)
    sets[w, r] = f
    per = np.bincount(np.asarray(owner, np.int64)[para], minlength=n) if len(para) else np.zeros(n, np.int64)
    stab = _group_stability(sets, per).astype(np.float32)
    strength = vectors.max(1) if d_sae else np.zeros(n, np.float32)
    return ConceptTable([(s.graph, s.iri) for s in part], vectors, sids, sw, sf, stab,
                        strength.astype(np.float32), ncx)


def _reliabilities(
    state: SparseCodes, ctxs: Sequence[ProbeContext], owner: Sequence[int], n: int,
    background: np.ndarray | None, scale: float | None,
) -> np.ndarray:
    """``[n]`` float32: each symbol's :func:`~kgalign.neural.reliability.concept_reliability` from the frozen
    mean-state codes of its paraphrase contexts (0 for a symbol with none), the means from one sparse product."""
    from kgalign.neural.reliability import reliability_of_mean

    para = np.flatnonzero(np.asarray([c.paraphrase for c in ctxs], dtype=bool))
    per = np.bincount(np.asarray(owner, np.int64)[para], minlength=n)
    means = state.group_sums_of(para, per) / np.maximum(per, 1)[:, None].astype(np.float32)
    return np.asarray([reliability_of_mean(means[j], background=background, scale=scale) if per[j] else 0.0
                       for j in range(n)], np.float32)
