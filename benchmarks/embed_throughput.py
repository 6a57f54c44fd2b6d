"""Embedding figures: SAE training tokens/s, and the time and peak memory to embed all seven
OAEI Conference ontologies plus the demo ontologies with the default model and SAE.

Run: ``.venv/bin/python benchmarks/embed_throughput.py``. Prints figures; asserts nothing.
Peak memory is the process's maximum resident set size (ru_maxrss), measured in a fresh
subprocess per stage so one stage's peak does not hide another's.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OAEI = REPO.parent / "shared" / "data" / "oaei-conference"


def _embed_stage(ws_dir: str) -> dict:
    from kgalign.api import Workspace, shipped_ontologies

    ws = Workspace.open(ws_dir)
    files = sorted(OAEI.glob("*.owl")) + shipped_ontologies()
    t0 = time.perf_counter()
    for f in files:
        ws.load(f)
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    rep = ws.embed(quiet=True)
    t_embed = time.perf_counter() - t1
    return {
        "artefacts": len(files),
        "symbols": rep.n_symbols,
        "load_s": round(t_load, 2),
        "embed_s": round(t_embed, 2),
        "symbols_per_s": round(rep.n_symbols / t_embed, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _train_stage(tokens: int) -> dict:
    import numpy as np

    from kgalign.neural.corpus import wordnet_corpus
    from kgalign.neural.harvest import harvest
    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.train import TrainConfig, train_sae

    model = load_base_model(ModelSpec())
    texts = []
    for i, t in enumerate(wordnet_corpus()):
        if i >= tokens // 12:
            break
        texts.append(t)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cache = harvest(model, texts, tmp, progress=False, max_tokens=tokens)
        t_h = time.perf_counter() - t0
        acts = np.asarray(cache.activations)
        cfg = TrainConfig(architecture="topk", d_sae=3072, k=32, n_steps=200, batch_size=2048, log_every=1000,
                          eval_tokens=4096, log_eval_tokens=2048)
        t1 = time.perf_counter()
        res = train_sae(cfg, acts, progress=False)
        t_t = time.perf_counter() - t1
    n_train = 200 * 2048
    return {
        "harvest_tokens": int(acts.shape[0]),
        "harvest_tokens_per_s": round(acts.shape[0] / t_h, 1),
        "train_tokens_per_s": round(n_train / t_t, 1),
        "train_fve_after_200_steps": round(float(res.metrics.fraction_of_variance_explained), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--stage-embed":
        print(json.dumps(_embed_stage(sys.argv[2])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--stage-train":
        print(json.dumps(_train_stage(int(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, __file__, "--stage-embed", str(Path(tmp) / "ws")],
                             capture_output=True, text=True, check=True)
        embed = json.loads(out.stdout.strip().splitlines()[-1])
    out = subprocess.run([sys.executable, __file__, "--stage-train", "60000"], capture_output=True, text=True,
                         check=True)
    train = json.loads(out.stdout.strip().splitlines()[-1])
    print("embed: all 7 OAEI Conference ontologies + the demo ontologies, default model and SAE")
    for k, v in embed.items():
        print(f"  {k:26} {v}")
    print("SAE training (TopK, d_sae 3072, k 32, batch 2048) on WordNet gloss activations")
    for k, v in train.items():
        print(f"  {k:26} {v}")


if __name__ == "__main__":
    main()
