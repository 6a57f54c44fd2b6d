"""Load throughput of kgalign against pyoxigraph's own ``Store.bulk_load``.

Loads two real artefacts, each into fresh on-disk stores in temporary directories:

- schema.org (``pyshacl/assets/schema.ttl``, Turtle, ~16k triples), and
- a generated N-Triples file (default 1,000,000 triples: IRIs, language-tagged and typed literals).

For each it times ``kgalign.symbolic.loaders.load_file`` (format detection, content hash,
prefix scan, the journalled load into the artefact's named graph, the triple count and
the provenance commit) and ``pyoxigraph.Store.bulk_load`` of the same file into a named
graph, and prints triples/s and their ratio (target: kgalign >= 0.8 of raw pyoxigraph).
Runs alternate the order of the two loaders; the median of ``--repeat`` runs is shown.

With ``--replacement`` it also times loading the same file again into the kgalign store
(an atomic replacement: staging graph, one transaction for the difference, staging dropped).

    python benchmarks/load_throughput.py [--triples 1000000] [--repeat 3] [--replacement]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

from kgalign.symbolic.loaders import load_file
from kgalign.symbolic.store import OxigraphStore


def schema_org_path() -> Path:
    import pyshacl

    path = Path(pyshacl.__file__).resolve().parent / "assets" / "schema.ttl"
    if not path.is_file():
        sys.exit(f"schema.org not found at {path} (is pyshacl installed?)")
    return path


def generate_ntriples(path: Path, n: int, seed: int = 0) -> None:
    """``n`` distinct triples about ``n // 10`` entities, 40% links, 60% literals."""
    rng = random.Random(seed)
    ex = "http://example.org/bench/"
    n_entities = max(1, n // 10)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            s = f"<{ex}e/{i // 10}>"
            r = i % 10
            if r < 4:
                f.write(f"{s} <{ex}p/link{r}> <{ex}e/{rng.randrange(n_entities)}> .\n")
            elif r < 8:
                f.write(f'{s} <{ex}p/text{r}> "entity {i // 10}, value {i} of field {r}"@en .\n')
            else:
                f.write(f'{s} <{ex}p/num{r}> "{rng.random():.6f}"^^<http://www.w3.org/2001/XMLSchema#double> .\n')


def time_raw(path: Path, fmt: ox.RdfFormat, work: Path) -> tuple[float, int]:
    d = Path(tempfile.mkdtemp(dir=work))
    store = ox.Store(str(d))
    t0 = time.perf_counter()
    store.bulk_load(path=str(path), format=fmt, base_iri=path.resolve().as_uri(), to_graph=ox.NamedNode("urn:bench:g"))
    seconds = time.perf_counter() - t0
    n = len(store)
    del store
    shutil.rmtree(d, ignore_errors=True)
    return seconds, n


def time_kgalign(path: Path, work: Path, replacement: bool) -> tuple[float, int, float | None]:
    d = Path(tempfile.mkdtemp(dir=work))
    store = OxigraphStore(d)
    t0 = time.perf_counter()
    report = load_file(store, path, name="bench")
    seconds = time.perf_counter() - t0
    replace_seconds = None
    if replacement:
        t0 = time.perf_counter()
        again = load_file(store, path, name="bench")
        replace_seconds = time.perf_counter() - t0
        assert again.replaced and again.info.triples == report.info.triples
    store.close()
    del store
    shutil.rmtree(d, ignore_errors=True)
    return seconds, report.info.triples, replace_seconds


def bench(label: str, path: Path, fmt: ox.RdfFormat, repeat: int, work: Path, replacement: bool) -> float:
    raw_s: list[float] = []
    kga_s: list[float] = []
    rep_s: list[float] = []
    n_raw = n_kga = 0
    for i in range(repeat):
        # Alternate the order so that neither loader always gets the warmer page cache.
        if i % 2 == 0:
            s, n_raw = time_raw(path, fmt, work)
            raw_s.append(s)
            s, n_kga, r = time_kgalign(path, work, replacement)
            kga_s.append(s)
        else:
            s, n_kga, r = time_kgalign(path, work, replacement)
            kga_s.append(s)
            s, n_raw = time_raw(path, fmt, work)
            raw_s.append(s)
        if r is not None:
            rep_s.append(r)
    if n_raw != n_kga:
        sys.exit(f"{label}: pyoxigraph loaded {n_raw} triples but kgalign {n_kga}")
    raw, kga = statistics.median(raw_s), statistics.median(kga_s)
    ratio = raw / kga
    size = path.stat().st_size / 1e6
    print(f"{label}: {n_raw:,} triples, {size:.1f} MB, median of {repeat}")
    print(f"  pyoxigraph bulk_load  {raw:8.2f} s  {n_raw / raw:12,.0f} triples/s   runs: {', '.join(f'{x:.2f}' for x in raw_s)}")
    print(f"  kgalign load_file     {kga:8.2f} s  {n_kga / kga:12,.0f} triples/s   runs: {', '.join(f'{x:.2f}' for x in kga_s)}")
    print(f"  ratio kgalign / pyoxigraph: {ratio:.2f}  ({'meets' if ratio >= 0.8 else 'BELOW'} the 0.8 target)")
    if rep_s:
        rep = statistics.median(rep_s)
        print(f"  kgalign replacement   {rep:8.2f} s  {n_kga / rep:12,.0f} triples/s   (same file loaded again; "
              f"ratio {raw / rep:.2f})")
    print(flush=True)
    return ratio


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--triples", type=int, default=1_000_000, help="size of the generated N-Triples file")
    ap.add_argument("--repeat", type=int, default=3, help="runs per loader and file (median shown)")
    ap.add_argument("--replacement", action="store_true", help="also time loading the same file again")
    ap.add_argument("--workdir", type=Path, default=None, help="where the temporary stores go (default: system tmp)")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kgalign-bench-", dir=args.workdir))
    try:
        ratios = [bench("schema.org (Turtle)", schema_org_path(), ox.RdfFormat.TURTLE, args.repeat, work, args.replacement)]
        nt = work / f"generated-{args.triples}.nt"
        t0 = time.perf_counter()
        generate_ntriples(nt, args.triples)
        print(f"(generated {nt.name} in {time.perf_counter() - t0:.1f} s)\n")
        ratios.append(bench("generated N-Triples", nt, ox.RdfFormat.N_TRIPLES, args.repeat, work, args.replacement))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    worst = min(ratios)
    print(f"lowest ratio: {worst:.2f} -> {'OK' if worst >= 0.8 else 'below target'}")
    return 0 if worst >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
