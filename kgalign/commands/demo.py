"""demo: the main job on the embedded default, end to end.

Loads the demo symbolic systems that ship with kgalign, places every symbol in the
default SAE's feature space, aligns every pair of systems, and writes the pruning
report. Each stage is the same public API call a user would make.
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import sys
import time
from pathlib import Path

from kgalign.api import Workspace, shipped_ontologies


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="load the demo ontologies, embed, align and write the pruning report",
        description="The main job on the shipped demo: load the three demo systems (OWL, SKOS, JSON-LD) into a "
        "workspace (./.kgalign-demo unless -w is given), embed every symbol with the default model and SAE, "
        "align every pair, and write the pruning report. It says what it used (WordNet, model, SAE) and "
        "prints the command to explore the workspace it leaves.",
    )
    p.add_argument("--out", "-o", type=Path, default=Path("kgalign-report"), help="report directory")
    p.add_argument("--no-behaviour", action="store_true", help="skip the behavioural checks in the report")
    p.set_defaults(func=cmd_demo)


def wordnet_status() -> str:
    """One line: whether the lexical matcher has WordNet (lemmas, synonyms) and where it came from."""
    from kgalign.symbolic.wordnet import _default_root

    root = _default_root()
    if root is not None and (root / "index.noun").exists():
        return f"WordNet 3.0: found at {root} (lemmas and synonyms for the lexical matcher)"
    return ("WordNet 3.0: NOT found (looked in $WNSEARCHDIR, $WNHOME/dict, /usr/share/wordnet); the lexical matcher "
            "runs without lemmas and synonyms and finds fewer mappings: apt-get install wordnet-base")


def cmd_demo(args: argparse.Namespace) -> int:
    from kgalign.commands.neural import _Bars

    t0 = time.perf_counter()
    ws_dir = args.workspace or ".kgalign-demo"
    ws = Workspace.open(ws_dir)
    files = shipped_ontologies()
    print(f"workspace: {ws.path}")
    print(wordnet_status())
    for f in files:
        rep = ws.load(f)
        kinds: dict[str, int] = {}
        for s in ws.symbols(rep.info.name):
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
        listed = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        print(f"loaded {rep.info.name}: {rep.info.triples} triples, {sum(kinds.values())} symbols ({listed})")
    print("loading the model and the SAE (a few seconds)", file=sys.stderr, flush=True)
    bars = _Bars()
    try:
        emb = ws.embed(progress=bars)
    finally:
        bars.close()
    sae_path = emb.run.get("sae_path", emb.run["sae"])
    print(
        f"embedded {emb.n_symbols} symbols with {emb.run['model']} layer {emb.run['layer']} "
        f"and SAE {emb.run['sae']} ({emb.run['d_sae']} features, {sae_path}) in {emb.seconds:.1f}s"
    )
    from tqdm.auto import tqdm

    from kgalign.report import write_report

    alignments = []
    pairs = list(itertools.combinations(ws.graph_names(), 2))
    for a, b in tqdm(pairs, desc="align", unit="pair", file=sys.stderr, dynamic_ncols=True):
        al = ws.match(a, b)
        alignments.append(al)
        tqdm.write(f"aligned {a} with {b}: {len(al)} merge candidates ({', '.join(al.metadata.get('scorers', []))} evidence)")
    ws.export(alignments, "rdf")
    print("writing the report" + ("" if args.no_behaviour else " (the behavioural checks run the model: ~20 s)"),
          file=sys.stderr, flush=True)
    paths = write_report(ws, args.out, alignments=alignments, behaviour=not args.no_behaviour)
    for fmt, path in paths.items():
        print(f"report ({fmt}): {path.resolve()}")
    print(f"done in {time.perf_counter() - t0:.1f}s")
    flag = f"-w {shlex.quote(str(ws_dir))}"
    print(f"next: kgalign {flag} graphs    (every command takes {flag}; or export KGALIGN_WORKSPACE={shlex.quote(str(ws_dir))})")
    print(f"      kgalign {flag} query 'symbols similar to DutyOfCare limit 5'")
    return 0
