"""Steering through the SAE and the behavioural checks of feature–symbol links: real MiniLM, the suite's
tiny trained SAE on the demo ontologies, and a tiny random Llama for the causal path."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from kgalign.align.behaviour import BehaviouralCheck, behavioural_checks, control_pool, summarise
from kgalign.errors import ConfigError
from kgalign.neural.sae.registry import build_sae, make_config
from kgalign.neural.steering import Intervention, MatchedSplice, SetSplice, sae_splice, token_mask

TEXTS = ["The duty of care was breached.", "Negligence needs a duty of care, a breach and harm.", "Harm"]
MENTIONS = ["duty of care", "duty of care", "Harm"]
SPANS = [(t.index(m), t.index(m) + len(m)) for t, m in zip(TEXTS, MENTIONS, strict=True)]


@pytest.fixture(scope="module")
def sae(tiny_sae_dir):
    from kgalign.neural.sae.io import load_sae

    return load_sae(tiny_sae_dir)


def _hidden(minilm, texts):
    """The padded residual stream at the model's layer, as the replacement hook sees it."""
    seen = []

    def grab(h):
        seen.append(h.clone())
        return h

    minilm.forward(texts, replace=grab)
    return seen[0].clone()  # a normal tensor again, outside inference mode


# ------------------------------------------------------------------------------------------- steering


def test_noop_edit_with_error_added_back_is_exactly_the_identity(minilm, sae):
    plain = minilm.sentence_embedding(TEXTS)
    spliced = minilm.sentence_embedding(TEXTS, replace=sae_splice(sae))
    np.testing.assert_allclose(spliced, plain, atol=1e-5, rtol=0)
    h = _hidden(minilm, TEXTS)
    assert torch.equal(sae_splice(sae)(h), h)  # not merely close: the same numbers
    # Without the add-back, the bare reconstruction moves the output: the add-back is what makes it exact.
    bare = minilm.sentence_embedding(TEXTS, replace=sae_splice(sae, add_error=False))
    assert np.abs(bare - plain).max() > 1e-3


@torch.no_grad()
def test_suppressing_a_feature_changes_only_that_feature(minilm, sae):
    h = _hidden(minilm, TEXTS)
    mask = token_mask(minilm, TEXTS, SPANS)
    codes = sae.encode(h[torch.as_tensor(mask)])
    f = int(codes.sum(0).argmax())  # a feature that fires at the mentions
    edited = Intervention("suppress").code_edit(f)(codes)
    changed = (edited != codes).any(0).nonzero().flatten().tolist()
    assert changed == [f]
    assert torch.all(edited[:, f] == 0)
    # In the residual stream: the mention tokens lose exactly c_f · W_dec[f]; every other token is untouched.
    new = sae_splice(sae, Intervention("suppress").code_edit(f), mask)(h)
    m = torch.as_tensor(mask)
    assert torch.equal(new[~m], h[~m])
    expected = h[m] - codes[:, f : f + 1] * sae.W_dec[f].detach()
    torch.testing.assert_close(new[m], expected, atol=1e-5, rtol=1e-5)


def test_token_mask_marks_the_mention(minilm):
    mask = token_mask(minilm, TEXTS, SPANS)
    enc = minilm.encode(TEXTS)
    for i, (s, e) in enumerate(SPANS):
        offs = np.asarray(enc[i].offsets)[mask[i, : len(enc[i].ids)]]
        assert len(offs) and offs[:, 0].min() == s and offs[:, 1].max() == e
    every = token_mask(minilm, TEXTS)
    assert every.sum() == sum(len(x.ids) - 2 for x in enc)  # every real token: all but [CLS] and [SEP]


@torch.no_grad()
def test_matched_splice_target_row_is_the_sae_edit_and_controls_have_the_same_strength(minilm, sae):
    texts = [TEXTS[0]] * 4
    spans = [SPANS[0]] * 4
    mask = token_mask(minilm, texts, spans)
    h = _hidden(minilm, texts)
    f = int(sae.encode(h[torch.as_tensor(mask)]).sum(0).argmax())
    splice = MatchedSplice(sae, f, Intervention("suppress"), [None, f, 3, 7], mask)
    out = splice(h)
    assert torch.equal(out[0], h[0])
    exact = sae_splice(sae, Intervention("suppress").code_edit(f), mask[1:2])(h[1:2])
    torch.testing.assert_close(out[1:2], exact, atol=1e-5, rtol=1e-5)
    assert splice.applied_norm[0] == 0 and splice.applied_norm[1] > 0
    np.testing.assert_allclose(splice.applied_norm[2:], splice.applied_norm[1], rtol=1e-5)
    assert not torch.allclose(out[2], out[1])  # ...in another direction


@torch.no_grad()
def test_set_splice_edits_the_whole_set_and_controls_move_as_far_per_feature(minilm, sae):
    texts = [TEXTS[0]] * 4
    mask = token_mask(minilm, texts, [SPANS[0]] * 4)
    h = _hidden(minilm, texts)
    codes = sae.encode(h[torch.as_tensor(mask)]).sum(0)
    fs = [int(f) for f in torch.argsort(codes, descending=True)[:3]]
    free = [g for g in range(int(sae.W_dec.shape[0])) if g not in fs]
    splice = SetSplice(sae, fs, Intervention("suppress"), [None, fs, free[:3], free[3:6]], mask)
    out = splice(h)
    assert torch.equal(out[0], h[0])
    exact = sae_splice(sae, Intervention("suppress").code_edit(fs), mask[1:2])(h[1:2])
    torch.testing.assert_close(out[1:2], exact, atol=1e-5, rtol=1e-5)
    assert splice.applied_norm[1] > 0 and splice.applied_norm[2] > 0
    assert not torch.allclose(out[2], out[1])
    with pytest.raises(ConfigError, match="directions"):
        SetSplice(sae, fs, Intervention("suppress"), [free[:2]], mask[:1])


def test_shared_set_and_density_matched_controls():
    from kgalign.align.behaviour import density_matched, shared_set

    va, vb = np.array([0.0, 2.0, 1.0, 3.0, 0.5]), np.array([1.0, 1.5, 0.0, 4.0, 0.2])
    assert shared_set(va, vb, 3) == [3, 1]  # by the smaller weight; 2 and 0 are in one support only
    dens = np.array([0.1, 0.01, 0.001, 0.1, 0.01, 0.0, 0.001, 0.1])
    ctl = density_matched([1, 2], dens, {1, 2, 3}, np.random.default_rng(0), pool=1)
    assert ctl == [4, 6]  # the alive feature nearest in log density, never a shared or dead one


def test_intervention_ops():
    assert Intervention("add", 2.5).new_code(1.0) == 3.5
    with pytest.raises(ConfigError, match="op must be one of"):
        Intervention("erase")


# ------------------------------------------------------------------------------- behavioural checks


def _key(ws, name, graph):
    s = ws.resolve_one(name, graph)
    return (s.graph, s.iri)


def test_checks_on_real_symbols_return_finite_numbers(demo_ws, minilm):
    keys = [_key(demo_ws, "Negligence", "tort-owl"), _key(demo_ws, "Obligation of reasonable care", "negligence-skos")]
    checks = behavioural_checks(demo_ws, keys, top_features=2, model=minilm)
    assert len(checks) == 4
    for c in checks:
        assert isinstance(c, BehaviouralCheck)
        assert c.key in keys and c.feature in {f for f, _, _ in demo_ws.space.support_of(c.key)[:2]}
        assert c.mode == "suppress" and c.measure == "definition-cosine" and c.scope == "mention"
        assert c.n_controls == len(c.controls) == len(c.control_features) == 12
        assert c.feature not in c.control_features
        for v in (c.effect, c.control_mean, c.control_std, c.z, c.baseline, c.edited):
            assert np.isfinite(v)
        assert -1 <= c.baseline <= 1 and c.control_std > 0
        assert c.passed == (c.z >= 2 and c.effect > np.quantile(c.controls, 0.9))
        json.dumps(c.to_dict())
    s = summarise(checks)
    assert s["n_checks"] == 4 and 0 <= s["n_passed"] <= 4


def test_controls_have_the_same_strength_and_are_reproducible(demo_ws, minilm):
    keys = [_key(demo_ws, "Harm", "liability-kg")]
    a = behavioural_checks(demo_ws, keys, model=minilm, seed=3)[0]
    assert a.code > 0 and a.strength > 0
    np.testing.assert_allclose(a.control_strengths, a.strength, rtol=1e-4)
    own = {f for f, _, _ in demo_ws.space.support_of(keys[0])}
    assert not own & set(a.control_features)
    assert set(a.control_features) <= set(control_pool(demo_ws.space, ()).tolist())
    b = behavioural_checks(demo_ws, keys, model=minilm, seed=3)[0]
    assert a.control_features == b.control_features
    assert a.effect == pytest.approx(b.effect, abs=1e-6) and a.z == pytest.approx(b.z, abs=1e-4)


def test_amplify_mode_moves_the_other_way_from_suppress(demo_ws, minilm):
    keys = [_key(demo_ws, "Harm", "liability-kg")]
    up = behavioural_checks(demo_ws, keys, model=minilm, mode="amplify", factor=4.0, n_controls=4)[0]
    assert up.mode == "amplify" and np.isfinite(up.z)
    np.testing.assert_allclose(up.control_strengths, up.strength, rtol=1e-4)
    add = behavioural_checks(demo_ws, keys, model=minilm, mode="add", alpha=0.5, n_controls=4)[0]
    assert add.strength > 0 and np.isfinite(add.effect)
    with pytest.raises(ConfigError, match="mode must be one of"):
        behavioural_checks(demo_ws, keys, model=minilm, mode="ablate")


def test_default_selection_is_bounded_and_spread_over_graphs(demo_ws, minilm):
    from kgalign.align.behaviour import links_to_check

    links = links_to_check(demo_ws, max_symbols=6)
    assert len(links) == 6
    assert {k[0] for k, _ in links} == set(demo_ws.graph_names())
    assert links == links_to_check(demo_ws, max_symbols=6)  # seeded


# ------------------------------------------------------------------------------------- causal model

TINY_ONTOLOGY = """
@prefix ex: <https://example.org/tiny#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
ex:Tort a owl:Class ; rdfs:label "Tort" ; skos:definition "A civil wrong causing harm." .
ex:Negligence a owl:Class ; rdfs:subClassOf ex:Tort ; rdfs:label "Negligence" ;
    skos:definition "Failure to take reasonable care." .
ex:Battery a owl:Class ; rdfs:subClassOf ex:Tort ; rdfs:label "Battery" ;
    skos:definition "Intentional harmful contact." .
ex:Nuisance a owl:Class ; rdfs:subClassOf ex:Tort ; rdfs:label "Nuisance" .
"""


@pytest.fixture(scope="module")
def causal_ws(tmp_path_factory):
    """A 3-block random Llama (MiniLM's tokenizer), a random SAE on its layer 2, and a tiny ontology."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from kgalign.api import Workspace
    from kgalign.neural.model import resolve_model_path
    from kgalign.neural.sae.io import save_sae

    root = tmp_path_factory.mktemp("causal")
    d = root / "tiny-llama"
    d.mkdir()
    src, _, _ = resolve_model_path("minilm")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(src / name, d / name)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0)
    LlamaForCausalLM(cfg).save_pretrained(d, safe_serialization=True)
    save_sae(build_sae(make_config("topk", d_in=32, d_sae=128, k=8), seed=0), root / "sae")
    onto = root / "tiny.ttl"
    onto.write_text(TINY_ONTOLOGY)
    ws = Workspace.open(root / "ws")
    ws.load(onto)
    ws.config.model, ws.config.layer, ws.config.sae = str(d), 2, str(root / "sae")
    ws.save_config()
    ws.embed(quiet=True)
    return ws


def test_causal_model_checks_measure_mention_logprob(causal_ws):
    checks = behavioural_checks(causal_ws, n_controls=6)
    assert len(checks) == 3  # the symbols with a definition
    for c in checks:
        assert c.measure == "logprob" and c.scope == "all"
        assert c.baseline < 0 and np.isfinite(c.effect) and np.isfinite(c.z)
        np.testing.assert_allclose(c.control_strengths, c.strength, rtol=1e-4)
