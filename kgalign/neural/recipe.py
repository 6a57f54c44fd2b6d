"""Training an SAE for a workspace's model from a corpus, end to end.

Stages: split the corpus into train and held-out snippets (seeded) → harvest activations
for both into the on-disk cache (resumable) → :func:`train_sae` → evaluate on the held-out
activations → for a causal LM, the change in next-token loss when the layer is replaced by
the SAE's reconstruction → save in SAELens's layout with ``metrics.json`` beside it, plus the
feature statistics (density, top snippets, automatic labels) over the held-out snippets.
"""

from __future__ import annotations

import json
import os
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


# ------------------------------------------------------------------------------------ the bridge recipe
# Harvest the bridge corpus once at several layers (resumable chunks), then train SAEs on it: shared by
# ``benchmarks/bridge_sweep.py`` (the sweep) and ``python -m kgalign.neural.default_sae`` (the default).

LAYERS = (4, 5, 6)
MAX_HELDOUT_SHAKESPEARE = 600


def bridge_parts(seed: int = 0) -> dict[str, list[str]]:
    """The bridge corpus (:func:`bridge_training_corpus`): held-out parts capped, training part shuffled."""
    from kgalign.neural.corpus import bridge_training_corpus

    repo = Path(__file__).resolve().parents[2]
    parts = bridge_training_corpus(ontologies=repo / "ontologies", seed=seed)
    rng = np.random.default_rng(seed)
    sh = parts["heldout_shakespeare"]
    keep = sorted(rng.choice(len(sh), size=min(MAX_HELDOUT_SHAKESPEARE, len(sh)), replace=False).tolist())
    parts["heldout_shakespeare"] = [sh[i] for i in keep]
    order = rng.permutation(len(parts["train"]))
    parts["train"] = [parts["train"][i] for i in order]
    return parts


def harvest_layers(
    root: Path, chunk: int = 4000, batch_size: int = 64, max_snippets: int | None = None,
    layers: Sequence[int] = LAYERS, skip_roots: Sequence[Path] = (),
) -> None:
    """Harvest the bridge corpus at ``layers`` (default :data:`LAYERS`) into ``root`` in resumable chunks (see
    the module doc). Only the blocks up to the deepest requested layer run; a chunk counts as done when its
    meta file and every requested layer's file exist. ``skip_roots``: training snippets already harvested
    there (same token ids) are left out, so a new root only adds what earlier harvests lack (train on the
    union with ``train_bridge_sae``'s ``extra_roots``)."""
    import torch

    from kgalign.neural.model import ModelSpec, load_base_model

    torch.set_num_threads(int(os.environ.get("KGALIGN_THREADS", "1")))
    root.mkdir(parents=True, exist_ok=True)
    parts = bridge_parts()
    if max_snippets is not None:
        parts["train"] = parts["train"][:max_snippets]
    model = load_base_model(ModelSpec(max_length=128))
    if skip_roots:
        have: set[bytes] = set()
        for other in skip_roots:
            have |= harvested_keys(other, "train")
        keys = text_keys(model, parts["train"])
        parts["train"] = [t for t, k in zip(parts["train"], keys, strict=True) if k not in have]
        print(f"{len(keys) - len(parts['train'])} training snippets already harvested in "
              f"{', '.join(map(str, skip_roots))}; {len(parts['train'])} left", flush=True)
    (root / "parts.json").write_text(json.dumps({k: len(v) for k, v in parts.items()}))
    total = sum(len(v) for v in parts.values())
    done_snippets = 0
    t0 = time.perf_counter()
    tokens = 0
    for part, texts in parts.items():
        for c0 in range(0, len(texts), chunk):
            name = f"{part}_{c0 // chunk:04d}"
            if (root / f"{name}.meta.npz").exists() and all(
                (root / f"{name}.L{layer}.npy").exists() for layer in layers
            ):
                done_snippets += len(texts[c0 : c0 + chunk])
                continue
            sub = texts[c0 : c0 + chunk]
            per_layer: dict[int, list[np.ndarray]] = {layer: [] for layer in layers}
            ids_l, snip_l, pos_l = [], [], []
            with torch.inference_mode():
                for idx, items in model.batches(sub, batch_size):
                    ids, mask = model._pad(items)
                    hs = forward_states(model, ids, mask, layers)
                    for row, (i, e) in enumerate(zip(idx, items, strict=True)):
                        keep = np.flatnonzero(~np.asarray(e.special, dtype=bool))
                        for layer in layers:
                            per_layer[layer].append(hs[layer][row, keep].to(torch.float16).numpy())
                        ids_l.append(np.asarray(e.ids, dtype=np.int32)[keep])
                        snip_l.append(np.full(len(keep), c0 + i, np.int32))
                        pos_l.append(keep.astype(np.int16))
            for layer in layers:
                tmp = root / f"{name}.L{layer}.tmp.npy"
                np.save(tmp, np.concatenate(per_layer[layer]))
                os.replace(tmp, root / f"{name}.L{layer}.npy")
            tmp = root / f"{name}.meta.tmp.npz"
            np.savez(tmp, ids=np.concatenate(ids_l), snippet=np.concatenate(snip_l), pos=np.concatenate(pos_l))
            os.replace(tmp, root / f"{name}.meta.npz")
            n = int(sum(len(x) for x in ids_l))
            tokens += n
            done_snippets += len(sub)
            el = time.perf_counter() - t0
            rate = tokens / max(el, 1e-9)
            left = total - done_snippets
            eta = left / max(done_snippets, 1) * el if tokens else float("nan")
            print(
                f"{time.strftime('%H:%M:%S')} {name}: {n} tokens; total {tokens} tokens this run, "
                f"{rate:,.0f} tok/s; snippets {done_snippets}/{total}; ETA ~{eta / 60:.1f} min",
                flush=True,
            )
    print("harvest done", flush=True)


def forward_states(model: BaseModel, ids: Any, mask: Any, layers: Sequence[int]) -> dict[int, Any]:
    """``hidden_states[layer]`` for each of ``layers`` (``[b, t, d]``); no block after the deepest one runs."""
    from kgalign.neural.model import _StopForward

    got: dict[int, Any] = {}
    last = max(layers)
    handles = []
    for layer in sorted(set(layers)):
        if layer < model.n_layers:

            def pre(module: Any, args: tuple, kwargs: dict, layer: int = layer) -> None:
                got[layer] = args[0] if args else kwargs["hidden_states"]
                if layer == last:
                    raise _StopForward

            handles.append(model.blocks[layer].register_forward_pre_hook(pre, with_kwargs=True))
        else:

            def post(module: Any, args: tuple, output: Any, layer: int = layer) -> None:
                got[layer] = output[0] if isinstance(output, tuple) else output
                raise _StopForward

            handles.append(model.blocks[-1].register_forward_hook(post))
    try:
        model.model(input_ids=ids, attention_mask=mask)
    except _StopForward:
        pass
    finally:
        for h in handles:
            h.remove()
    return got


def text_keys(model: BaseModel, texts: Sequence[str]) -> list[bytes]:
    """Per text, the bytes of its int32 token ids without special tokens (as harvested): a snippet's identity
    across harvests made in different orders."""
    out = []
    for e in model.encode(texts):
        ids = np.asarray(e.ids, dtype=np.int32)[~np.asarray(e.special, dtype=bool)]
        out.append(ids.tobytes())
    return out


def _chunk_keys(meta: dict) -> list[tuple[bytes, int, int]]:
    """``(key, first row, end row)`` per snippet of one chunk (a snippet's rows are contiguous)."""
    snip = meta["snippet"]
    if not len(snip):
        return []
    cuts = np.flatnonzero(np.diff(snip)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(snip)]])
    return [(meta["ids"][a:b].tobytes(), int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def harvested_keys(root: Path, part: str) -> set[bytes]:
    """Keys (:func:`text_keys`) of every snippet in the finished chunks of ``part`` under ``root``."""
    keys: set[bytes] = set()
    for m in sorted(root.glob(f"{part}_*.meta.npz")):
        with np.load(m) as z:
            keys.update(k for k, _, _ in _chunk_keys({"ids": z["ids"], "snippet": z["snippet"]}))
    return keys


def load_union(roots: Sequence[Path], part: str, layer: int, allowed: set[bytes]) -> tuple[np.ndarray, dict]:
    """Like :func:`load_part` over several harvest roots: each snippet once (first root wins), and only
    snippets whose key is in ``allowed`` (the current training part), so harvests of an older corpus or
    order add what they share with it and nothing else."""
    seen: set[bytes] = set()
    acts, ids, snip, pos = [], [], [], []
    chunks = dropped = 0
    for r_i, root in enumerate(roots):
        for m in sorted(root.glob(f"{part}_*.meta.npz")):
            name = m.name[: -len(".meta.npz")]
            with np.load(m) as z:
                meta = {"ids": z["ids"], "snippet": z["snippet"], "pos": z["pos"]}
            keep = np.zeros(len(meta["ids"]), dtype=bool)
            for key, a, b in _chunk_keys(meta):
                if key in allowed and key not in seen:
                    seen.add(key)
                    keep[a:b] = True
                else:
                    dropped += 1
            x = np.load(root / f"{name}.L{layer}.npy", mmap_mode="r")
            acts.append(np.asarray(x)[keep])
            ids.append(meta["ids"][keep])
            snip.append(meta["snippet"][keep] + r_i * 10_000_000)
            pos.append(meta["pos"][keep])
            chunks += 1
    if not acts:
        raise SystemExit(f"no finished chunks of {part} in {', '.join(map(str, roots))}")
    return np.concatenate(acts), {
        "ids": np.concatenate(ids), "snippet": np.concatenate(snip), "pos": np.concatenate(pos), "chunks": chunks,
        "snippets": len(seen), "dropped_snippets": dropped,
    }


def load_part(root: Path, part: str, layer: int, max_chunks: int | None = None) -> tuple[np.ndarray, dict]:
    """Concatenated activations ``[n, 384]`` float16 and ids/snippet/pos of the finished chunks of ``part``."""
    metas = sorted(root.glob(f"{part}_*.meta.npz"))
    if max_chunks is not None:
        metas = metas[:max_chunks]
    acts, ids, snip, pos = [], [], [], []
    for m in metas:
        name = m.name[: -len(".meta.npz")]
        acts.append(np.load(root / f"{name}.L{layer}.npy", mmap_mode="r"))
        with np.load(m) as z:
            ids.append(z["ids"])
            snip.append(z["snippet"])
            pos.append(z["pos"])
    if not acts:
        raise SystemExit(f"no finished chunks of {part} in {root}")
    return np.concatenate(acts), {
        "ids": np.concatenate(ids), "snippet": np.concatenate(snip), "pos": np.concatenate(pos), "chunks": len(metas)
    }


def pool_snippets(x: np.ndarray, snippet: np.ndarray) -> np.ndarray:
    """Mean state per snippet ``[n_snippets, d]`` float32 (rows grouped by snippet id, first-seen order)."""
    uniq, inv = np.unique(snippet, return_inverse=True)
    out = np.zeros((len(uniq), x.shape[1]), np.float64)
    for s in range(0, len(x), 200_000):
        np.add.at(out, inv[s : s + 200_000], np.asarray(x[s : s + 200_000], np.float64))
    return (out / np.bincount(inv)[:, None]).astype(np.float32)


STOPWORDS = frozenset(
    "a an the of to in on at by for with from and or but nor as is are was were be been being it its this that "
    "these those he she they we you i me him her them us my your his our their which who whom whose what "
    "there here not no so than then such into onto upon about over under out up down off all any some each "
    "do does did have has had will would shall should can could may might must 's".split()
)


def content_mask(ids: np.ndarray, tokenizer) -> np.ndarray:
    """True at content-bearing tokens: not punctuation or digits only, not a stopword (sub-word pieces stay)."""
    import re

    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    keep = np.array(
        [bool(re.search(r"[a-zA-Z]", t)) and t.lower() not in STOPWORDS for t in vocab], dtype=bool
    )
    return keep[ids]


def train_bridge_sae(args: Any) -> dict[str, Any]:
    """Train one SAE of the sweep on the harvested chunks (``args``: see ``benchmarks/bridge_sweep.py train``)."""
    import torch

    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.sae.io import save_sae
    from kgalign.neural.train import TrainConfig, evaluate_sae, train_sae

    torch.set_num_threads(int(os.environ.get("KGALIGN_THREADS", "1")))
    extra = list(getattr(args, "extra_roots", None) or ())
    if extra:
        allowed = set(text_keys(load_base_model(ModelSpec(max_length=128)), bridge_parts()["train"]))
        x, meta = load_union([args.root, *extra], "train", args.layer, allowed)
        print(f"{args.name}: {meta['snippets']} training snippets from {1 + len(extra)} harvests "
              f"({meta['dropped_snippets']} duplicates or no longer in the training part left out)", flush=True)
    else:
        x, meta = load_part(args.root, "train", args.layer, args.max_chunks)
    if args.positions == "content":
        model = load_base_model(ModelSpec())
        m = content_mask(meta["ids"], model.tokenizer)
        x = np.asarray(x)[m]
    elif args.positions == "pooled":
        x = pool_snippets(x, meta["snippet"])
    else:
        x = np.asarray(x)
    if args.max_tokens:
        x = x[: args.max_tokens]
    print(f"{args.name}: {len(x)} rows from {meta['chunks']} chunks, layer {args.layer}, {args.positions}", flush=True)
    cfg = TrainConfig(
        architecture=args.arch, d_sae=args.d_sae, k=args.k, seed=0, epochs=args.epochs, batch_size=args.batch_size,
        n_steps=getattr(args, "n_steps", None),
        model_name="all-MiniLM-L6-v2", hook_layer=args.layer,
        hook_name=f"blocks.{args.layer}.hook_resid_pre" if args.layer < 6 else "blocks.5.hook_resid_post",
        log_every=50, dead_after_tokens=min(100_000, len(x) // 4),
    )
    t0 = time.perf_counter()
    result = train_sae(cfg, x, progress=True)
    secs = time.perf_counter() - t0
    held = []
    for part in ("heldout_wordnet", "heldout_shakespeare", "heldout_schema"):
        h, hm = load_part(args.root, part, args.layer)
        held.append(pool_snippets(h, hm["snippet"]) if args.positions == "pooled" else np.asarray(h))
    metrics = evaluate_sae(result.sae, np.concatenate(held))
    sae = result.sae
    sae.cfg = sae.cfg.replace(metadata_extra={
        **dict(sae.cfg.metadata_extra),
        "kgalign_trained_on": args.positions,
        "kgalign_readout": {"position": "pooled" if args.positions == "pooled" else "mention",
                            "weighting": "none", "centre": False},
    })
    out = args.out / args.name
    save_sae(sae, out, feature_density=torch.from_numpy(np.asarray(metrics.feature_density, np.float32)))
    info = {"name": args.name, "layer": args.layer, "positions": args.positions, "arch": args.arch,
            "d_sae": args.d_sae, "k": args.k, "rows": int(len(x)), "chunks": meta["chunks"],
            "snippets": meta.get("snippets", len(np.unique(meta["snippet"]))),
            "harvest_roots": [str(args.root), *map(str, extra)],
            "steps": result.steps, "tokens_seen": result.tokens_seen, "interrupted": result.interrupted,
            "train_seconds": secs, "heldout_fve": metrics.fve, "heldout_l0": metrics.l0,
            "heldout_dead": metrics.dead_fraction}
    (out.parent / f"{args.name}.train.json").write_text(json.dumps(info, indent=1, default=float))
    print(json.dumps(info, default=float), flush=True)
    return info




def readout_vectors(
    model: BaseModel, sae, position: str, density: np.ndarray, n_background: int = 200, activation: str = "linear",
    codes: str = "sae",
) -> dict[str, np.ndarray]:
    """``idf`` (-log10 firing frequency per feature, 0 for dead ones) and ``background`` (the mean code of
    :func:`kgalign.neural.corpus.background_words` in the paraphrase templates, read at ``position``)."""
    from kgalign.neural.concepts import context_codes
    from kgalign.neural.corpus import background_words
    from kgalign.neural.probing import paraphrase_contexts

    dens = np.asarray(density, np.float64)
    idf = np.where(dens > 0, -np.log10(np.maximum(dens, 1e-6)), 0.0).astype(np.float32)
    words = background_words(n_background)
    ctxs = [c for w in words for c in paraphrase_contexts(w)]
    bg = context_codes(model, sae, ctxs, position=position, activation=activation, codes=codes).mean(0).astype(
        np.float32)
    st = context_codes(model, sae, ctxs, position="mention_state")
    bg_state = st.mean(0).astype(np.float32)
    per_word = st.reshape(len(words), -1, st.shape[1]).mean(1)
    scale = float(np.median(np.linalg.norm(per_word - bg_state, axis=1)))
    return {"idf": idf, "background": bg, "background_state": bg_state,
            "reliability_scale": np.asarray([scale], np.float32)}


def write_readout(out: Path, readout: dict[str, Any], vectors: dict[str, np.ndarray]) -> None:
    """Record a readout in an SAE directory: ``cfg.json`` metadata and ``readout.safetensors``."""
    import torch
    from safetensors.torch import save_file

    cfg_path = out / "cfg.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg.setdefault("metadata", {})["kgalign_readout"] = dict(readout)
    tmp = cfg_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, cfg_path)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in vectors.items()}
    tmp_st = out / "readout.safetensors.tmp"
    save_file(tensors, str(tmp_st))
    os.chmod(tmp_st, 0o644)
    os.replace(tmp_st, out / "readout.safetensors")
