"""align: merge and alias candidates between two artefacts, exported as SSSOM, Alignment RDF or RDF."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kgalign.commands import open_workspace
from kgalign.errors import UsageError
from kgalign.output import render_rows

EXPORT_FORMATS = ("sssom", "alignment", "rdf", "table")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align", help="align two artefacts: merge and alias candidates with their evidence")
    p.add_argument("source", help="source graph name")
    p.add_argument("target", help="target graph name")
    p.add_argument("-o", "--output", type=Path, help="write the mappings to this file (default: print)")
    p.add_argument(
        "--format", choices=EXPORT_FORMATS, default=None,
        help="sssom (TSV), alignment (OAEI Alignment API RDF/XML), rdf (into the store's mappings graph), "
        "table (default when printing)",
    )
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="matcher settings from a TOML or JSON file (any MatcherConfig field)")
    p.add_argument("--class-threshold", type=float, metavar="X", help="minimum confidence of a class mapping")
    p.add_argument("--property-threshold", type=float, metavar="X", help="minimum confidence of a property mapping")
    p.add_argument("--scorers", metavar="A,B", help="scorers to run, comma-separated (lexical,structural,neural,dense)")
    p.add_argument("--selection", choices=("greedy", "hungarian", "none"), help="one-to-one selection")
    p.add_argument("--no-repair", action="store_true", help="skip the logical repair")
    p.add_argument("--no-neural", action="store_true", help="leave the SAE evidence out even when embedded")
    p.add_argument("--dense", action="store_true", help="add the dense sentence-embedding evidence")
    p.add_argument("--include-imported", action="store_true",
                   help="also match meta and imported vocabulary (left out by default)")
    p.add_argument("--hermit", action="store_true", help="also repair with the HermiT reasoner (needs Java)")
    p.add_argument("--progress", action="store_true",
                   help="show stage lines and progress bars (rate, ETA) on stderr even when it is not a terminal")
    p.add_argument("--quiet", "-q", action="store_true", help="no stage lines or progress bars")
    p.set_defaults(func=cmd_align)


def matcher_config(args: argparse.Namespace | None = None):
    """The MatcherConfig the CLI options ask for: ``--config`` file first, then each option."""
    from kgalign.align.config import MatcherConfig

    cfg = MatcherConfig.from_file(args.config) if args is not None and getattr(args, "config", None) else MatcherConfig()
    changes: dict = {}
    if args is not None:
        if getattr(args, "scorers", None):
            changes["scorers"] = tuple(x.strip() for x in args.scorers.split(",") if x.strip())
        for opt in ("class_threshold", "property_threshold", "selection"):
            if getattr(args, opt, None) is not None:
                changes[opt] = getattr(args, opt)
        if getattr(args, "no_repair", False):
            changes["repair"] = False
        if getattr(args, "hermit", False):
            changes["hermit"] = True
        if getattr(args, "include_imported", False):
            changes["exclude_imported"] = False
        # progress (stage lines, bars with rate and ETA) by default on a terminal
        if getattr(args, "progress", False) or (not getattr(args, "quiet", False) and sys.stderr.isatty()):
            changes["progress"] = True
    cfg = cfg.with_(**changes) if changes else cfg
    # Neural evidence is the workspace's policy (Workspace.matcher_plan), not the CLI's.
    scorers = list(cfg.scorers)
    if args is not None and getattr(args, "dense", False) and "dense" not in scorers:
        scorers.append("dense")
    return cfg.with_(scorers=tuple(scorers)) if tuple(scorers) != cfg.scorers else cfg


def cmd_align(args: argparse.Namespace) -> int:
    """A translation onto :meth:`Workspace.match` and :meth:`Workspace.export` (the workspace owns
    the matcher policy: neural evidence whenever it is embedded)."""
    fmt = args.format or ("table" if args.output is None else "sssom")
    ws = open_workspace(args, write=fmt == "rdf")
    alignment = ws.match(args.source, args.target, matcher_config(args), neural=False if args.no_neural else None)
    excluded = alignment.metadata.get("excluded") or {}
    for graph, reasons in excluded.items():
        what = ", ".join(f"{v['count']} {why}" for why, v in reasons.items())
        print(f"left out of matching in {graph}: {what} (--include-imported to match them)", file=sys.stderr)
    if fmt == "rdf":
        if args.output is not None:
            raise UsageError("--format rdf writes into the workspace's mappings graph; drop -o")
        n = ws.export(alignment, "rdf")
        print(f"wrote {n} mappings into <urn:kgalign:mappings>")
        return 0
    if fmt == "table":
        rows = [
            {"source": m.subject_label, "target": m.object_label, "relation": m.relation,
             "confidence": round(m.confidence, 3), "evidence": ", ".join(m.evidence_kinds),
             "source_iri": m.subject, "target_iri": m.object}
            for m in sorted(alignment, key=lambda m: -m.confidence)
        ]
        text = render_rows(rows, ["source", "target", "relation", "confidence", "evidence", "source_iri", "target_iri"])
    else:
        text = ws.export(alignment, "sssom" if fmt == "sssom" else "alignment")
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        args.output.write_text(text)
        print(f"wrote {len(alignment)} mappings ({fmt}) to {args.output}")
    return 0
