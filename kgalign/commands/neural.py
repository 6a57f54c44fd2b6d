"""embed, features, feature, sae-stats."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kgalign.commands import open_workspace
from kgalign.errors import UsageError
from kgalign.output import OUTPUT_FORMATS, render_rows


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="place every symbol in the SAE's feature space (concept vectors, stability, index)")
    p.add_argument("graphs", nargs="*", help="only these graphs (default: all; unchanged graphs are reused)")
    p.add_argument("--model", help="base model: minilm (default), smollm2, or a local Hugging Face directory")
    p.add_argument("--layer", type=int, help="residual-stream layer to read (default: the model's default)")
    p.add_argument("--sae", help="SAE directory in SAELens layout (default: the SAE shipped for the default model)")
    p.add_argument("--corpus", type=Path, nargs="*", help="text/JSONL files or directories for feature statistics")
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--write-facts", action="store_true", default=None,
                   help="also write the neural facts to a remote store (an embedded store always gets them)")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("features", help="a symbol's strongest SAE features")
    p.add_argument("symbol")
    p.add_argument("--graph", "-g")
    p.add_argument("--limit", type=int, default=16)
    p.add_argument("--format", "-f", choices=OUTPUT_FORMATS, default="table")
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("feature", help="one feature: label, density, evidence snippets, symbols")
    p.add_argument("index", type=int)
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--format", "-f", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_feature)

    p = sub.add_parser("sae-stats", help="the SAE's quality figures (model card) and coverage in this workspace")
    p.add_argument("--format", "-f", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_sae_stats)
    register_training(sub)


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
        rep = ws.embed(args.graphs or None, corpus=corpus, corpus_name=name, quiet=args.quiet,
                       write_facts=args.write_facts)
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


def cmd_sae_stats(args: argparse.Namespace) -> int:
    from kgalign.index.build import default_sae_dir

    ws = open_workspace(args)
    sae_dir = Path(ws.config.sae) if ws.config.sae else default_sae_dir()
    metrics_path = sae_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    cfg = json.loads((sae_dir / "cfg.json").read_text()) if (sae_dir / "cfg.json").exists() else {}
    out = {"sae": str(sae_dir), "architecture": cfg.get("architecture"), "d_in": cfg.get("d_in"),
           "d_sae": cfg.get("d_sae"), "metrics": metrics}
    if ws.has_space():
        space = ws.space
        out["symbols_embedded"] = len(space.keys)
        out["features_claimed"] = len(space.claimed_features())
        out["mean_support_stability"] = float(space.table.stability.mean()) if len(space.keys) else None
    if args.format == "json":
        print(json.dumps(out, indent=2, default=str))
    else:
        for k, v in out.items():
            if k == "metrics":
                for mk, mv in (v or {}).items():
                    if not isinstance(mv, (list, dict)):
                        print(f"  {mk:28} {mv}")
            else:
                print(f"{k:30} {v}")
    if not metrics and not cfg:
        raise UsageError(f"{sae_dir} holds no cfg.json")
    return 0


def register_training(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-sae", help="train an SAE for the workspace's model and layer on a corpus")
    p.add_argument("--corpus", type=Path, nargs="*", default=[], help="text/JSONL/RDF files or directories")
    p.add_argument("--wordnet", action="store_true", help="add WordNet 3.0 glosses and examples (Debian wordnet-base)")
    p.add_argument("--artefacts", action="store_true", help="add the loaded artefacts' labels and definitions")
    p.add_argument("--out", type=Path, required=True, help="directory for cfg.json + sae_weights.safetensors")
    p.add_argument("--architecture", default="topk", help="topk (default), jumprelu or standard")
    p.add_argument("--d-sae", type=int, help="dictionary size (default: 8 × the model width)")
    p.add_argument("--k", type=int, default=32, help="active latents per token (topk)")
    p.add_argument("--steps", type=int, help="training steps (default: 2 epochs)")
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--tokens", type=int, help="harvest at most this many training tokens")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--use", action="store_true", help="make the workspace use the new SAE (then run 'kgalign embed')")
    p.add_argument("--quiet", "-q", action="store_true")
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
