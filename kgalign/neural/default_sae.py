"""Rebuild the SAE that ships with kgalign for the default model.

    python -m kgalign.neural.default_sae                      # the shipped recipe (bridge, chosen by the sweep)
    python -m kgalign.neural.default_sae --recipe wordnet --d-sae 3072 --k 32 --tokens 1000000   # the old one

The bridge recipe (default; issue 9): harvest the bridge corpus (:func:`kgalign.neural.corpus.
bridge_training_corpus`, benchmark synsets, held-out plays and schema.org terms excluded) once at the
trained layer in resumable chunks (rerun the same command to resume; progress with rate and ETA; only the
blocks up to that layer run) → train a TopK SAE (layer 4, d_sae 4096, k 64; ``--steps`` or ``--epochs``) →
store it (float16 above 10 MB, as shipped) → record the readout (mention mean of every positive
pre-activation, log-damped, centred on the background; ``--readout-only`` re-records it on the weights in
``--out``) in ``cfg.json`` with its vectors, computed on the stored weights, in
``readout.safetensors`` → ``metrics.json``. Then measure it with
``benchmarks/bridge_quality.py --sae DIR --json DIR/bridge_quality.json`` (what :mod:`kgalign.neural.reliability`
reads) and rebuild the feature statistics with ``python -m kgalign.neural.default_sae_stats``.

The original WordNet-only recipe (``--recipe wordnet``):

Stages: corpus (WordNet 3.0 glosses and examples, plus the labels and definitions of the demo ontologies)
→ split by snippet into training and held-out texts → harvest both at the default model's layer →
:func:`kgalign.neural.train.train_sae` → :func:`kgalign.neural.train.evaluate_sae` on the held-out
snippets → ``cfg.json`` + ``sae_weights.safetensors`` + ``MODEL_CARD.md`` + ``metrics.json`` in ``--out``
(default ``kgalign/data/sae/minilm-l6-topk``). Every random choice is seeded by ``--seed``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kgalign.errors import KgalignError
from kgalign.neural.recipe import split_texts  # one seeded split, shared with train-sae

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DEFAULT_OUT = PACKAGE_DIR / "data" / "sae" / "minilm-l6-topk"
DEFAULT_ONTOLOGIES = PACKAGE_DIR.parent / "ontologies"

#: What the shipped SAE must reach on the held-out snippets.
TARGETS = {"fve_min": 0.80, "l0_max": 64.0, "dead_max": 0.10, "d_sae_min": 8 * 384}
#: Largest weights file we ship; above it the weights are stored as float16 (the loader casts back).
MAX_WEIGHTS_BYTES = 10 * 1024 * 1024


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m kgalign.neural.default_sae",
        description="Rebuild the default SAE (all-MiniLM-L6-v2, TopK) from WordNet glosses and the demo ontologies.",
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output SAE directory (default: %(default)s)"
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="activation cache root (default: $KGALIGN_CACHE_DIR or ~/.cache/kgalign/activations)",
    )
    p.add_argument(
        "--tokens", type=int, default=None, help="at most this many training tokens (default: all)"
    )
    p.add_argument("--steps", type=int, default=None, help="training steps (default: TrainConfig's epochs)")
    p.add_argument("--epochs", type=float, default=None, help="training epochs when --steps is not given")
    p.add_argument("--d-sae", type=int, default=4096, help="dictionary size (default: %(default)s)")
    p.add_argument("--k", type=int, default=64, help="active latents per token (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=None, help="SAE training batch size")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: TrainConfig's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the shuffle and training")
    p.add_argument(
        "--eval-fraction", type=float, default=0.03, help="share of snippets held out (default: %(default)s)"
    )
    p.add_argument(
        "--wordnet", type=Path, default=Path("/usr/share/wordnet"), help="WordNet 3.0 dict directory"
    )
    p.add_argument(
        "--ontologies",
        type=Path,
        default=DEFAULT_ONTOLOGIES,
        help="directory of .ttl/.jsonld files whose labels and definitions join the corpus",
    )
    p.add_argument(
        "--harvest-batch-size", type=int, default=64, help="texts per forward pass (default: %(default)s)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--recipe",
        choices=("bridge", "wordnet"),
        default="bridge",
        help="bridge (default): the measured recipe of issue 9 (WordNet minus the benchmark synsets, "
        "Shakespeare minus held-out plays, schema.org training terms, encyclopaedia, demo ontologies; "
        "harvested once at --layer in resumable chunks); wordnet: the original WordNet-only recipe",
    )
    p.add_argument("--layer", type=int, default=4, help="bridge recipe: layer to train on (default: %(default)s)")
    p.add_argument(
        "--readout",
        default="mention/none/1/log/positive",
        help="bridge recipe: position/weighting/centre[/activation[/codes]] recorded in cfg.json "
        "(default: %(default)s)",
    )
    p.add_argument("--readout-only", action="store_true",
                   help="bridge recipe: only record --readout on the SAE already in --out (its vectors recomputed "
                   "on the stored weights); no harvest, no training")
    p.add_argument("--positions", choices=("all", "content", "pooled"), default="all",
                   help="bridge recipe: which harvested rows the SAE trains on (default: %(default)s)")
    p.add_argument("--max-snippets", type=int, default=80_000,
                   help="bridge recipe: harvest and train on the first N shuffled training snippets "
                   "(default: %(default)s, about 1.6M tokens; 0 = all 170,938, 3.34M tokens)")
    p.add_argument("--harvest-root", type=Path, default=None,
                   help="bridge recipe: chunk directory (default: <cache>/bridge-harvest); rerun to resume")
    p.add_argument("--extra-harvest-root", type=Path, action="append", default=[],
                   help="bridge recipe: an earlier harvest (repeatable) whose training snippets are not harvested "
                   "again; training reads the union, each snippet once, only snippets of the current corpus")
    p.add_argument("--no-harvest", action="store_true",
                   help="bridge recipe: train on the chunks harvested so far (no harvesting)")
    return p


def build_corpus(wordnet_dir: Path, ontologies: Path | None) -> tuple[list[str], dict[str, int]]:
    """The snippets, deduplicated in first-seen order, and how many came from each source."""
    from kgalign.neural.corpus import RDF_SUFFIXES, read_rdf_literals, wordnet_corpus

    texts: list[str] = []
    seen: set[str] = set()
    counts = {"wordnet": 0, "ontologies": 0}

    def add(source: str, items: Any) -> None:
        for t in items:
            if t not in seen:
                seen.add(t)
                texts.append(t)
                counts[source] += 1

    add("wordnet", wordnet_corpus(wordnet_dir))
    if ontologies is not None and ontologies.is_dir():
        if any(f.suffix.lower() in RDF_SUFFIXES for f in ontologies.rglob("*")):
            add("ontologies", read_rdf_literals(ontologies))
    return texts, counts


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PACKAGE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1 / 5 / 15 min, at the end of the run)"
    except OSError:  # pragma: no cover - not available on this platform
        return "unknown"


def _weights_small_enough(sae: Any, out: Path) -> bool:
    from kgalign.neural.sae.io import WEIGHTS_FILENAME

    return (out / WEIGHTS_FILENAME).stat().st_size <= MAX_WEIGHTS_BYTES


def _save(sae: Any, out: Path, density: np.ndarray) -> str:
    """Save with float32 weights if they fit in :data:`MAX_WEIGHTS_BYTES`, else float16; returns the dtype.

    ``save_sae`` writes into a fresh staging directory whose SAE files then replace those in ``out`` one by
    one, so files others keep beside the SAE (feature statistics...) are left in place.
    """
    import shutil
    import tempfile

    import torch

    from kgalign.neural.sae.io import SAE_FILES, save_sae

    out.mkdir(parents=True, exist_ok=True)
    feature_density = torch.from_numpy(np.asarray(density, dtype=np.float32))
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        target = staging / "sae"
        save_sae(sae, target, feature_density=feature_density)
        dtype = "float32"
        if not _weights_small_enough(sae, target):
            half = copy.deepcopy(sae).half()  # cfg.json still says float32: load_sae casts the tensors back
            save_sae(half, target, feature_density=feature_density)
            dtype = "float16"
        for name in sorted(SAE_FILES):
            if (target / name).exists():
                os.chmod(target / name, 0o644)
                os.replace(target / name, out / name)
            else:
                (out / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    others = sorted(
        p.name for p in out.iterdir() if p.name not in SAE_FILES | {"MODEL_CARD.md", "metrics.json"}
    )
    if others:
        print(f"note: {out} also holds {', '.join(others)}, computed from the previous SAE", file=sys.stderr)
    return dtype


def _density_table(metrics: Any) -> str:
    edges, counts = list(metrics.density_bin_edges), list(metrics.density_counts)
    dead = round(metrics.dead_fraction * len(metrics.feature_density))
    lines = ["| log10(firing frequency) | latents |", "|---|---:|", f"| never fired (dead) | {dead} |"]
    for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
        if c:
            lines.append(f"| [{lo:.1f}, {hi:.1f}) | {c} |")
    return "\n".join(lines)


def model_card(info: dict[str, Any], metrics: Any) -> str:
    m = info["metrics"]
    t = TARGETS
    checks = [
        (
            "fraction of variance explained",
            f"{m['fraction_of_variance_explained']:.4f}",
            f"≥ {t['fve_min']}",
            m["fraction_of_variance_explained"] >= t["fve_min"],
        ),
        (
            "L0 (mean active latents per token)",
            f"{m['l0']:.2f}",
            f"≤ {t['l0_max']:.0f}",
            m["l0"] <= t["l0_max"],
        ),
        (
            "dead latents",
            f"{m['dead_fraction']:.2%}",
            f"< {t['dead_max']:.0%}",
            m["dead_fraction"] < t["dead_max"],
        ),
        ("d_sae", str(info["d_sae"]), f"≥ {t['d_sae_min']}", info["d_sae"] >= t["d_sae_min"]),
    ]
    rows = "\n".join(
        f"| {name} | {value} | {target} | {'yes' if ok else 'NO'} |" for name, value, target, ok in checks
    )
    c = info["corpus"]
    return f"""# Default SAE: all-MiniLM-L6-v2, layer {info["layer"]}, TopK

A TopK sparse autoencoder (k = {info["k"]}, d_sae = {info["d_sae"]}, d_in = {info["d_in"]}) trained on the
residual stream of `{info["model"]}` at layer {info["layer"]} (`hidden_states[{info["layer"]}]`, hook point
`{info["hook_name"]}`), the output of block {info["layer"]} of {info["n_layers"]}. Files in SAELens's layout:
`cfg.json`, `sae_weights.safetensors` ({info["weights_dtype"]} storage, {info["weights_bytes"] / 1e6:.2f} MB),
`sparsity.safetensors` (log10 firing frequency per latent), and `metrics.json` (everything below).

## Held-out metrics

Measured with `evaluate_sae` on {m["n_tokens"]:,} tokens of {info["split"]["eval_snippets"]:,} snippets that
were never trained on (a seeded {info["split"]["eval_fraction"]:.0%} of whole snippets).

| metric | value | target | met |
|---|---:|---:|:---:|
{rows}
| MSE (per element, raw units) | {m["mse"]:.5f} | | |

Feature density on the held-out tokens:

{_density_table(metrics)}

## Data

- Corpus: {c["wordnet"]:,} WordNet 3.0 snippets (synset definitions and their quoted examples, Debian's
  `wordnet-base`) and {c["ontologies"]:,} labels, definitions and comments of the demo ontologies
  (`ontologies/`), deduplicated: {c["total"]:,} snippets.
- Split: {info["split"]["train_snippets"]:,} training snippets, {info["split"]["eval_snippets"]:,} held out;
  both shuffled with seed {info["seed"]}.
- Tokens: {info["train_tokens"]:,} training tokens (special tokens excluded, at most
  {info["max_length"]} tokens per snippet), {info["eval_tokens"]:,} held-out tokens.
- Harvest: {info["harvest_seconds"]:.0f} s ({info["harvest_tokens_per_second"] or 0:,.0f} tokens/s), float16 cache.

## Training

- `train_sae` with {json.dumps(info["train_config"], sort_keys=True)}
- {info["steps"]:,} steps, {info["tokens_seen"]:,} tokens seen, {info["train_seconds"]:.0f} s
  ({info["train_tokens_per_second"]:,.0f} tokens/s){" (interrupted)" if info["interrupted"] else ""}.
- Seed {info["seed"]}; built {info["date"]} with kgalign commit {info["commit"] or "unknown"}, torch
  {info["torch"]}, Python {info["python"]}, on {info["machine"]}; total time {info["total_seconds"] / 60:.1f} min.
  Timings depend on what else the machine was running: load average {info["load_average"]}.

## Rebuild

```
{info["command"]}
```
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args, argv)
    except KgalignError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume the harvest", file=sys.stderr)
        return 130


def _record_readout(out: Path, spec: str, layer: int) -> tuple[Any, dict[str, Any]]:
    """Record the readout ``spec`` (position/weighting/centre[/activation[/codes]]) in the SAE directory
    ``out``, its vectors computed on the stored weights; returns the base model and the readout."""
    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.recipe import readout_vectors, write_readout
    from kgalign.neural.sae.io import load_feature_density, load_sae

    pos, weighting, centre, activation, codes = (spec.split("/") + ["none", "0", "linear", "sae"])[:5]
    readout: dict[str, Any] = {"position": pos, "weighting": weighting, "centre": centre in ("1", "true", "centre")}
    if activation != "linear":
        readout["activation"] = activation
    if codes != "sae":
        readout["codes"] = codes
    sae = load_sae(out)
    density = load_feature_density(out)
    dens = density.numpy() if density is not None else np.ones(int(sae.W_dec.shape[0]), np.float32)
    model = load_base_model(ModelSpec(layer=layer))
    write_readout(out, readout, readout_vectors(model, sae, pos, dens, activation=activation, codes=codes))
    return model, readout


def _run_bridge(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """The bridge recipe: harvest (resumable) → train → readout vectors → measure → ship."""
    import shutil
    import tempfile
    from types import SimpleNamespace

    import torch

    from kgalign.neural.harvest import default_cache_root
    from kgalign.neural.recipe import harvest_layers, train_bridge_sae
    from kgalign.neural.sae.io import load_feature_density, load_sae

    started = time.perf_counter()
    torch.manual_seed(args.seed)
    root = args.harvest_root or (args.cache or default_cache_root()) / "bridge-harvest"
    if not args.no_harvest:
        harvest_layers(root, max_snippets=args.max_snippets or None, layers=(args.layer,),
                       skip_roots=args.extra_harvest_root)
    staging = Path(tempfile.mkdtemp(prefix="kgalign-bridge-sae-"))
    try:
        info = train_bridge_sae(SimpleNamespace(
            name="sae", root=root, out=staging, layer=args.layer, positions=args.positions, arch="topk",
            d_sae=args.d_sae, k=args.k, epochs=args.epochs or 1.2, n_steps=args.steps,
            batch_size=args.batch_size or 2048,
            max_chunks=-(-args.max_snippets // 4000) if args.max_snippets else None, max_tokens=args.tokens,
            extra_roots=args.extra_harvest_root,
        ))
        density = load_feature_density(staging / "sae")
        dens = density.numpy() if density is not None else np.ones(args.d_sae, np.float32)
        out: Path = args.out
        # weights stored as shipped (float16 above MAX_WEIGHTS_BYTES); the readout vectors are computed on the
        # stored weights, so they match what load_sae gives every user
        weights_dtype = _save(load_sae(staging / "sae"), out, dens)
        model, readout = _record_readout(out, args.readout, args.layer)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    parts_file = root / "parts.json"
    info.update({
        "model": model.name, "d_in": model.d_model, "hook_name": json.loads((out / "cfg.json").read_text())
        .get("metadata", {}).get("hook_name"), "architecture": "topk", "batch_size": args.batch_size or 2048,
        "train_rows": info["rows"], "epochs": info["tokens_seen"] / max(info["rows"], 1),
        "corpus_parts_snippets": json.loads(parts_file.read_text()) if parts_file.exists() else None,
        "weights_dtype": weights_dtype + (" (cfg says float32: load_sae casts back)" if weights_dtype == "float16"
                                          else ""),
        "weights_bytes": (out / "sae_weights.safetensors").stat().st_size,
        "measured_by": f"benchmarks/bridge_quality.py --sae {out} --json {out}/bridge_quality.json",
    })
    command = "python -m kgalign.neural.default_sae" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv)
    )
    info.update({"recipe": "bridge", "readout": readout, "command": command, "seed": args.seed,
                 "date": _dt.date.today().isoformat(), "commit": _git_commit(), "torch": torch.__version__,
                 "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "load_average": _load_average(),
                 "total_seconds": time.perf_counter() - started})
    (args.out / "metrics.json").write_text(json.dumps(info, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"{args.out}: held-out FVE {info['heldout_fve']:.4f}, L0 {info['heldout_l0']:.1f}, dead "
          f"{info['heldout_dead']:.2%}; now run benchmarks/bridge_quality.py --sae {args.out} "
          f"--json {args.out}/bridge_quality.json "
          "and python -m kgalign.neural.default_sae_stats")
    return 0


def _run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    import torch

    if args.recipe == "bridge" and args.readout_only:
        _, readout = _record_readout(args.out, args.readout, args.layer)
        metrics = args.out / "metrics.json"
        if metrics.is_file():
            info = json.loads(metrics.read_text(encoding="utf-8"))
            info["readout"] = readout
            info.setdefault("readout_recorded_by", []).append(
                "python -m kgalign.neural.default_sae" + "".join(f" {a}" for a in (sys.argv[1:] if argv is None else argv)))
            metrics.write_text(json.dumps(info, indent=2, default=float) + "\n", encoding="utf-8")
        print(f"{args.out}: readout {readout} recorded; now run benchmarks/bridge_quality.py --sae {args.out} "
              f"--json {args.out}/bridge_quality.json")
        return 0
    if args.recipe == "bridge":
        return _run_bridge(args, argv)

    from kgalign.neural.harvest import default_cache_root, harvest
    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.train import TrainConfig, evaluate_sae, metrics_to_dict, train_sae

    started = time.perf_counter()
    progress = not args.quiet
    say = (lambda msg: print(msg, file=sys.stderr)) if progress else (lambda msg: None)
    torch.manual_seed(args.seed)

    texts, counts = build_corpus(args.wordnet, args.ontologies)
    counts["total"] = len(texts)
    train_texts, eval_texts = split_texts(texts, args.eval_fraction, args.seed)
    say(
        f"corpus: {counts['wordnet']} WordNet + {counts['ontologies']} ontology snippets; "
        f"{len(train_texts)} train / {len(eval_texts)} held out"
    )

    model = load_base_model(ModelSpec())
    cache_root = args.cache or default_cache_root()
    t0 = time.perf_counter()
    train_cache = harvest(
        model,
        train_texts,
        cache_root,
        batch_size=args.harvest_batch_size,
        max_tokens=args.tokens,
        dtype="float16",
        progress=progress,
    )
    eval_cache = harvest(
        model, eval_texts, cache_root, batch_size=args.harvest_batch_size, dtype="float16", progress=progress
    )
    harvest_seconds = time.perf_counter() - t0
    if train_cache.meta.get("seconds"):
        harvest_seconds = float(train_cache.meta["seconds"]) + float(eval_cache.meta.get("seconds") or 0)

    overrides: dict[str, Any] = {}
    for name in ("steps", "epochs", "batch_size", "lr"):
        value = getattr(args, name)
        if value is not None:
            overrides["n_steps" if name == "steps" else name] = value
    cfg = TrainConfig(
        architecture="topk",
        d_sae=args.d_sae,
        k=args.k,
        seed=args.seed,
        model_name=model.name,
        hook_name=model.hook_name,
        hook_layer=model.layer,
        **overrides,
    )
    say(f"training: {train_cache.n_tokens} tokens × {model.d_model} → d_sae={args.d_sae}, k={args.k}")
    t1 = time.perf_counter()
    result = train_sae(cfg, train_cache.activations, progress=progress)
    train_seconds = time.perf_counter() - t1
    metrics = evaluate_sae(result.sae, eval_cache.activations)

    out: Path = args.out
    weights_dtype = _save(result.sae, out, metrics.feature_density)
    from kgalign.neural.sae.io import WEIGHTS_FILENAME

    command = "python -m kgalign.neural.default_sae" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv)
    )
    info: dict[str, Any] = {
        "model": model.name,
        "model_fingerprint": model.fingerprint,
        "layer": model.layer,
        "n_layers": model.n_layers,
        "hook_name": model.hook_name,
        "max_length": model.max_length,
        "d_in": model.d_model,
        "d_sae": result.sae.cfg.d_sae,
        "k": args.k,
        "metrics": metrics_to_dict(metrics),
        "training_holdout_metrics": metrics_to_dict(result.metrics),
        "targets": TARGETS,
        "targets_met": bool(
            metrics.fve >= TARGETS["fve_min"]
            and metrics.l0 <= TARGETS["l0_max"]
            and metrics.dead_fraction < TARGETS["dead_max"]
            and result.sae.cfg.d_sae >= TARGETS["d_sae_min"]
        ),
        "corpus": counts,
        "split": {
            "train_snippets": len(train_texts),
            "eval_snippets": len(eval_texts),
            "eval_fraction": args.eval_fraction,
        },
        "train_tokens": train_cache.n_tokens,
        "eval_tokens": eval_cache.n_tokens,
        "harvest_seconds": harvest_seconds,
        "harvest_tokens_per_second": train_cache.meta.get("tokens_per_second"),
        "train_config": cfg.to_dict(),
        "steps": result.steps,
        "tokens_seen": result.tokens_seen,
        "train_seconds": train_seconds,
        "train_tokens_per_second": result.tokens_per_second,
        "interrupted": result.interrupted,
        "weights_dtype": weights_dtype,
        "weights_bytes": (out / WEIGHTS_FILENAME).stat().st_size,
        "seed": args.seed,
        "date": _dt.date.today().isoformat(),
        "commit": _git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "command": command,
    }
    info["total_seconds"] = time.perf_counter() - started
    info["load_average"] = _load_average()
    (out / "metrics.json").write_text(json.dumps(info, indent=2, default=float) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(info, metrics), encoding="utf-8")
    m = info["metrics"]
    print(
        f"{out}: FVE {m['fraction_of_variance_explained']:.4f}, MSE {m['mse']:.5f}, L0 {m['l0']:.1f}, "
        f"dead {m['dead_fraction']:.2%}, d_sae {info['d_sae']}, {info['train_tokens']} train tokens; "
        f"targets {'met' if info['targets_met'] else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
