"""Grounded feature labels: the real WordNet probe set, real MiniLM, the suite's tiny SAE."""

from __future__ import annotations

import numpy as np
import pytest

from kgalign.neural.labels import (
    FORM_KINDS,
    KINDS,
    FeatureLabels,
    LabelConfig,
    format_grounded,
    ground_labels,
    token_form,
)

WORDNET = "/usr/share/wordnet"


@pytest.fixture(scope="module")
def sae(tiny_sae_dir):
    from kgalign.neural.sae.io import load_sae

    return load_sae(tiny_sae_dir)


@pytest.fixture(scope="module")
def labels(minilm, sae):
    import os

    if not os.path.isfile(f"{WORDNET}/data.noun"):
        pytest.skip("WordNet 3.0 (wordnet-base) is not installed")
    return ground_labels(minilm, sae, LabelConfig(n_synsets=300, seed=0), run_id="test")


def test_token_forms():
    assert token_form("a, b", 1, 2, 1, 3) == "punctuation"
    assert token_form("the court", 0, 3, 0, 2) == "function-word"
    assert token_form("astrophysicist", 0, 5, 0, 3) == "sub-word"
    assert token_form("court rules", 0, 5, 0, 2) == "first"
    assert token_form("the court rules", 4, 9, 1, 3) == "word"


def test_every_feature_gets_a_kind_and_precision_is_what_the_evidence_shows(labels, sae):
    assert len(labels) == int(sae.W_dec.shape[0])
    assert {lab.kind for lab in labels.labels} <= set(KINDS)
    n_checked = 0
    for lab in labels.labels:
        if lab.kind == "concept" and lab.source == "wordnet":
            # precision is recomputable from the shown contexts: in-group ones over all shown
            assert lab.support == sum(c["in_group"] for c in lab.contexts)
            assert lab.n_top == len(lab.contexts)
            assert lab.precision == pytest.approx(lab.support / lab.n_top)
            assert lab.precision >= 0.5 and lab.support >= 3
            assert lab.precision >= 5 * lab.chance  # above chance by the configured lift
            n_checked += 1
        if lab.kind in FORM_KINDS:
            forms = ["positional" if t["form"] in ("first", "last") else t["form"] for t in lab.tokens]
            assert lab.support == forms.count(lab.kind) and lab.precision >= 0.6
            n_checked += 1
    assert n_checked > 0


def test_form_features_are_not_given_concept_labels(labels):
    """A feature whose top tokens are mostly punctuation is marked as such, never labelled as a concept."""
    for lab in labels.labels:
        if not lab.tokens:
            continue
        punct = sum(t["form"] == "punctuation" for t in lab.tokens) / len(lab.tokens)
        if punct >= 0.6:
            assert lab.kind == "punctuation"


def test_coverage_counts_and_round_trip(labels, tmp_path):
    cov = labels.coverage()
    assert cov["n_alive"] == sum(lab.kind != "silent" for lab in labels.labels)
    assert cov["labelled"] == sum(lab.labelled for lab in labels.labels)
    assert 0.0 <= cov["labelled_fraction"] <= 1.0
    for name in ("labels.json", "labels.json.gz"):
        p = tmp_path / name
        labels.save(p)
        back = FeatureLabels.load(p)
        assert back.run_id == "test" and len(back) == len(labels)
        assert back[5] == labels[5]
    alive = np.zeros(len(labels), bool)
    assert labels.coverage(alive)["labelled_fraction"] == 0.0


def test_format_grounded_marks_in_group_evidence(labels):
    lab = next(lab for lab in labels.labels if lab.labelled)
    d = lab.to_dict()
    d["summary"] = lab.describe()
    text = format_grounded({"grounded": d, "workspace_evidence": {}})
    assert lab.describe() in text
    assert "+" in text  # at least one item of the labelled group is shown as such
