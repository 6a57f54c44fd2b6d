"""Neural facts as RDF, in the workspace's neural graph, so plain SPARQL can ask neural questions.

Vocabulary (prefix ``kga:`` = ``https://w3id.org/kgalign/vocab#``)::

    <urn:kgalign:run>       a kga:EmbeddingRun ; kga:model "all-MiniLM-L6-v2" ; kga:layer 4 ;
                            kga:sae "minilm-l6-topk" ; kga:dSae 3072 .
    <urn:kgalign:feature:17> a kga:Feature ; kga:featureIndex 17 ; rdfs:label "court / judge" ;
                            kga:density 0.0031 ; kga:meanActivation 1.7 .
    <symbol IRI>            kga:supportStability 0.82 ; kga:activationStrength 2.1 ;
                            kga:activation [ a kga:Activation ; kga:feature <urn:kgalign:feature:17> ;
                                             kga:weight 1.93 ; kga:inGraph <urn:kgalign:graph:tort-owl> ] .

A symbol's ``kga:activation`` nodes are its strongest features (at most ``FACT_TOP``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from kgalign.index.space import ConceptSpace
from kgalign.store import terms as ox  # kgalign's own RDF terms (named as pyoxigraph names them)
from kgalign.symbolic.vocab import KGA, NEURAL_GRAPH, RDF, RDFS, XSD, graph_iri

FACT_TOP = 8
RUN_IRI = "urn:kgalign:run"


def feature_iri(f: int) -> str:
    return f"urn:kgalign:feature:{f}"


def _n(local: str) -> ox.NamedNode:
    return ox.NamedNode(KGA + local)


def _dec_text(x: float) -> str:
    t = f"{x:.6g}"
    return t if "e" not in t else f"{x:.8f}"


def _dec(x: float) -> ox.Literal:
    return ox.Literal(_dec_text(x), datatype=ox.NamedNode(XSD + "decimal"))


def neural_quads(space: ConceptSpace) -> Iterator[ox.Quad]:
    g = ox.NamedNode(NEURAL_GRAPH)
    a = ox.NamedNode(RDF + "type")
    run = ox.NamedNode(RUN_IRI)
    yield ox.Quad(run, a, _n("EmbeddingRun"), g)
    for key in ("model", "sae", "run_id"):
        if space.run.get(key) is not None:
            yield ox.Quad(run, _n({"run_id": "runId"}.get(key, key)), ox.Literal(str(space.run[key])), g)
    if space.run.get("layer") is not None:
        yield ox.Quad(run, _n("layer"), ox.Literal(str(int(space.run["layer"])), datatype=ox.NamedNode(XSD + "integer")), g)
    yield ox.Quad(run, _n("dSae"), ox.Literal(str(space.d_sae), datatype=ox.NamedNode(XSD + "integer")), g)
    used = space.claimed_features()
    stats = space.stats
    for f in range(space.d_sae):
        if stats is None and f not in used:
            continue
        node = ox.NamedNode(feature_iri(f))
        yield ox.Quad(node, a, _n("Feature"), g)
        yield ox.Quad(node, _n("featureIndex"), ox.Literal(str(f), datatype=ox.NamedNode(XSD + "integer")), g)
        yield ox.Quad(node, ox.NamedNode(RDFS + "label"), ox.Literal(space.feature_label(f)), g)
        if stats is not None:
            yield ox.Quad(node, _n("density"), _dec(float(stats.density[f])), g)
            yield ox.Quad(node, _n("meanActivation"), _dec(float(stats.mean_activation[f])), g)
    for i, (graph, iri) in enumerate(space.keys):
        s = ox.NamedNode(iri)
        yield ox.Quad(s, _n("supportStability"), _dec(float(space.table.stability[i])), g)
        yield ox.Quad(s, _n("activationStrength"), _dec(float(space.table.strength[i])), g)
        for f, w, _ in space.table.support(i)[:FACT_TOP]:
            b = ox.BlankNode()
            yield ox.Quad(s, _n("activation"), b, g)
            yield ox.Quad(b, a, _n("Activation"), g)
            yield ox.Quad(b, _n("feature"), ox.NamedNode(feature_iri(f)), g)
            yield ox.Quad(b, _n("weight"), _dec(w), g)
            yield ox.Quad(b, _n("inGraph"), ox.NamedNode(graph_iri(graph)), g)


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def neural_lines(space: ConceptSpace) -> Iterator[str]:
    """The triples of :func:`neural_quads` as N-Triples lines, made as text (a store parses them itself:
    no term objects per triple). The same graph, blank nodes aside (``_:`` labels unique to this call)."""
    a = f"<{RDF}type>"
    dec = f"^^<{XSD}decimal>"
    integer = f"^^<{XSD}integer>"
    kga = {k: f"<{KGA}{k}>" for k in ("model", "sae", "runId", "layer", "dSae", "featureIndex", "density",
                                     "meanActivation", "supportStability", "activationStrength", "activation",
                                     "feature", "weight", "inGraph", "EmbeddingRun", "Feature", "Activation")}
    label = f"<{RDFS}label>"
    run = f"<{RUN_IRI}>"
    yield f"{run} {a} {kga['EmbeddingRun']} .\n"
    for key in ("model", "sae", "run_id"):
        if space.run.get(key) is not None:
            yield f'{run} {kga[{"run_id": "runId"}.get(key, key)]} "{_esc(str(space.run[key]))}" .\n'
    if space.run.get("layer") is not None:
        yield f'{run} {kga["layer"]} "{int(space.run["layer"])}"{integer} .\n'
    yield f'{run} {kga["dSae"]} "{space.d_sae}"{integer} .\n'
    used = space.claimed_features()
    stats = space.stats
    for f in range(space.d_sae):
        if stats is None and f not in used:
            continue
        node = f"<{feature_iri(f)}>"
        yield f"{node} {a} {kga['Feature']} .\n"
        yield f'{node} {kga["featureIndex"]} "{f}"{integer} .\n'
        yield f'{node} {label} "{_esc(space.feature_label(f))}" .\n'
        if stats is not None:
            yield f'{node} {kga["density"]} "{_dec_text(float(stats.density[f]))}"{dec} .\n'
            yield f'{node} {kga["meanActivation"]} "{_dec_text(float(stats.mean_activation[f]))}"{dec} .\n'
    token = uuid.uuid4().hex[:12]
    graphs: dict[str, str] = {}
    table = space.table
    for i, (graph, iri) in enumerate(space.keys):
        s = f"<{iri}>"
        g = graphs.get(graph) or graphs.setdefault(graph, f"<{graph_iri(graph)}>")
        yield f'{s} {kga["supportStability"]} "{_dec_text(float(table.stability[i]))}"{dec} .\n'
        yield f'{s} {kga["activationStrength"]} "{_dec_text(float(table.strength[i]))}"{dec} .\n'
        for r, (f, w, _) in enumerate(table.support(i)[:FACT_TOP]):
            b = f"_:a{token}x{i}x{r}"
            yield (f"{s} {kga['activation']} {b} .\n{b} {a} {kga['Activation']} .\n"
                   f"{b} {kga['feature']} <{feature_iri(f)}> .\n{b} {kga['weight']} \"{_dec_text(w)}\"{dec} .\n"
                   f"{b} {kga['inGraph']} {g} .\n")
