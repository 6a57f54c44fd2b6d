"""Readout sweep without retraining: how codes become concept vectors, against the dense states.

    .venv/bin/python benchmarks/readout_sweep.py [--sae DIR] [--json out.json]

Reuses the dense states ``benchmarks/bridge_quality.py`` caches (run it once first), encodes them with the
SAE and measures, for each readout variant, the three figures the default is chosen on — synonym AUC (2,000
held-out WordNet synsets, synonym vs random pair cosine), WordNet no-shared-word retrieval hits@1 (2,000
candidates) and OAEI Conference reference hits@1 — each beside the dense mean of the same contexts.

Variants (``v`` = a context's code; ``mean`` over the symbol's contexts; ``bg`` = the same readout of the
background words; ``idf`` = ``-log10`` firing density; ``act`` = a feature's mean activation when active,
from the SAE's ``feature_stats.json``):

- ``idf+centre`` (the shipped default): ``(mean v − bg) · idf``;
- ``centre``: ``mean v − bg``; ``idf``: ``mean v · idf``; ``idf^p+centre``: ``(mean v − bg) · idf^p``;
- ``scale+centre[+idf]``: codes divided by ``act`` first (per-feature scale normalised);
- ``log+centre+idf``: ``log1p(v)`` (large activations damped; ``sqrt``: ``√v``; ``bin``: ``v > 0``);
  with ``scale`` the division comes first;
- ``pool+centre[+idf]``: the code of the symbol's *pooled* state (mean of its contexts' mention states),
  not the mean of its contexts' codes;
- ``state-centre``: the code of (state − background state + mean training state) — the SAE code of the
  centred state;
- ``pos+…``: each token contributes every latent whose pre-activation is positive (the encoder without the
  top-k cut: :meth:`encode_positive`), then as the rest of the name says.

Selection rule (stated before looking): the variant whose *worst* margin over dense (AUC, WordNet hits@1,
Conference hits@1) is largest; ties by the sum of margins.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bridge_quality as bq  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sae")
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--cache", type=Path, default=bq.DEFAULT_CACHE)
    ap.add_argument("--synsets", type=int, default=2000)
    ap.add_argument("--only", help="comma-separated variant names")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from kgalign.neural.corpus import background_words
    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.probing import paraphrase_contexts
    from kgalign.neural.sae.io import load_feature_density, load_sae, read_config

    sae_dir = Path(args.sae) if args.sae else bq._sae_dir(argparse.Namespace(sae=None))
    layer = int(read_config(sae_dir).hook_layer)
    sae = load_sae(sae_dir)
    model = load_base_model(ModelSpec(name_or_path=args.model, layer=layer))
    density = load_feature_density(sae_dir)
    idf = bq._idf(sae_dir, density, sae, model, layer, args.cache).astype(np.float64)
    act = _mean_activation(sae_dir, int(sae.W_dec.shape[0]))

    def probe(ctxs: list) -> Any:
        return bq.dense_contexts(model, ctxs, args.cache)

    bg_words = background_words(200)
    bg_ctx = [c for w in bg_words for c in paraphrase_contexts(w)]
    bg = probe(bg_ctx)
    wp = bq.wordnet_probe(args.synsets)
    words = wp.a + wp.b
    wctx, wown = [], []
    for i, w in enumerate(words):
        cs = paraphrase_contexts(w)
        wctx.extend(cs)
        wown.extend([i] * len(cs))
    wdc = probe(wctx)
    keys, cctx, cown, refs, syms = bq.conference_probe()
    cdc = probe(cctx)
    n = len(wp.a)
    wown_a, cown_a = np.asarray(wown), np.asarray(cown)
    rng = np.random.default_rng(bq.SEED)
    perm = (np.arange(n) + rng.integers(1, n, size=n)) % n
    ident = np.arange(n)

    def tok_codes(dc: Any, codes: str = "sae") -> np.ndarray:
        return bq._encode(sae, dc.tok[layer], codes=codes)

    def ctx_mean(per_tok: np.ndarray, dc: Any) -> np.ndarray:
        return bq.group_mean(per_tok, dc.tok_ctx, dc.n_ctx)

    def states(dc: Any) -> np.ndarray:
        return bq.group_mean(dc.tok[layer], dc.tok_ctx, dc.n_ctx)  # [n_ctx, d] mean mention state

    toks = {(id(dc), "sae"): tok_codes(dc) for dc in (bg, wdc, cdc)}
    st = {id(dc): states(dc) for dc in (bg, wdc, cdc)}
    bg_state = st[id(bg)].mean(0)
    mu = np.asarray(sae.b_dec.detach().numpy(), np.float64) if hasattr(sae, "b_dec") else 0.0

    def concept(dc: Any, owner: np.ndarray, n_sym: int, variant: str) -> np.ndarray:
        """Concept vectors of one probe set (``dc``) under ``variant``, and of the background."""
        parts = variant.split("+")
        if parts[0] == "pos":  # every positive pre-activation, not the top-k: then as the rest of the name says
            parts = parts[1:] + ["pos"]
        if parts[0] == "pool":
            pooled = bq.group_mean(st[id(dc)], owner, n_sym)
            return bq._encode(sae, pooled).astype(np.float64)
        if parts[0] == "state-centre":
            x = bq.group_mean(st[id(dc)], owner, n_sym) - bg_state + mu
            return bq._encode(sae, x).astype(np.float64)
        codes = "positive" if "pos" in parts else "sae"
        if (id(dc), codes) not in toks:
            toks[(id(dc), codes)] = tok_codes(dc, codes)
        t = toks[(id(dc), codes)]
        if "scale" in parts:
            t = t / np.maximum(act, 1e-6)
        if "log" in parts:
            t = np.log1p(t)
        elif "sqrt" in parts:
            t = np.sqrt(t)
        elif "bin" in parts:
            t = (t > 0).astype(np.float32)
        return bq.group_mean(ctx_mean(t, dc), owner, n_sym).astype(np.float64)

    bg_owner = np.repeat(np.arange(len(bg_words)), len(bg_ctx) // len(bg_words))

    def finish(v: np.ndarray, bgv: np.ndarray, variant: str) -> np.ndarray:
        parts = variant.split("+")
        if "centre" in parts or parts[0] == "state-centre":
            v = v - bgv
        for p in parts:
            if p == "idf":
                v = v * idf
            elif p.startswith("idf^"):
                v = v * idf ** float(p[4:])
        return v

    def measure(variant: str) -> dict[str, float]:
        if variant == "dense":
            vw = bq.group_mean(ctx_mean(wdc.tok[layer], wdc), wown_a, 2 * n)
            vc = bq.group_mean(ctx_mean(cdc.tok[layer], cdc), cown_a, len(keys))
        else:
            bgv = concept(bg, bg_owner, len(bg_words), variant).mean(0)
            if variant.split("+")[0] == "state-centre":
                bgv = bq._encode(sae, (bg_state - bg_state + mu)[None]).astype(np.float64)[0]
            vw = finish(concept(wdc, wown_a, 2 * n, variant), bgv, variant)
            vc = finish(concept(cdc, cown_a, len(keys), variant), bgv, variant)

        def pair_cos(j: np.ndarray) -> np.ndarray:
            a, b = vw[:n], vw[n:][j]
            return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)

        conf, _, _ = bq.conference_hits(vc, keys, refs, syms)
        return {"auc": bq.auc(pair_cos(ident), pair_cos(perm)),
                "wn_hits1": bq.hits(bq.cosine_matrix(vw[:n], vw[n:]), ident)[1], "conf_hits1": conf[1]}

    variants = ["idf+centre", "centre", "idf", "idf^0.5+centre", "idf^0.25+centre", "scale+centre",
                "scale+centre+idf", "scale+centre+idf^0.5", "log+centre+idf", "log+centre", "pool+centre",
                "pool+centre+idf", "pool+centre+idf^0.5", "state-centre", "state-centre+idf^0.5",
                "sqrt+centre+idf", "bin+centre+idf", "scale+log+centre+idf", "scale+log+centre",
                "scale+log+centre+idf^0.5", "log+centre+idf^0.5", "sqrt+centre+idf^0.5",
                "pos+log+centre+idf", "pos+log+centre+idf^0.5", "pos+log+centre", "pos+sqrt+centre+idf^0.5",
                "pos+sqrt+centre", "pos+centre", "pos+centre+idf", "pos+scale+log+centre"]
    if args.only:
        variants = args.only.split(",")
    base = measure("dense")
    print(f"dense: AUC {base['auc']:.3f}, WordNet hits@1 {base['wn_hits1']:.3f}, Conference hits@1 "
          f"{base['conf_hits1']:.3f}", flush=True)
    rows = []
    for v in variants:
        m = measure(v)
        margins = {k: m[k] - base[k] for k in m}
        rows.append({"variant": v, **m, "worst_margin": min(margins.values()), "sum_margin": sum(margins.values())})
        print(f"{v:<24} AUC {m['auc']:.3f} ({margins['auc']:+.3f})  WN {m['wn_hits1']:.3f} "
              f"({margins['wn_hits1']:+.3f})  Conf {m['conf_hits1']:.3f} ({margins['conf_hits1']:+.3f})", flush=True)
    rows.sort(key=lambda r: (-r["worst_margin"], -r["sum_margin"]))
    print("\n| readout | AUC | WordNet hits@1 | Conference hits@1 | worst margin | sum of margins |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| dense (mean state, same contexts) | {base['auc']:.3f} | {base['wn_hits1']:.3f} | "
          f"{base['conf_hits1']:.3f} | — | — |")
    for r in rows:
        print(f"| {r['variant']} | {r['auc']:.3f} | {r['wn_hits1']:.3f} | {r['conf_hits1']:.3f} | "
              f"{r['worst_margin']:+.3f} | {r['sum_margin']:+.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"dense": base, "variants": rows}, indent=1))
    return 0


def _mean_activation(sae_dir: Path, d_sae: int) -> np.ndarray:
    """Mean activation of each feature when active (``feature_stats.json``), 1 where unknown."""
    out = np.ones(d_sae, np.float64)
    path = sae_dir / "feature_stats.json"
    if path.is_file():
        for f in json.loads(path.read_text()).get("features", []):
            a = f.get("mean_activation")
            if a:
                out[int(f["index"])] = float(a)
    return out


if __name__ == "__main__":
    sys.exit(main())
