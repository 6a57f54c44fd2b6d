"""embed, features, feature, sae-stats."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kgalign.commands import open_workspace
from kgalign.errors import UsageError
from kgalign.output import OUTPUT_FORMATS, render_rows


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed", help="place every symbol in the SAE's feature space (concept vectors, stability, index)",
        description="Place every symbol of every graph (or of GRAPH...) in the SAE's feature space: probe the model "
        "with contexts of the symbol, encode the activations with the SAE, aggregate them into concept vectors, "
        "supports and support stability, and rebuild the FAISS index and the neural facts. Graphs unchanged "
        "since the last embed with the same model and SAE are reused. The SAE's cfg.json must name the model "
        "and layer the workspace reads (else an error; --force embeds anyway with a warning).",
    )
    p.add_argument("graphs", nargs="*", help="only these graphs (default: all; unchanged graphs are reused)")
    p.add_argument("--model", help="base model: minilm (default), smollm2, or a local Hugging Face directory")
    p.add_argument("--layer", type=int, help="residual-stream layer to read (default: the model's default)")
    p.add_argument("--sae", help="SAE directory in SAELens layout (default: the SAE shipped for the default model)")
    p.add_argument("--corpus", type=Path, nargs="*", help="text/JSONL files or directories for feature statistics")
    p.add_argument("--force", action="store_true",
                   help="embed even when the SAE's cfg.json names another model or layer (warns)")
    p.add_argument("--write-facts", action="store_true", default=None,
                   help="also write the neural facts to a remote store (an embedded store always gets them)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or stage messages")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("features", help="a symbol's strongest SAE features",
                       description="The features in a symbol's support, strongest first, with their labels, "
                       "the share of probing contexts they fired in, and their corpus density.")
    p.add_argument("symbol", help="the symbol: name, label, CURIE or IRI")
    p.add_argument("--graph", "-g", help="the symbol's graph, when its name is ambiguous")
    p.add_argument("--limit", type=int, default=16, help="at most this many features (default: 16)")
    p.add_argument("--format", "-f", choices=OUTPUT_FORMATS, default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("feature", help="one feature: label, density, evidence snippets, symbols",
                       description="One SAE feature: its label, corpus density, the snippets it fires most on "
                       "and the symbols that activate it.")
    p.add_argument("index", type=int, help="the feature's index in the SAE dictionary")
    p.add_argument("--limit", type=int, default=10, help="at most this many snippets and symbols (default: 10)")
    p.add_argument("--format", "-f", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_feature)

    p = sub.add_parser("sae-stats", help="the SAE's quality figures (model card) and coverage in this workspace",
                       description="The quality of the SAE the workspace was embedded with (from the embedding "
                       "run's record; the configured SAE before the first embed): fraction of variance "
                       "explained (FVE), L0, dead latents, and how much of it the workspace's symbols use.")
    p.add_argument("--format", "-f", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_sae_stats)
    register_training(sub)


class _Bars:
    """One tqdm bar per graph (symbols/s and ETA), driven by the embed progress callback."""

    def __init__(self) -> None:
        self.bars: dict[str, object] = {}

    def __call__(self, graph: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        bar = self.bars.get(graph)
        if bar is None:
            bar = self.bars[graph] = tqdm(total=total, desc=f"embed {graph}", unit="sym", dynamic_ncols=True,
                                          file=sys.stderr)
        bar.update(done - bar.n)  # type: ignore[attr-defined]
        if done >= total:
            bar.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()  # type: ignore[attr-defined]


def cmd_embed(args: argparse.Namespace) -> int:
    ws = open_workspace(args, write=True)
    changed = False
    before = {attr: getattr(ws.config, attr) for attr in ("model", "layer", "sae")}
    for attr in ("model", "layer", "sae"):
        val = getattr(args, attr)
        if val is not None:
            setattr(ws.config, attr, str(Path(val).resolve()) if attr == "sae" else val)
            changed = True
    corpus = None
    name = ""
    try:
        if args.corpus:
            from kgalign.neural.corpus import load_corpus

            corpus = load_corpus(args.corpus)
            name = ", ".join(str(p) for p in args.corpus)
        if not args.quiet:
            layer = "its default layer" if ws.config.layer is None else f"layer {ws.config.layer}"
            print(f"loading the model ({ws.config.model}, {layer}) and the SAE "
                  f"({ws.config.sae or 'the shipped default'}); the first load takes a few seconds",
                  file=sys.stderr, flush=True)
        bars = None if args.quiet else _Bars()
        try:
            rep = ws.embed(args.graphs or None, corpus=corpus, corpus_name=name, quiet=args.quiet, progress=bars,
                           force_sae=args.force, write_facts=args.write_facts)
        finally:
            if bars is not None:
                bars.close()
    except BaseException:
        for attr, val in before.items():  # a failed run never changes workspace.json
            setattr(ws.config, attr, val)
        raise
    if changed:  # written only once the new model/SAE have produced a concept space
        ws.save_config()
    print(
        f"embedded {rep.n_symbols} symbols with {rep.run['model']} layer {rep.run['layer']} and SAE {rep.run['sae']} "
        f"({rep.run['d_sae']} features) in {rep.seconds:.1f}s; "
        f"re-embedded: {', '.join(rep.embedded) or 'none'}; reused: {', '.join(rep.reused) or 'none'}; "
        f"index: {rep.index_kind}"
    )
    if rep.skipped_symbols:
        print(f"skipped {len(rep.skipped_symbols)} symbols with no text: {', '.join(rep.skipped_symbols[:5])}")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    s = ws.resolve_one(args.symbol, args.graph)
    from kgalign.index.operators import features_of

    space = ws.space
    cand = features_of(space, (s.graph, s.iri))  # the operator behind the DSL's 'features of'
    rows = []
    for j, f in enumerate(cand.ids[: args.limit]):
        rows.append({"feature": int(f), "label": space.feature_label(int(f)), "weight": round(float(cand.cols["strength"][j]), 4),
                     "fired_in": round(float(cand.cols["fired_in"][j]), 3), "density": space.feature_density(int(f))})
    print(f"{s.label} ({s.iri} in {s.graph}); support stability {space.stability((s.graph, s.iri)):.3f}")
    print(render_rows(rows, ["feature", "label", "weight", "fired_in", "density"], args.format))
    return 0


def cmd_feature(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    rec = ws.feature(args.index, args.limit)
    if args.format == "json":
        print(json.dumps(rec, indent=2))
        return 0
    dens = "n/a" if rec["density"] is None else f"{rec['density']:.3g}"
    print(f"feature {rec['feature']}: {rec['label']}  (density {dens}; claimed by a symbol: {rec['claimed']})")
    if rec["snippets"]:
        print("\ntop snippets:")
        for sn in rec["snippets"]:
            t = sn["text"]
            print(f"  {sn['activation']:7.3f}  {t[: sn['start']]}[{t[sn['start']:sn['end']]}]{t[sn['end']:]}"[:160])
    print("\nsymbols:")
    print(render_rows(rec["symbols"], ["weight", "graph", "label", "iri"]))
    from kgalign.neural.labels import format_grounded

    print(format_grounded(rec))
    return 0


def sae_quality(metrics: dict) -> dict[str, float | None]:
    """FVE, L0 and dead fraction from an SAE's metrics.json (shipped or trained here), held-out first."""
    for key in ("metrics", "heldout", "training_holdout_metrics"):
        m = metrics.get(key)
        if isinstance(m, dict) and "fraction_of_variance_explained" in m:
            return {"fve": m.get("fraction_of_variance_explained"), "l0": m.get("l0"),
                    "dead_fraction": m.get("dead_fraction"), "eval_tokens": m.get("n_tokens")}
    return {"fve": None, "l0": None, "dead_fraction": None, "eval_tokens": None}


def cmd_sae_stats(args: argparse.Namespace) -> int:
    from kgalign.index.build import default_sae_dir
    from kgalign.neural.sae_check import sae_recorded_site

    ws = open_workspace(args)
    run_path = ws.path / "neural" / "run.json"
    run = json.loads(run_path.read_text()) if run_path.exists() else {}
    configured = Path(ws.config.sae) if ws.config.sae else default_sae_dir()
    if run.get("sae_path"):
        sae_dir, source = Path(run["sae_path"]), "embedded (from the last embedding run)"
    else:
        sae_dir, source = configured, "configured (the workspace is not embedded yet)"
    metrics_path = sae_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    cfg = json.loads((sae_dir / "cfg.json").read_text()) if (sae_dir / "cfg.json").exists() else {}
    if not metrics and not cfg:
        raise UsageError(f"{sae_dir} holds no cfg.json")
    out: dict = {"sae": str(sae_dir), "which": source, **sae_quality(metrics),
                 "architecture": cfg.get("architecture"), "d_in": cfg.get("d_in"), "d_sae": cfg.get("d_sae"),
                 "trained_on": sae_recorded_site(sae_dir)}
    if run:
        out["embedded_with"] = {"model": run.get("model"), "layer": run.get("layer"), "at": run.get("embedded_at")}
        if configured.resolve() != sae_dir.resolve():
            out["note"] = f"the workspace now names another SAE ({configured}); run 'kgalign embed' to use it"
    if ws.has_space():
        space = ws.space
        out["symbols_embedded"] = len(space.keys)
        out["features_claimed"] = len(space.claimed_features())
        out["mean_support_stability"] = float(space.table.stability.mean()) if len(space.keys) else None
    out["metrics"] = metrics
    if args.format == "json":
        print(json.dumps(out, indent=2, default=str))
        return 0

    def fmt(v: object, pct: bool = False) -> str:
        if v is None:
            return "n/a"
        if isinstance(v, float):
            return f"{v:.1%}" if pct else f"{v:.3f}"
        return str(v)

    print(f"SAE                        {out['sae']}")
    print(f"which                      {source}")
    print(f"FVE (held out)             {fmt(out['fve'])}")
    print(f"L0                         {fmt(out['l0'])}")
    print(f"dead latents               {fmt(out['dead_fraction'], pct=True)}")
    print(f"architecture / d_in / d_sae {out['architecture']} / {out['d_in']} / {out['d_sae']}")
    site = out["trained_on"]
    if site:
        print(f"trained on                 {site.get('model_name', '?')} layer {site.get('hook_layer', '?')}")
    if run:
        e = out["embedded_with"]
        print(f"embedded with              {e['model']} layer {e['layer']} at {e['at']}")
    for k in ("symbols_embedded", "features_claimed", "mean_support_stability", "note"):
        if k in out:
            print(f"{k.replace('_', ' '):26} {fmt(out[k])}")
    return 0


def register_training(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-sae", help="train an SAE for the workspace's model and layer on a corpus",
                       description="Harvest the workspace model's activations at its layer over a corpus (files, "
                       "WordNet glosses, the artefacts' own text) and train a sparse autoencoder on them, with "
                       "progress bars (tokens/s, steps/s, ETA); the SAE is written in SAELens layout with its "
                       "held-out FVE, L0 and dead fraction in metrics.json.")
    p.add_argument("--corpus", type=Path, nargs="*", default=[], help="text/JSONL/RDF files or directories")
    p.add_argument("--wordnet", action="store_true", help="add WordNet 3.0 glosses and examples (Debian wordnet-base)")
    p.add_argument("--artefacts", action="store_true", help="add the loaded artefacts' labels and definitions")
    p.add_argument("--out", type=Path, required=True, help="directory for cfg.json + sae_weights.safetensors")
    p.add_argument("--architecture", default="topk", help="topk (default), jumprelu or standard")
    p.add_argument("--d-sae", type=int, help="dictionary size (default: 8 × the model width)")
    p.add_argument("--k", type=int, default=32, help="active latents per token (topk)")
    p.add_argument("--steps", type=int, help="training steps (default: 2 epochs)")
    p.add_argument("--batch-size", type=int, default=2048, help="tokens per training step (default: 2048)")
    p.add_argument("--tokens", type=int, help="harvest at most this many training tokens")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--use", action="store_true", help="make the workspace use the new SAE (then run 'kgalign embed')")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train_sae)


def cmd_train_sae(args: argparse.Namespace) -> int:
    from kgalign.index.build import load_model_for
    from kgalign.neural.corpus import load_corpus, wordnet_corpus
    from kgalign.neural.recipe import train_on_corpus
    from kgalign.neural.train import TrainConfig

    ws = open_workspace(args, write=True)
    texts: list[str] = []
    if args.corpus:
        texts.extend(load_corpus(args.corpus))
    if args.wordnet:
        texts.extend(wordnet_corpus())
    if args.artefacts:
        for s in ws.symbols():
            texts.append(s.label)
            texts.extend(s.definitions[:1])
    if not texts:
        raise UsageError("no corpus: give --corpus PATH..., --wordnet and/or --artefacts")
    if not args.quiet:
        print(f"loading the model ({ws.config.model}) to harvest activations from {len(texts)} texts",
              file=sys.stderr, flush=True)
    model = load_model_for(ws)
    cfg = TrainConfig(
        architecture=args.architecture, d_sae=args.d_sae, k=args.k, n_steps=args.steps, batch_size=args.batch_size,
        seed=args.seed, model_name=model.name, hook_layer=model.layer,
    )
    info = train_on_corpus(model, texts, args.out, ws.path / "cache", train_config=cfg, max_tokens=args.tokens,
                           progress=not args.quiet)
    h = info["heldout"]
    print(f"trained {args.out}: FVE {h['fraction_of_variance_explained']:.3f}, L0 {h['l0']:.1f}, "
          f"dead {h['dead_fraction']:.1%} on {info['heldout_tokens']} held-out tokens")
    if "next_token_loss" in info:
        d = info["next_token_loss"]
        print(f"next-token loss {d['loss_clean']:.3f} → {d['loss_spliced']:.3f} with the SAE spliced in")
    if args.use:
        ws.config.sae = str(args.out.resolve())
        ws.save_config()
        print("the workspace now uses this SAE: run 'kgalign embed'")
    return 0
