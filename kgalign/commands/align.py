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
    p.add_argument("--no-neural", action="store_true", help="leave the SAE evidence out even when embedded")
    p.add_argument("--hermit", action="store_true", help="also repair with the HermiT reasoner (needs Java)")
    p.set_defaults(func=cmd_align)


def build_matcher(ws, *, neural: bool = True, hermit: bool = False):
    """The matcher a workspace gets: neural evidence whenever the workspace is embedded."""
    from kgalign.align.matcher import Matcher, MatcherConfig

    cfg = MatcherConfig()
    if neural and ws.has_space() and "neural" not in cfg.scorers:
        cfg = cfg.with_(scorers=(*cfg.scorers, "neural"))
    if hermit:
        cfg = cfg.with_(hermit=True)
    return Matcher(cfg)


def cmd_align(args: argparse.Namespace) -> int:
    from kgalign.align import formats

    fmt = args.format or ("table" if args.output is None else "sssom")
    ws = open_workspace(args, write=fmt == "rdf")
    alignment = build_matcher(ws, neural=not args.no_neural, hermit=args.hermit).match(ws, args.source, args.target)
    if fmt == "rdf":
        if args.output is not None:
            raise UsageError("--format rdf writes into the workspace's mappings graph; drop -o")
        n = formats.export_to_store(ws, alignment)
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
    elif fmt == "sssom":
        text = formats.sssom_tsv(alignment, workspace=ws)
    else:
        text = formats.alignment_rdf(alignment, ws)
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        args.output.write_text(text)
        print(f"wrote {len(alignment)} mappings ({fmt}) to {args.output}")
    return 0
