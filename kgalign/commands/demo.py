"""demo: the main job on the embedded default, end to end.

Loads the demo symbolic systems that ship with kgalign, places every symbol in the
default SAE's feature space, aligns every pair of systems, and writes the pruning
report. Each stage is the same public API call a user would make.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from kgalign.api import Workspace, shipped_ontologies


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="load the demo ontologies, embed, align and write the pruning report")
    p.add_argument("--out", "-o", type=Path, default=Path("kgalign-report"), help="report directory")
    p.add_argument("--no-behaviour", action="store_true", help="skip the behavioural checks in the report")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    ws = Workspace.open(args.workspace or ".kgalign-demo")
    files = shipped_ontologies()
    print(f"workspace: {ws.path}")
    for f in files:
        rep = ws.load(f)
        kinds: dict[str, int] = {}
        for s in ws.symbols(rep.info.name):
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
        listed = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        print(f"loaded {rep.info.name}: {rep.info.triples} triples, {sum(kinds.values())} symbols ({listed})")
    emb = ws.embed()
    print(
        f"embedded {emb.n_symbols} symbols with {emb.run['model']} layer {emb.run['layer']} "
        f"and SAE {emb.run['sae']} ({emb.run['d_sae']} features) in {emb.seconds:.1f}s"
    )
    from kgalign.report import write_report

    alignments = []
    for a, b in itertools.combinations(ws.graph_names(), 2):
        al = ws.match(a, b)
        alignments.append(al)
        print(f"aligned {a} with {b}: {len(al)} merge candidates")
    ws.export(alignments, "rdf")
    paths = write_report(ws, args.out, alignments=alignments, behaviour=not args.no_behaviour)
    for fmt, path in paths.items():
        print(f"report ({fmt}): {path.resolve()}")
    print(f"done in {time.perf_counter() - t0:.1f}s")
    return 0
