"""Fixtures of the symbolic layer's tests: real files and real on-disk stores in tmp_path."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from kgalign.symbolic.store import OxigraphStore

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
BROKEN = DATA / "broken"
OAEI = REPO / ".." / "shared" / "data" / "oaei-conference"
OAEI_ONTOLOGIES = ("cmt", "Conference", "confOf", "edas", "ekaw", "iasted", "sigkdd")


@pytest.fixture
def store(tmp_path: Path):
    """A fresh on-disk store."""
    s = OxigraphStore(tmp_path / "store")
    yield s
    s.close()


@pytest.fixture(scope="session")
def oaei_dir() -> Path:
    """The seven OAEI Conference ontologies; skipped loudly when ../shared is absent."""
    if not all((OAEI / f"{name}.owl").is_file() for name in OAEI_ONTOLOGIES):
        msg = f"OAEI Conference ontologies not found at {OAEI.resolve()} (expected ../shared beside the repo)"
        warnings.warn(msg, stacklevel=1)
        pytest.skip(msg)
    return OAEI.resolve()


@pytest.fixture(scope="session")
def oaei_store(tmp_path_factory, oaei_dir: Path):
    """One store holding all seven OAEI Conference ontologies (shared: do not modify)."""
    from kgalign.symbolic.loaders import load_file

    s = OxigraphStore(tmp_path_factory.mktemp("oaei") / "store")
    for name in OAEI_ONTOLOGIES:
        load_file(s, oaei_dir / f"{name}.owl")
    yield s
    s.close()
