"""Behavioural bridge test: does suppressing what two merge candidates share pull them apart?

    .venv/bin/python benchmarks/bridge_behaviour.py                      # dev (WordNet) + report (Conference)
    .venv/bin/python benchmarks/bridge_behaviour.py --sets wordnet --n 60 --json out.json

The test (:func:`kgalign.align.behaviour.shared_pull_apart_check`): the set of features two symbols share
(both top-16 supports of their concept vectors) is suppressed at the mentions of *both* symbols in each
one's probing contexts; the effect is the drop of the cosine between their mean output (sentence)
embeddings. Controls: 16 random feature sets, each feature matched to a shared one in firing density,
given the same per-token code change along its own decoder direction rescaled to the same norm, drawn
independently for each side. A link passes when the drop is >= 2 standard deviations above the controls'
and above their 90th percentile.

Links: *real* = symbol pairs a merge should join (a real pair sharing no top-16 feature has nothing to
suppress and counts as a failure). Two kinds of null links, each run through the same procedure:
``random`` = non-merged pairs of the same kind (the false-positive rate of the check as it would be used);
``sharing`` = non-merged pairs that share at least one top-16 feature (a stricter null: it asks whether the
causal effect, not only the overlap, tells merges from other pairs). The pass rate on nulls is the test's
false-positive rate (FPR). p-values are over the batch of real vs null links: binomial (real passes if each
passed at the measured FPR, floored at half a null) and one-sided Fisher exact (real vs null pass counts).

Sets: ``wordnet`` — development: WordNet synsets held out of SAE training (``benchmark_synsets``
2,000..2,999, not the retrieval benchmark's 2,000), two lemmas sharing no word; nulls = lemmas of two
different synsets. ``conference`` — report: the OAEI Conference reference correspondences (read in place
from ``/work/shared/data/oaei-conference``); nulls = cross-ontology pairs of the same ontology pairs that
are not references. The procedure was fixed on ``wordnet`` before ``conference`` was run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OAEI = REPO.parent / "shared" / "data" / "oaei-conference"
SEED = 0


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _contexts(sym: Any, label_of: Any, max_contexts: int) -> list:
    from kgalign.align.behaviour import _spread
    from kgalign.neural.probing import probe_contexts

    cs = [c for c in probe_contexts(sym, label_of) if c.kind != "definition" and c.mention.strip()]
    return _spread(cs, max_contexts)


def wordnet_links(n: int, seed: int = SEED) -> tuple[list, list[tuple[int, int]], list[tuple[int, int]]]:
    """Symbols (two lemmas per held-out synset) and candidate real / null index pairs."""
    from kgalign.neural.corpus import _lemma_words, benchmark_synsets
    from kgalign.neural.probing import has_text
    from kgalign.symbolic.symbols import Symbol

    syns = benchmark_synsets()[2000:3000]
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(syns), size=min(len(syns), 4 * n), replace=False).tolist())
    syms, real = [], []
    for i in pick:
        s = syns[i]
        la = s.lemmas[0]
        lb = next((x for x in s.lemmas[1:] if not (_lemma_words(x) & _lemma_words(la))), s.lemmas[1])
        pair = [Symbol(f"urn:wn:{s.offset}-{s.pos}:{g}", g, "class", lem.replace("_", " "))
                for g, lem in (("wn-a", la), ("wn-b", lb))]
        if all(has_text(x) for x in pair):
            real.append((len(syms), len(syms) + 1))
            syms.extend(pair)
    m = len(real)
    null = [(2 * int(i), 2 * int(j) + 1) for i, j in zip(rng.integers(0, m, 20 * n), rng.integers(0, m, 20 * n),
                                                         strict=True) if i != j]
    return syms, real, null


def conference_links(seed: int = SEED) -> tuple[list, list[tuple[int, int]], list[tuple[int, int]], Any]:
    from kgalign.align.formats import read_alignment_rdf
    from kgalign.api import Workspace
    from kgalign.neural.probing import has_text

    tmp = tempfile.mkdtemp(prefix="kga-behaviour-")
    ws = Workspace.open(Path(tmp) / "ws")
    for f in sorted(OAEI.glob("*.owl")):
        ws.load(f)
    by_lower = {g.lower(): g for g in ws.graph_names()}
    table = ws.symbol_table
    syms = [s for g in sorted(ws.graph_names()) for s in table.in_graph(g) if has_text(s)]
    row = {(s.graph, s.iri): i for i, s in enumerate(syms)}
    real, pairs_of = [], []
    for f in sorted(OAEI.glob("*-*.rdf")):
        a, b = f.stem.split("-", 1)
        src, tgt = by_lower[a.lower()], by_lower[b.lower()]
        pairs_of.append((src, tgt))
        for x, y in sorted(read_alignment_rdf(f, source_graph=src, target_graph=tgt).pairs("=")):
            if (src, x) in row and (tgt, y) in row:
                real.append((row[(src, x)], row[(tgt, y)]))
    refs = set(real)
    rng = np.random.default_rng(seed + 1)
    by_graph: dict[str, list[int]] = {}
    for i, s in enumerate(syms):
        by_graph.setdefault(s.graph, []).append(i)
    null = []
    for _ in range(40 * len(real)):
        src, tgt = pairs_of[int(rng.integers(len(pairs_of)))]
        i, j = int(rng.choice(by_graph[src])), int(rng.choice(by_graph[tgt]))
        if (i, j) not in refs:
            null.append((i, j))
    label_of = lambda iri: (s.label if (s := table.get(iri)) is not None else None)  # noqa: E731
    return syms, real, null, label_of


def run_set(name: str, syms: list, real: list, null: list, label_of: Any, model: Any, sae: Any,
            density: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    from kgalign.align.behaviour import MeaningBatch, shared_pull_apart_check, shared_set, top_support
    from kgalign.neural.concepts import embed_symbols

    t0 = time.perf_counter()
    used = sorted({i for p in real + null for i in p})
    say(f"{name}: embedding {len(used)} symbols")
    table = embed_symbols([syms[i] for i in used], model, sae, label_of=label_of)
    at = {k: r for r, k in enumerate(table.keys)}
    zero = np.zeros(table.vectors.shape[1], np.float32)
    vec = {i: table.vectors[at[k]] if (k := (syms[i].graph, syms[i].iri)) in at else zero for i in used}
    if args.exclude is not None:
        used_keys = {tuple(map(tuple, c["keys"])) for r in json.loads(args.exclude.read_text()) if r["set"] == name
                     for c in r["checks"]} | {tuple(map(tuple, x)) for r in json.loads(args.exclude.read_text())
                                              if r["set"] == name for x in r.get("links", [])}
        key_of = lambda p: ((syms[p[0]].graph, syms[p[0]].iri), (syms[p[1]].graph, syms[p[1]].iri))  # noqa: E731
        real = [p for p in real if key_of(p) not in used_keys]  # nulls: a fresh draw (--null-seed), not a filter,
        # since only the nulls sharing a feature were recorded and filtering them out would bias the FPR down
    rng = np.random.default_rng(SEED + 2)
    real = [real[i] for i in sorted(rng.choice(len(real), size=min(args.n, len(real)), replace=False))]
    seen: set = set()
    rand, strict = [], []  # the first n non-merged pairs; the first n of them sharing a feature
    for p in null:
        if p in seen or (p[1], p[0]) in seen:
            continue
        seen.add(p)
        if len(rand) < args.n:
            rand.append(p)
        if len(strict) < args.n and shared_set(vec[p[0]], vec[p[1]], args.top_m):
            strict.append(p)
        if len(rand) >= args.n and len(strict) >= args.n:
            break
    jobs = sorted(set(real) | set(rand) | set(strict))
    done_checks: dict[tuple[int, int], Any] = {}
    todo = [p for p in jobs if shared_set(vec[p[0]], vec[p[1]], args.top_m)]
    realset = set(real)
    order = [todo[i] for i in np.random.default_rng(SEED).permutation(len(todo))]
    t1, last = time.perf_counter(), time.perf_counter()
    for done, (i, k) in enumerate(order, 1):
        a, b = syms[i], syms[k]
        feats = shared_set(vec[i], vec[k], args.top_m)
        excl = set(top_support(vec[i], 32)) | set(top_support(vec[k], 32))
        done_checks[(i, k)] = shared_pull_apart_check(
            model, sae, _contexts(a, label_of, args.contexts), _contexts(b, label_of, args.contexts), feats, density,
            keys=((a.graph, a.iri), (b.graph, b.iri)), labels=(a.label, b.label), exclude=excl,
            null=(i, k) not in realset, n_controls=args.controls, seed=SEED, sides=args.sides)
        if time.perf_counter() - last > 20 or done == len(order):
            el = time.perf_counter() - t1
            say(f"  {name}: {done}/{len(order)} links, {done / el:.2f}/s, ETA {(len(order) - done) * el / done:.0f} s")
            last = time.perf_counter()

    def check(p: tuple[int, int], is_null: bool) -> Any:
        c = done_checks.get(p)
        if c is None:  # nothing shared: the procedure has nothing to suppress, the link fails
            a, b = syms[p[0]], syms[p[1]]
            c = shared_pull_apart_check(model, sae, [], [], [], density, keys=((a.graph, a.iri), (b.graph, b.iri)),
                                        labels=(a.label, b.label), null=is_null)
        return dataclasses.replace(c, null=is_null)

    out: dict[str, Any] = {"set": name, "seconds": time.perf_counter() - t0}
    for kind, nulls in (("random", rand), ("sharing", strict)):
        batch = MeaningBatch([check(p, False) for p in real] + [check(p, True) for p in nulls])
        r = batch.rates("shared-pull-apart")
        z = {nl: [c.z for c in batch.checks if c.null == nl and c.features] for nl in (False, True)}
        r.update({
            "null_kind": kind,
            "median_shared_real": float(np.median([len(shared_set(vec[i], vec[k], args.top_m)) for i, k in real])),
            "median_shared_null": float(np.median([len(shared_set(vec[i], vec[k], args.top_m)) for i, k in nulls])),
            "real_without_shared": int(sum(1 for c in batch.checks if not c.null and not c.features)),
            "null_without_shared": int(sum(1 for c in batch.checks if c.null and not c.features)),
            "median_z_real": float(np.median(z[False])) if z[False] else None,
            "median_z_null": float(np.median(z[True])) if z[True] else None,
        })
        out[kind] = r
    out["checks"] = [c.to_dict() for c in done_checks.values()]
    out["links"] = [[[syms[i].graph, syms[i].iri], [syms[k].graph, syms[k].iri]] for i, k in jobs]
    return out


def row(name: str, r: dict[str, Any]) -> str:
    f = lambda x, d=3: "n/a" if x is None else (f"{x:.{d}g}" if isinstance(x, float) else str(x))  # noqa: E731
    return (f"| {name} | {r['null_kind']} | {r['passed']}/{r['n']} ({r['pass_rate']:.0%}) | {r['null_passed']}/{r['n_null']} "
            f"({r['false_positive_rate']:.0%}) | {f(r['ratio'])}× | {f(r['p_binomial'])} | {f(r['p_fisher'])} | "
            f"{f(r['median_shared_real'])} / {f(r['median_shared_null'])} | {f(r['median_z_real'])} / "
            f"{f(r['median_z_null'])} | {'yes' if r.get('meets_target') else 'NO'} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sae", help="SAE directory; default: the shipped SAE")
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--sets", default="wordnet,conference")
    ap.add_argument("--n", type=int, default=60, help="real links (and as many null links) per set")
    ap.add_argument("--controls", type=int, default=16)
    ap.add_argument("--contexts", type=int, default=4, help="probing contexts per symbol")
    ap.add_argument("--top-m", type=int, default=16, help="support size two symbols must share within")
    ap.add_argument("--sides", choices=("one", "both"), default="one",
                    help="suppress the shared set at the first symbol's mentions only (default) or at both")
    ap.add_argument("--exclude", type=Path, help="a previous --json: leave its links out (a fresh sample)")
    ap.add_argument("--null-seed", type=int, default=0, help="draw another sample of null links")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    import torch

    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.sae.io import load_feature_density, load_sae, read_config

    torch.manual_seed(SEED)
    if args.sae:
        sae_dir = Path(args.sae)
    else:
        from kgalign.neural.default_sae import DEFAULT_OUT

        sae_dir = DEFAULT_OUT
    layer = int(read_config(sae_dir).hook_layer)
    sae = load_sae(sae_dir)
    model = load_base_model(ModelSpec(name_or_path=args.model, layer=layer))
    density = load_feature_density(sae_dir)
    density = density.numpy() if density is not None else np.ones(int(sae.W_dec.shape[0]))
    out = []
    for name in args.sets.split(","):
        if name == "wordnet":
            syms, real, null = wordnet_links(args.n, SEED + args.null_seed)
            out.append(run_set(name, syms, real, null, None, model, sae, density, args))
        elif name == "conference":
            syms, real, null, label_of = conference_links(SEED + args.null_seed)
            out.append(run_set(name, syms, real, null, label_of, model, sae, density, args))
        else:
            raise SystemExit(f"unknown set {name!r} (wordnet, conference)")
        for kind in ("random", "sharing"):
            print(f"\n{name} / {kind} nulls: {json.dumps(out[-1][kind], default=float)}", flush=True)
    print("\n| set | null links | real links pass | null links pass (FPR) | ratio | binomial p | Fisher p | "
          "median shared features real / null | median z real / null | target |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in out:
        for kind in ("random", "sharing"):
            print(row(r["set"], r[kind]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
