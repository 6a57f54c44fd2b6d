"""The embed stage: place every symbol of a workspace in the SAE's feature space.

``embed_workspace`` loads the base model and the SAE named by the workspace config,
embeds the symbols of each graph whose artefact (or model/SAE) changed since the last
run, keeps the others, and then writes the combined concept table, the FAISS indexes
and the feature statistics into a new *generation* directory
(``neural/generations/<id>/``) beside the current one. ``neural/run.json`` names the
current generation; replacing it (one ``os.replace``) is the switch, so a failed or
killed embed leaves every answer exactly as before, and the next run resumes from the
per-graph tables already done (``neural/graphs/``). The neural facts (RDF) are
rewritten after the switch; they carry the generation, and a run that finds them
behind the current generation rewrites them first (:func:`repair_facts`). Only the
current generation and the one before it are kept (a reader may still hold the latter).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgalign.errors import EmbedError
from kgalign.faults import point
from kgalign.index.facts import neural_lines
from kgalign.index.space import ConceptSpace
from kgalign.index.vectors import VectorIndex, normalise_rows
from kgalign.neural.concepts import ConceptTable, embed_symbols
from kgalign.neural.features import FeatureStats, compute_feature_stats
from kgalign.neural.paths import DEFAULT_SAE_NAME, FEATURE_STATS_FILE, default_sae_dir  # noqa: F401 (re-exported)
from kgalign.neural.paths import sha_file as _sha_file
from kgalign.neural.sae.io import fsync_dir
from kgalign.symbolic.vocab import NEURAL_GRAPH

if TYPE_CHECKING:
    from kgalign.index.context import SpaceContext as Workspace

GENERATIONS = "generations"


def generation_dir(workspace_path: Path, run: dict) -> Path | None:
    """The directory of the generation ``run`` (a parsed ``run.json``) names; None for a pre-generation run."""
    gen = run.get("generation")
    if not gen:
        return None
    return Path(workspace_path) / "neural" / GENERATIONS / str(gen)


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(data, indent=2, sort_keys=True))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_npz(table: ConceptTable, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    table.save(str(tmp))
    os.replace(tmp, path)


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` the same bytes as ``src``: a hard link (the per-graph file is only ever replaced by a rename,
    so the link keeps this version), or a copy where links are not possible."""
    try:
        os.link(src, dst)
    except OSError:
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


@dataclass
class EmbedReport:
    run: dict
    embedded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    skipped_symbols: list[str] = field(default_factory=list)
    n_symbols: int = 0
    seconds: float = 0.0
    index_kind: str = ""
    recall_at_10: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def load_sae_for(ws: Workspace, d_model: int, model: Any = None, *, force: bool = False):
    """The workspace's SAE, checked against the model it will read (``model``: name and layer)."""
    from kgalign.neural.sae.io import load_sae
    from kgalign.neural.sae_check import check_sae_site

    sae_dir = Path(ws.config.sae) if ws.config.sae else default_sae_dir()
    sae = load_sae(sae_dir)
    name = model.name if model is not None else str(ws.config.model)
    layer = model.layer if model is not None else ws.config.layer
    check_sae_site(sae_dir, name, layer, d_model, int(sae.W_enc.shape[0]), force=force)
    return sae, sae_dir


def load_model_for(ws: Workspace):
    from kgalign.neural.model import ModelSpec, load_base_model

    return load_base_model(ModelSpec(name_or_path=ws.config.model, layer=ws.config.layer))


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def embed_workspace(
    ws: Workspace,
    *,
    graphs: Sequence[str] | None = None,
    corpus: Iterable[str] | None = None,
    corpus_name: str = "",
    quiet: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    write_facts: bool | None = None,
    force_sae: bool = False,
) -> EmbedReport:
    """Embed the workspace's symbols (all graphs, or just ``graphs``) and rebuild the index and facts.

    The neural facts (graph ``urn:kgalign:neural``) are written to the store when ``write_facts``
    is True; None (the default) writes them to an embedded store only, not to a remote server."""
    t0 = time.perf_counter()
    names = ws.graph_names()
    if not names:
        raise EmbedError("the workspace holds no artefacts: run 'kgalign load FILE' first")
    wanted = list(names if graphs is None else graphs)
    for g in wanted:
        ws.require_graph(g)
    model = load_model_for(ws)
    sae, sae_dir = load_sae_for(ws, model.d_model, model, force=force_sae)
    weights = sae_dir / "sae_weights.safetensors"
    run_id = hashlib.sha256(
        f"{model.fingerprint}|{model.layer}|{_sha_file(weights)}".encode()
    ).hexdigest()[:16]
    run = {
        "run_id": run_id,
        "model": model.name,
        "layer": model.layer,
        "sae": str(sae_dir.name),
        "sae_path": str(sae_dir),
        "d_sae": int(sae.W_dec.shape[0]),
    }
    neural = ws.path / "neural"
    per_graph = neural / "graphs"
    per_graph.mkdir(parents=True, exist_ok=True)
    repair_facts(ws)
    report = EmbedReport(run=run)
    table = ws.symbol_table
    label_of = lambda iri: (s.label if (s := table.get(iri)) is not None else None)  # noqa: E731
    provenance = {g.name: g.sha256 for g in ws.graphs()}
    just_made: dict[str, ConceptTable] = {}
    for g in names:
        npz, meta = per_graph / f"{g}.npz", per_graph / f"{g}.json"
        current = json.loads(meta.read_text()) if meta.exists() and npz.exists() else {}
        fresh = current.get("run_id") == run_id and current.get("sha256") == provenance[g]
        if fresh:
            report.reused.append(g)
            continue
        if g not in wanted:
            continue
        syms = table.in_graph(g)
        _say(f"embedding {g}: {len(syms)} symbols", quiet)

        def tick(done: int, total: int, g: str = g) -> None:
            if progress:
                progress(g, done, total)
            elif not quiet:
                print(f"\r  {g}: {done}/{total} symbols", end="", file=sys.stderr, flush=True)

        t = embed_symbols(syms, model, sae, label_of=label_of, progress=tick)
        if not quiet and not progress:
            print(file=sys.stderr)
        _atomic_npz(t, npz)
        _atomic_json(meta, {"run_id": run_id, "sha256": provenance[g], "n": len(t), "skipped": t.meta["skipped"],
                            "seconds": round(t.meta["seconds"], 2)})
        report.embedded.append(g)
        report.skipped_symbols.extend(t.meta["skipped"])
        just_made[g] = t.as_saved()  # what the file just written holds, without reading it back
        del t
        point("embed:graph-table")
    # Graphs that are gone, or left stale because they were not asked for, drop out of the space.
    parts, parts_files = [], []
    for g in names:
        npz, meta = per_graph / f"{g}.npz", per_graph / f"{g}.json"
        if npz.exists() and meta.exists():
            m = json.loads(meta.read_text())
            if m.get("run_id") == run_id and m.get("sha256") == provenance[g]:
                made = just_made.pop(g, None)
                parts.append(made if made is not None else ConceptTable.load(str(npz)))
                parts_files.append(npz)
    for f in per_graph.glob("*.npz"):
        if f.stem not in names:
            f.unlink()
            f.with_suffix(".json").unlink(missing_ok=True)
    just_made.clear()
    combined = ConceptTable.concat(parts, run["d_sae"])
    del parts
    report.n_symbols = len(combined)
    # Everything the answers come from goes into a new generation beside the current one.
    gen = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    gens = neural / GENERATIONS
    staging = gens / (gen + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    try:
        if len(parts_files) == 1:  # one graph: its table file is the generation's, byte for byte
            _link_or_copy(parts_files[0], staging / "concepts.npz")
        else:
            _atomic_npz(combined, staging / "concepts.npz")
        point("embed:concepts")
        unit = normalise_rows(combined.vectors)  # one copy, for the index and the space below
        index = VectorIndex.build(unit, unit=True)
        index.save(staging / "symbols.faiss")
        point("embed:index")
        report.index_kind, report.recall_at_10 = index.kind, index.recall_at_10
        feat_index = VectorIndex.build(sae.W_dec.detach().float().cpu().numpy(), kind="flat")
        feat_index.save(staging / "features.faiss")
        stats = _feature_stats(ws, model, sae, sae_dir, run_id, corpus, corpus_name, quiet)
        if stats is not None:
            stats.save(staging / "features.json")
        report.seconds = round(time.perf_counter() - t0, 2)
        run["embedded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        run["n_symbols"] = report.n_symbols
        run["generation"] = gen
        _atomic_json(staging / "run.json", run)
        fsync_dir(staging)
        point("embed:staged")
        os.replace(staging, gens / gen)
        fsync_dir(gens)
        point("embed:generation")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # The switch: one atomic rename of run.json.
    _atomic_json(neural / "run.json", run)
    fsync_dir(neural)
    point("embed:switched")
    ws.invalidate_space()
    space = ConceptSpace(combined, stats, index, run, unit=unit)
    if write_facts or (write_facts is None and ws.store.capabilities.embedded):
        ws.store.replace_graph_text(NEURAL_GRAPH, neural_lines(space))
    _write_fact_stamp(ws, gen)  # the facts of this generation are settled (written, or deliberately not)
    point("embed:facts")
    stale = ws.path / "stale.json"
    if stale.exists():
        stale.unlink()
    _prune_generations(gens, keep=(gen, *_previous(gens, gen)))
    ws.invalidate_space()
    return report


def _previous(gens: Path, current: str) -> tuple[str, ...]:
    done = sorted(p.name for p in gens.iterdir() if p.is_dir() and not p.name.endswith(".partial"))
    older = [g for g in done if g < current]
    return tuple(older[-1:])


def _prune_generations(gens: Path, keep: tuple[str, ...]) -> None:
    """Remove generations other than ``keep`` (and leftovers of killed runs)."""
    for p in gens.iterdir():
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def _write_fact_stamp(ws: Workspace, gen: str) -> None:
    _atomic_json(ws.path / "neural" / "facts.json", {"generation": gen})


def repair_facts(ws: Workspace) -> bool:
    """Rewrite the neural facts when a killed embed switched generations but not the facts; True if it did."""
    neural = ws.path / "neural"
    run_path = neural / "run.json"
    if not run_path.exists():
        return False
    run = json.loads(run_path.read_text())
    gen = run.get("generation")
    stamp = neural / "facts.json"
    done = json.loads(stamp.read_text()).get("generation") if stamp.exists() else None
    if not gen or done == gen:
        return False
    if ws.store.capabilities.embedded:  # a remote store gets facts only on request (embed --write-facts)
        space = ConceptSpace.open(ws.path)
        ws.store.replace_graph_text(NEURAL_GRAPH, neural_lines(space))
    _write_fact_stamp(ws, gen)
    return True


def _feature_stats(ws, model, sae, sae_dir: Path, run_id: str, corpus, corpus_name: str, quiet: bool):
    """Feature statistics: over a given corpus; else those shipped beside the SAE; else over the artefacts' text."""
    target = ws.path / "neural" / "features.json"
    run_path = ws.path / "neural" / "run.json"
    if run_path.exists():
        current = generation_dir(ws.path, json.loads(run_path.read_text()))
        if current is not None:
            target = current / "features.json"
    stamp = ws.path / "neural" / "features.run"
    if corpus is not None:
        _say(f"computing feature statistics over {corpus_name or 'the corpus'}", quiet)
        stats = compute_feature_stats(model, sae, corpus, corpus_name=corpus_name)
        stamp.write_text(run_id)
        return stats
    shipped = sae_dir / FEATURE_STATS_FILE
    if shipped.exists():
        return FeatureStats.load(shipped)
    if target.exists() and stamp.exists() and stamp.read_text() == run_id:
        return FeatureStats.load(target)
    texts: list[str] = []
    for s in ws.symbol_table:
        texts.append(s.label)
        texts.extend(s.definitions[:1])
    if not texts:
        return None
    _say("computing feature statistics over the artefacts' own text", quiet)
    stats = compute_feature_stats(model, sae, texts, corpus_name="artefact labels and definitions")
    stamp.write_text(run_id)
    return stats


__all__ = ["embed_workspace", "default_sae_dir", "EmbedReport", "generation_dir", "repair_facts"]
