"""check: the bridge audit of a workspace (:mod:`kgalign.align.check`)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from kgalign.commands import open_workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="audit whether the workspace's SAE can serve as a bridge for its artefacts (per claim kind)",
    )
    p.add_argument("--links", type=int, default=10, help="merge-candidate links to test behaviourally (default 10)")
    p.add_argument("--symbols", type=int, default=80, help="symbols sampled for stability and paraphrases (default 80)")
    p.add_argument("--budget", type=float, default=45.0, help="CPU seconds for the behavioural sample (default 45)")
    p.add_argument("--label-synsets", type=int, default=1500,
                   help="WordNet synsets to ground feature labels on when none are cached for this SAE (default 1500)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the samples (default: 0)")
    p.add_argument("--format", "-f", choices=("table", "json"), default="table", help="output format (default: table)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from kgalign.align.check import CheckConfig, run_check, save_check

    ws = open_workspace(args, write=True)
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t0:5.1f}s] {msg}", file=sys.stderr, flush=True)

    cfg = CheckConfig(n_symbols=args.symbols, n_links=args.links, behaviour_budget=args.budget, seed=args.seed,
                      label_synsets=args.label_synsets)
    res = run_check(ws, cfg, progress=say, quiet=args.quiet)
    path = save_check(ws, res)
    if args.format == "json":
        print(json.dumps(res.to_dict(), indent=1))
        return 0
    print(f"bridge check of {res.n_symbols} symbols: {res.model} layer {res.layer}, SAE {res.sae} "
          f"({res.seconds:.0f}s; saved to {path})")
    for v in res.verdicts:
        mark = {True: "ok  ", False: "FAIL", None: "n/a "}[v.ok]
        print(f"  {mark} {v.claim:15} {v.figure}")
        if v.detail:
            print(f"       {'':15} {v.detail}")
    print(f"verdict: {res.summary()}")
    return 0
