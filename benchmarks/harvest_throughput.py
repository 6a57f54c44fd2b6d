"""Harvesting throughput of the default model against a bare forward pass over the same batches.

    python benchmarks/harvest_throughput.py [--snippets 2000] [--batch-size 32] [--rounds 3]

Prints tokens/s of
- ``bare``: ``model(**batch)`` on the whole model (all 6 blocks), the reference;
- ``bare-to-layer``: the same batches stopped after the blocks ``harvest`` needs (the hook alone);
- ``harvest``: :func:`kgalign.neural.harvest.harvest` end to end (tokenizing, length-sorted padding, the
  layer hook, float32 copies, memmap appends with fsync, meta.json) into a fresh cache,
and the ratio harvest / bare (target ≥ 0.9). The snippets are every n-th WordNet gloss or example, so
nouns, verbs, adjectives and adverbs all appear. Rounds interleave the three (in rotating order) and the best of each
is kept, which damps the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from kgalign.neural.corpus import wordnet_corpus
from kgalign.neural.harvest import harvest
from kgalign.neural.model import BaseModel, ModelSpec, load_base_model


def bare_forward(model: BaseModel, batches: list, *, stop_at_layer: bool) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for _, items in batches:
            ids, mask = model._pad(items)
            if stop_at_layer:
                model._capture(ids, mask)
            else:
                model.model(input_ids=ids, attention_mask=mask)
    return time.perf_counter() - start


def run_harvest(model: BaseModel, texts: list[str], batch_size: int) -> float:
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        # one shard = the whole list, so harvest forms exactly the batches the bare forward runs
        harvest(model, texts, root, batch_size=batch_size, shard_texts=len(texts), progress=False)
        return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--snippets", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=6)
    args = p.parse_args()

    corpus = list(wordnet_corpus())
    step = max(1, len(corpus) // args.snippets)
    texts = corpus[::step][: args.snippets]
    model = load_base_model(ModelSpec())
    batches = model.batches(texts, args.batch_size)
    n_tokens = sum(len(e.ids) for _, items in batches for e in items)
    print(f"model {model.name} layer {model.layer}/{model.n_layers}, torch threads {torch.get_num_threads()}")
    print(
        f"{len(texts)} snippets, {len(batches)} batches of {args.batch_size}, {n_tokens} tokens (with [CLS]/[SEP])"
    )

    bare_forward(model, batches[:4], stop_at_layer=False)  # warm-up
    runs = {
        "bare": lambda: bare_forward(model, batches, stop_at_layer=False),
        "harvest": lambda: run_harvest(model, texts, args.batch_size),
        "bare-to-layer": lambda: bare_forward(model, batches, stop_at_layer=True),
    }
    names = list(runs)
    best = dict.fromkeys(names, float("inf"))
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate, so no variant always runs first
        times = {name: runs[name]() for name in order}
        print(f"round {r + 1}: " + ", ".join(f"{k} {n_tokens / v:,.0f} tok/s" for k, v in times.items()))
        best = {k: min(best[k], times[k]) for k in best}
    rate = {k: n_tokens / v for k, v in best.items()}
    ratio = rate["harvest"] / rate["bare"]
    print(
        f"best: bare {rate['bare']:,.0f} tok/s, bare-to-layer {rate['bare-to-layer']:,.0f} tok/s, "
        f"harvest {rate['harvest']:,.0f} tok/s"
    )
    print(f"harvest / bare forward = {ratio:.2f} (target >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'})")
    print(
        f"harvest / bare forward to layer {model.layer} = {rate['harvest'] / rate['bare-to-layer']:.2f} "
        "(the cost of harvesting itself)"
    )


if __name__ == "__main__":
    main()
