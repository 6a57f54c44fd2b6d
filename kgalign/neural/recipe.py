"""Training an SAE for a workspace's model from a corpus, end to end.

Stages: split the corpus into train and held-out snippets (seeded) → harvest activations
for both into the on-disk cache (resumable) → :func:`train_sae` → evaluate on the held-out
activations → for a causal LM, the change in next-token loss when the layer is replaced by
the SAE's reconstruction → save in SAELens's layout with ``metrics.json`` beside it, plus the
feature statistics (density, top snippets, automatic labels) over the held-out snippets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kgalign.errors import EmbedError
from kgalign.neural.model import BaseModel


def split_texts(texts: Sequence[str], eval_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """``(train, held_out)``: a seeded random share of whole snippets is held out."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    n_eval = max(1, round(len(texts) * eval_fraction))
    return [texts[i] for i in order[n_eval:]], [texts[i] for i in order[:n_eval]]


def spliced_loss_delta(model: BaseModel, sae, texts: Sequence[str], max_texts: int = 64) -> dict[str, float]:
    """Next-token loss (nats/token) of a causal LM with and without the SAE's reconstruction at the layer."""
    import torch

    sample = [t for t in texts if len(t) > 20][:max_texts]
    clean = model.next_token_loss(sample)

    def splice(h: torch.Tensor) -> torch.Tensor:
        flat = h.reshape(-1, h.shape[-1]).float()
        with torch.inference_mode():
            recon = sae.decode(sae.encode(flat))
        return recon.reshape(h.shape).to(h.dtype)

    spliced = model.next_token_loss(sample, replace=splice)
    return {"loss_clean": clean, "loss_spliced": spliced, "loss_delta": spliced - clean, "texts": len(sample)}


def train_on_corpus(
    model: BaseModel,
    texts: Sequence[str],
    out: Path,
    cache_root: Path,
    *,
    train_config: Any,
    eval_fraction: float = 0.05,
    max_tokens: int | None = None,
    progress: bool = True,
    feature_stats: bool = True,
) -> dict[str, Any]:
    """Train, evaluate and save an SAE for ``model`` at its layer; returns the metrics written."""
    from kgalign.neural.features import compute_feature_stats
    from kgalign.neural.harvest import harvest
    from kgalign.neural.sae.io import save_sae
    from kgalign.neural.train import evaluate_sae, metrics_to_dict, train_sae

    texts = [t for t in texts if t.strip()]
    if len(texts) < 2:
        raise EmbedError("corpus is empty: an SAE needs at least a few snippets of text")
    train_texts, eval_texts = split_texts(texts, eval_fraction, train_config.seed)
    t0 = time.perf_counter()
    train_cache = harvest(model, train_texts, cache_root, max_tokens=max_tokens, progress=progress)
    eval_cache = harvest(model, eval_texts, cache_root, progress=progress)
    t1 = time.perf_counter()
    result = train_sae(train_config, train_cache.activations, progress=progress)
    t2 = time.perf_counter()
    metrics = evaluate_sae(result.sae, eval_cache.activations)
    save_sae(result.sae, out)
    import torch

    info: dict[str, Any] = {
        "model": model.name,
        "layer": model.layer,
        "train_tokens": int(train_cache.n_tokens),
        "heldout_tokens": int(eval_cache.n_tokens),
        "harvest_seconds": round(t1 - t0, 2),
        "train_seconds": round(t2 - t1, 2),
        "train_tokens_per_second": round(
            (train_config.n_steps or 0) * train_config.batch_size / max(t2 - t1, 1e-9), 1
        ) if train_config.n_steps else None,
        "config": train_config.to_dict(),
        "heldout": metrics_to_dict(metrics),
        "interrupted": bool(getattr(result, "interrupted", False)),
    }
    if model.is_causal:
        info["next_token_loss"] = spliced_loss_delta(model, result.sae, eval_texts)
    (out / "metrics.json").write_text(json.dumps(info, indent=2, default=float))
    if feature_stats:
        stats = compute_feature_stats(model, result.sae, eval_texts + train_texts[: 4 * len(eval_texts)],
                                      corpus_name="training corpus (held-out + sample)")
        stats.save(out / "feature_stats.json")
    del torch
    return info
