"""Rebuild the feature statistics shipped beside the default SAE.

``python -m kgalign.neural.default_sae_stats [--snippets N]`` streams a seeded sample of
WordNet 3.0 snippets (Debian's ``wordnet-base``) plus the demo ontologies' text through
the default model and SAE and writes ``feature_stats.json`` (density, mean activation,
top snippets and an automatic label per feature) into the SAE's directory. The blind-spot
analysis reads corpus densities from it; without it kgalign falls back to the loaded
artefacts' own text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from kgalign.neural.corpus import read_rdf_literals, wordnet_corpus
    from kgalign.neural.features import compute_feature_stats
    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.paths import FEATURE_STATS_FILE, default_sae_dir
    from kgalign.neural.sae.io import load_sae

    p = argparse.ArgumentParser(prog="python -m kgalign.neural.default_sae_stats", description=__doc__)
    p.add_argument("--snippets", type=int, default=12_000, help="WordNet snippets to sample (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="default: beside the default SAE")
    args = p.parse_args(argv)
    sae_dir = default_sae_dir()
    wn = list(wordnet_corpus())
    rng = np.random.default_rng(args.seed)
    pick = sorted(rng.choice(len(wn), size=min(args.snippets, len(wn)), replace=False).tolist())
    texts = [wn[i] for i in pick]
    onto = Path(__file__).resolve().parents[2] / "ontologies"
    if onto.is_dir():
        texts += list(read_rdf_literals(onto))
    model = load_base_model(ModelSpec())
    sae = load_sae(sae_dir)
    t0 = time.perf_counter()
    stats = compute_feature_stats(
        model, sae, texts, corpus_name=f"WordNet 3.0 sample ({len(pick)} snippets, seed {args.seed}) + demo ontologies",
        top_n=5, progress=lambda n: print(f"\r{n}/{len(texts)} snippets", end="", file=sys.stderr),
    )
    print(file=sys.stderr)
    for sn in stats.snippets:
        for s in sn:
            if len(s["text"]) > 200:  # keep the file small: a window around the token
                a = max(0, s["start"] - 80)
                s["text"], s["start"], s["end"] = s["text"][a : a + 200], s["start"] - a, s["end"] - a
    stats.extra["seconds"] = round(time.perf_counter() - t0, 1)
    out = args.out or sae_dir / FEATURE_STATS_FILE
    stats.save(out)
    print(f"wrote {out}: {stats.n_tokens} tokens, {int((stats.density > 0).sum())} live features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
