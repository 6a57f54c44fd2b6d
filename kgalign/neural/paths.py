"""Where the shipped SAE and its files live (the neural layer's own; :mod:`kgalign.index.build` re-exports)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from kgalign.files import sha256_of

DEFAULT_SAE_NAME = "minilm-l6-topk"
FEATURE_STATS_FILE = "feature_stats.json"


def default_sae_dir() -> Path:
    """The SAE that ships with kgalign for the default model."""
    try:
        p = Path(str(resources.files("kgalign") / "data" / "sae" / DEFAULT_SAE_NAME))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        p = Path(__file__).resolve().parents[1] / "data" / "sae" / DEFAULT_SAE_NAME
    return p


#: SHA-256 of a file's bytes (the SAE weights' part of an embed run's id).
sha_file = sha256_of
