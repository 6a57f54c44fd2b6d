"""The bridge sweep: harvest once, train many SAEs, measure each with ``bridge_quality``.

    python benchmarks/bridge_sweep.py harvest [--root DIR] [--chunk 4000]
    python benchmarks/bridge_sweep.py train NAME --layer 6 [--d-sae 6144 --k 32 --arch topk --positions all]

``harvest`` runs the default model once over :func:`kgalign.neural.corpus.bridge_training_corpus`
(training part shuffled with seed 0, in chunks written atomically, so an interrupted run resumes where it
stopped) and keeps the residual stream at layers 4, 5 and 6 (float16, special tokens dropped) with the
token ids and snippet of every row. ``train`` fits an SAE on the chunks done so far at one layer, on all
tokens, on content-bearing tokens only, or on pooled snippet states (a concept-level SAE).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kgalign.neural.recipe import harvest_layers, load_part, pool_snippets, train_bridge_sae  # noqa: F401

DEFAULT_ROOT = Path(os.environ.get("KGALIGN_BRIDGE_SWEEP", Path.home() / ".cache" / "kgalign" / "bridge-sweep"))


def harvest(root: Path, chunk: int) -> None:
    harvest_layers(root, chunk)


def train(args: argparse.Namespace) -> None:
    train_bridge_sae(args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bridge_sweep")
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("harvest")
    h.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    h.add_argument("--chunk", type=int, default=4000)
    t = sub.add_parser("train")
    t.add_argument("name")
    t.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    t.add_argument("--out", type=Path, default=DEFAULT_ROOT.parent / "bridge-saes")
    t.add_argument("--layer", type=int, default=6)
    t.add_argument("--positions", choices=("all", "content", "pooled"), default="all")
    t.add_argument("--arch", default="topk")
    t.add_argument("--d-sae", type=int, default=4096)
    t.add_argument("--k", type=int, default=32)
    t.add_argument("--epochs", type=float, default=1.0)
    t.add_argument("--batch-size", type=int, default=2048)
    t.add_argument("--max-chunks", type=int, default=None)
    t.add_argument("--max-tokens", type=int, default=None)
    c = sub.add_parser("table", help="the sweep table of bridge_quality.py --json files")
    c.add_argument("files", nargs="+", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "harvest":
        harvest(args.root, args.chunk)
    elif args.cmd == "train":
        train(args)
    elif args.cmd == "table":
        import json

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bridge_quality import summary

        results, names = [], []
        for f in args.files:
            data = json.loads(f.read_text())
            for res in data if isinstance(data, list) else [data]:
                rd = res["readout"]
                results.append(res)
                names.append(f"{f.stem} L{res['layer']} {rd['position']}/{rd['weighting']}"
                             + ("/centred" if rd["centre"] else ""))
        print(summary(results, names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
