"""OAEI Conference track (ra1): the matcher against the reference alignments.

Loads the 7 OntoFarm ontologies into a temporary workspace, matches the 21 pairs
(entity1 side = the first ontology of each reference file), and prints micro-averaged
precision, recall and F1 — "=" cells only, classes and properties together (M3), the
way OAEI computes it — beside the published figures of SOURCE.md, then an ablation
table. The reference files are read only here, to score; the matcher never sees them.

    .venv/bin/python benchmarks/oaei_conference.py            # default + ablations
    .venv/bin/python benchmarks/oaei_conference.py --hermit   # also the HermiT repair row
    .venv/bin/python benchmarks/oaei_conference.py --errors   # list false positives / negatives
    .venv/bin/python benchmarks/oaei_conference.py --neural [--sae DIR]   # embed, then the SAE rows
    .venv/bin/python benchmarks/oaei_conference.py --neural --workspace /tmp/conf-ws   # embed once, reuse

Adding the neural scorer to the table is one line in ABLATIONS.

Measured (session 2, load 6-13 on 2 CPUs): default P .754 R .692 F1 .721 (classes .755, properties
.547); dense baseline (mutual best >= 0.8) .604; lexical + structural without repair .729; default +
dense = default + SAE = default + SAE + dense = .721 (embedding evidence neither costs nor adds here);
SAE only .605; without the property readings .716. Split a slow run with --rows REGEX.
Session 4 (load 2-9): default P .764 R .711 F1 .737 (word correspondences learnt from the pair, property
qualifiers, compounds); default + dense .743 (P .767 R .721: dense carries Location/Place-like pairs alone
above the unrelated ceiling measured on the pair; with the session-3 bar .737); default + dense without
repair .752 (P .764 R .741); default + SAE .737 (adds nothing, costs nothing); dense baseline .604;
lexical + structural without repair .746.
Session 5 (one run, fresh workspace, load 4-6): default P .785 R .718 F1 .750 (219 of 279, 305 expected;
classes .775, properties .605 — equal datatype ranges no longer count as structural agreement, and the
sum_names repair rule); as an embedded workspace runs it (+ SAE + dense, the policy) P .787 R .728 F1 .756;
dense baseline .604 (default / dense baseline 1.243, embedded 1.253). Ablation: lexical only .666, lexical +
structural without repair .753, default with the each repair rule (session 4) .744, with the sum rule
.747, with datatype ranges as evidence .742; default + dense .756, default + SAE .750 (adds nothing, costs
nothing), SAE only .605, dense only .599; default + SAE + dense without repair .760.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgalign.align.candidates import Alignment
from kgalign.align.formats import read_alignment_rdf
from kgalign.align.matcher import Matcher, MatcherConfig
from kgalign.api import Workspace
from kgalign.errors import KgalignError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "oaei-conference"


@dataclass(frozen=True)
class Ablation:
    name: str
    changes: dict[str, Any]
    #: returns a reason to skip the row (e.g. the neural layer is not there yet), or None
    skip_if: Callable[[Workspace], str | None] | None = None


def _neural_missing(ws: Workspace) -> str | None:
    try:
        from kgalign.align.neural import neural_available
    except ImportError as e:
        return f"neural scorer not importable ({e})"
    reason = neural_available(ws)
    return f"{reason}; pass --neural" if reason else None


ABLATIONS: list[Ablation] = [
    Ablation("lexical only", {"scorers": ("lexical",), "repair": False}),
    Ablation("lexical + repair", {"scorers": ("lexical",)}),
    Ablation("lexical + structural", {"repair": False}),
    Ablation("lexical + structural + repair (default)", {}),
    Ablation("  default without WordNet", {"use_wordnet": False}),
    Ablation("  default without the head-noun rule", {"head_match": False}),
    Ablation("  default with Hungarian selection", {"selection": "hungarian"}),
    Ablation("  default without morphology", {"morphology": False}),
    Ablation("  default without the context/qualifier check", {"qualifier_penalty": 1.0}),
    Ablation("  default with the imported vocabulary matched", {"exclude_imported": False}),
    Ablation("  default without the property readings", {"property_readings": False}),
    Ablation("  default without the learnt word correspondences", {"learn_words": False}),
    Ablation("  default with the each repair rule (session 4)", {"repair_rule": "each"}),
    Ablation("  default with the sum repair rule", {"repair_rule": "sum"}),
    Ablation("  default with datatype ranges as evidence (string = string)", {"datatype_range_evidence": True}),
    Ablation("dense only (sentence embeddings as a scorer)", {"scorers": ("dense",), "repair": False}),
    Ablation("default + dense", {"scorers": ("lexical", "structural", "dense")}),
    Ablation("default + dense, alone-route bar 0.9 (session 3)",
             {"scorers": ("lexical", "structural", "dense"), "neural_only_threshold": 0.9, "dense_proposal_floor": 0.8}),
    Ablation("default + dense without repair", {"scorers": ("lexical", "structural", "dense"), "repair": False}),
    Ablation("default + dense, reliability not measured",
             {"scorers": ("lexical", "structural", "dense"), "measure_reliability": False}),
    Ablation("SAE only", {"scorers": ("neural",), "repair": False}, _neural_missing),
    Ablation("default + SAE", {"scorers": ("lexical", "structural", "neural")}, _neural_missing),
    Ablation("default + SAE, reliability not measured",
             {"scorers": ("lexical", "structural", "neural"), "measure_reliability": False}, _neural_missing),
    Ablation("default + SAE + dense (the workspace's default when embedded)",
             {"scorers": ("lexical", "structural", "neural", "dense")}, _neural_missing),
    Ablation("  the same without repair",
             {"scorers": ("lexical", "structural", "neural", "dense"), "repair": False}, _neural_missing),
    Ablation("  the same with the each repair rule (session 4)",
             {"scorers": ("lexical", "structural", "neural", "dense"), "repair_rule": "each"}, _neural_missing),
    Ablation("  the same with the sum repair rule",
             {"scorers": ("lexical", "structural", "neural", "dense"), "repair_rule": "sum"}, _neural_missing),
    Ablation("  the same with datatype ranges as evidence",
             {"scorers": ("lexical", "structural", "neural", "dense"), "datatype_range_evidence": True},
             _neural_missing),
]
HERMIT = Ablation("lexical + structural + repair + HermiT", {"hermit": True})


@dataclass
class Score:
    tp: int = 0
    found: int = 0
    expected: int = 0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.found += other.found
        self.expected += other.expected

    @property
    def precision(self) -> float:
        return self.tp / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.expected if self.expected else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(found: Alignment, reference: Alignment) -> Score:
    f = found.pairs("=")
    r = reference.pairs("=")
    return Score(len(f & r), len(f), len(r))


def published() -> list[tuple[str, float, float, float]]:
    """The table of published results in SOURCE.md: (system, P, R, F1) in [0, 1]."""
    rows = []
    text = (DATA / "SOURCE.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        m = re.match(r"^\|\s*([^|]+?)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|$", line)
        if m:
            rows.append((m.group(1), int(m.group(2)) / 100, int(m.group(3)) / 100, int(m.group(4)) / 100))
    return rows


def load_workspace(root: Path, *, reuse: bool = False) -> tuple[Workspace, dict[str, str]]:
    """The 7 ontologies in a workspace at ``root / "ws"``; with ``reuse``, one already there (and
    its concept vectors) is kept and only missing ontologies are loaded."""
    ws = Workspace.open(root / "ws")
    have = {g.lower() for g in ws.graph_names()} if reuse else set()
    for f in sorted(DATA.glob("*.owl")):
        if f.stem.lower() not in have:
            ws.load(f)
    by_lower = {g.lower(): g for g in ws.graph_names()}
    return ws, by_lower


def reference_pairs(by_lower: dict[str, str]) -> list[tuple[str, str, Alignment]]:
    out = []
    for f in sorted(DATA.glob("*-*.rdf")):
        a, b = f.stem.split("-", 1)
        src, tgt = by_lower[a.lower()], by_lower[b.lower()]
        out.append((src, tgt, read_alignment_rdf(f, source_graph=src, target_graph=tgt)))
    return out


def run(
    ws: Workspace, refs: list[tuple[str, str, Alignment]], config: MatcherConfig
) -> tuple[Score, Score, Score, float, list[tuple[Alignment, Alignment]]]:
    matcher = Matcher(config)
    total, classes, props = Score(), Score(), Score()
    results = []
    t0 = time.perf_counter()
    for src, tgt, ref in refs:
        al = matcher.match(ws, src, tgt)
        results.append((al, ref))
        total.add(evaluate(al, ref))
        sv = {s.iri: s.kind for s in ws.symbols(src)}
        for cat, acc in (("class", classes), ("property", props)):
            f = {m.pair for m in al if m.category == cat}
            r = {p for p in ref.pairs("=") if (sv.get(p[0], "class") in ("class", "concept")) == (cat == "class")}
            acc.add(Score(len(f & r), len(f), len(r)))
    return total, classes, props, time.perf_counter() - t0, results


def run_dense_baseline(
    ws: Workspace, refs: list[tuple[str, str, Alignment]], threshold: float
) -> tuple[Score, float]:
    """The plain dense matcher (mutual best label embeddings, cosine >= threshold) on every pair."""
    from kgalign.align.dense import dense_baseline
    from kgalign.align.ontology import OntologyView

    total = Score()
    t0 = time.perf_counter()
    views = {}
    for src, tgt, ref in refs:
        for g in (src, tgt):
            if g not in views:
                views[g] = OntologyView.from_workspace(ws, g).without_imported()
        found = dense_baseline(views[src], views[tgt], threshold)
        r = ref.pairs("=")
        total.add(Score(len(found & r), len(found), len(r)))
    return total, time.perf_counter() - t0


def print_errors(ws: Workspace, results: list[tuple[Alignment, Alignment]]) -> None:
    for al, ref in results:
        found = {m.pair: m for m in al}
        exp = ref.pairs("=")
        fps = [m for p, m in found.items() if p not in exp]
        fns = [p for p in exp if p not in found]
        if not fps and not fns:
            continue
        print(f"\n## {al.source_graph} - {al.target_graph}")
        for m in sorted(fps, key=lambda m: -m.confidence):
            print(f"  FP {m.confidence:.3f} {m.subject_label} = {m.object_label}   "
                  + " | ".join(f"{e.kind[:4]} {e.score:.2f} {e.detail[:70]}" for e in m.evidence if e.kind != "repair"))
        rejected = {m.pair: r for m, r in al.rejected}
        for p in sorted(fns):
            why = rejected.get(p, "")
            print(f"  FN {p[0].split('#')[-1]} = {p[1].split('#')[-1]}   {why[:110]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hermit", action="store_true", help="add the HermiT repair row (slow: Java per pair)")
    ap.add_argument("--errors", action="store_true", help="list false positives and negatives of the default")
    ap.add_argument("--only-default", action="store_true", help="skip the ablation rows")
    ap.add_argument("--neural", action="store_true",
                    help="embed the ontologies with the workspace's SAE first, to fill the SAE rows")
    ap.add_argument("--rows", metavar="REGEX",
                    help="only the ablation rows (and 'dense baseline') whose name matches (to split a run)")
    ap.add_argument("--config", metavar="FILE", help="a matcher config (TOML/JSON) to use as the default")
    ap.add_argument("--dense-threshold", type=float, default=0.8, help="the dense baseline's cosine threshold")
    ap.add_argument("--sae", metavar="DIR", help="with --neural: the SAE directory (SAELens layout) to embed with")
    ap.add_argument("--workspace", metavar="DIR",
                    help="keep the workspace here and reuse it on the next run (with --neural: embed only once)")
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"OAEI Conference data not found at {DATA}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = Path(args.workspace) if args.workspace else Path(tmp)
        ws, by_lower = load_workspace(root, reuse=bool(args.workspace))
        refs = reference_pairs(by_lower)
        t_load = time.perf_counter() - t0
        n_ref = sum(len(r.pairs('=')) for _, _, r in refs)
        print(f"OAEI Conference (ra1): {len(by_lower)} ontologies loaded in {t_load:.1f} s, "
              f"{len(refs)} pairs, {n_ref} reference cells")
        if args.neural and args.workspace and not _neural_missing(ws) and not args.sae:
            print("reusing the concept vectors of the kept workspace")
        elif args.neural:
            t1 = time.perf_counter()
            if args.sae:
                ws.config.sae = str(Path(args.sae).resolve())
                ws.save_config()
            try:
                ws.embed(quiet=True)
                print(f"embedded the 7 ontologies with {ws.config.sae or 'the shipped SAE'} "
                      f"in {time.perf_counter() - t1:.1f} s")
            except KgalignError as e:
                print(f"could not embed ({e}); the SAE rows stay empty")
        print()

        default = MatcherConfig()
        if args.config:
            default = MatcherConfig.from_file(args.config)
        total, classes, props, secs, results = run(ws, refs, default)
        print("kgalign default matcher, micro-averaged over the 21 pairs:")
        print(f"  all          P {total.precision:.3f}  R {total.recall:.3f}  F1 {total.f1:.3f}  "
              f"({total.tp} of {total.found} found correct, {total.expected} expected)")
        print(f"  classes      P {classes.precision:.3f}  R {classes.recall:.3f}  F1 {classes.f1:.3f}")
        print(f"  properties   P {props.precision:.3f}  R {props.recall:.3f}  F1 {props.f1:.3f}")
        print(f"  matching time {secs:.1f} s for 21 pairs (load {t_load:.1f} s)\n")
        policy = None
        if not _neural_missing(ws):
            # what a user gets after load, embed, align: the workspace adds its neural evidence
            plan = ws.matcher_plan(refs[0][0], refs[0][1], default)
            policy, pc, pp, psecs, _ = run(ws, refs, plan.config)
            print(f"kgalign as an embedded workspace runs it ({' + '.join(plan.config.scorers)}):")
            print(f"  all          P {policy.precision:.3f}  R {policy.recall:.3f}  F1 {policy.f1:.3f}  "
                  f"({policy.tp} of {policy.found} found correct, {policy.expected} expected)")
            print(f"  classes      P {pc.precision:.3f}  R {pc.recall:.3f}  F1 {pc.f1:.3f}")
            print(f"  properties   P {pp.precision:.3f}  R {pp.recall:.3f}  F1 {pp.f1:.3f}")
            print(f"  matching time {psecs:.1f} s for 21 pairs\n")

        wanted = re.compile(args.rows) if args.rows else None
        dense, dsecs = Score(), 0.0
        if wanted is None or wanted.search("dense baseline"):
            dense, dsecs = run_dense_baseline(ws, refs, args.dense_threshold)
        print(f"dense baseline (MiniLM label embeddings, mutual best >= {args.dense_threshold}): "
              f"P {dense.precision:.3f}  R {dense.recall:.3f}  F1 {dense.f1:.3f}  ({dsecs:.1f} s, model load included)")
        print(f"  kgalign default F1 / dense baseline F1 = {total.f1 / max(dense.f1, 1e-9):.3f}")
        if policy is not None:
            print(f"  kgalign embedded workspace F1 / dense baseline F1 = {policy.f1 / max(dense.f1, 1e-9):.3f}")
        print()

        print(f"{'system':<48} {'P':>5} {'R':>5} {'F1':>5}")
        rows = [("kgalign (default)", total.precision, total.recall, total.f1),
                *([("kgalign (embedded workspace: + SAE + dense)", policy.precision, policy.recall, policy.f1)]
                  if policy is not None else []),
                (f"dense baseline (this run, >= {args.dense_threshold})", dense.precision, dense.recall, dense.f1)]
        rows += [(name, p, r, f) for name, p, r, f in published()]
        for name, p, r, f in sorted(rows, key=lambda t: -t[3]):
            print(f"{name:<48} {p:>5.2f} {r:>5.2f} {f:>5.2f}")

        if args.errors:
            print_errors(ws, results)

        if not args.only_default:
            print(f"\nAblations (micro-averaged, all 21 pairs)\n{'configuration':<48} {'P':>6} {'R':>6} {'F1':>6} {'time':>7}")
            if dense.found:
                print(f"{'dense baseline (mutual best >= ' + str(args.dense_threshold) + ')':<48} {dense.precision:>6.3f} "
                      f"{dense.recall:>6.3f} {dense.f1:>6.3f} {dsecs:>6.1f}s")
            for ab in [*ABLATIONS, *([HERMIT] if args.hermit else [])]:
                if wanted is not None and not wanted.search(ab.name):
                    continue
                reason = ab.skip_if(ws) if ab.skip_if else None
                if reason:
                    print(f"{ab.name:<48} {'—':>6} {'—':>6} {'—':>6} {'—':>7}  ({reason})")
                    continue
                try:
                    t, _, _, s, _ = run(ws, refs, default.with_(**ab.changes))
                except KgalignError as e:
                    print(f"{ab.name:<48} {'—':>6} {'—':>6} {'—':>6} {'—':>7}  ({e})")
                    continue
                print(f"{ab.name:<48} {t.precision:>6.3f} {t.recall:>6.3f} {t.f1:>6.3f} {s:>6.1f}s")
        ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
