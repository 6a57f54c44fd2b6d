"""Grounded labels reach every place a feature label is shown: ConceptSpace.feature_label reads the run's
labels (workspace cache, else shipped) with their kind and precision."""

from __future__ import annotations

from kgalign.index.space import ConceptSpace
from kgalign.neural.labels import FeatureLabel, FeatureLabels, labels_for_run, short_label


def _labels(run_id: str) -> FeatureLabels:
    return FeatureLabels([
        FeatureLabel(0, "concept", "person", 0.8, 8, 10, 0.09, "person.n.01"),
        FeatureLabel(1, "sub-word", "ize / ization", 1.0, 20, 20),
        FeatureLabel(2, "ungrounded", "ve / sp"),
        FeatureLabel(3, "silent", ""),
    ], run_id=run_id)


def _space(tmp_path, run_id: str, d_sae: int = 4) -> ConceptSpace:
    space = object.__new__(ConceptSpace)  # the lookups only need these attributes
    space.run, space.d_sae, space.stats, space.path = {"run_id": run_id}, d_sae, None, tmp_path
    return space


def test_labels_for_run_reads_the_workspace_cache_of_that_run_only(tmp_path):
    _labels("r1").save(tmp_path / "neural" / "labels.json.gz")
    assert labels_for_run("r1", 4, tmp_path) is not None
    assert labels_for_run("r2", 4, tmp_path) is None  # another embed run
    assert labels_for_run("r1", 5, tmp_path) is None  # another SAE width


def test_feature_label_shows_kind_and_precision_and_never_a_concept_for_form_features(tmp_path):
    _labels("r1").save(tmp_path / "neural" / "labels.json.gz")
    space = _space(tmp_path, "r1")
    assert space.feature_label(0) == "person (concept, 8/10)"
    assert space.feature_label(1) == "ize / ization (sub-word, 20/20)"
    assert space.feature_label(2) == "ve / sp (ungrounded)"
    assert space.feature_label(3) == "feature 3"  # silent: nothing to show, no stats either
    assert space.grounded_label(0).precision == 0.8
    assert short_label(space.grounded_label(1)).startswith("ize")


def test_without_grounded_labels_the_old_label_stays(tmp_path):
    space = _space(tmp_path, "no-such-run")
    assert space.grounded_labels() is None
    assert space.feature_label(2) == "feature 2"
    _labels("no-such-run").save(tmp_path / "neural" / "labels.json.gz")
    space.forget_labels()  # after a check grounded labels, they are read again
    assert space.feature_label(0) == "person (concept, 8/10)"
