"""The grammar loads from an installed wheel and from the source checkout, once, without conflicts."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import lark
import pytest

from kgalign.query.grammar import GRAMMAR_FILE, SOURCE_DIR, build_parser, get_parser, grammar_source

REPO = Path(__file__).resolve().parents[2]


def test_parser_is_built_once() -> None:
    assert get_parser() is get_parser()


def test_checkout_grammar_is_the_top_level_file() -> None:
    assert SOURCE_DIR == REPO / "grammars"
    text, origin = grammar_source(package="kgalign_query_no_such_package")
    assert Path(origin) == REPO / "grammars" / GRAMMAR_FILE
    assert text == (REPO / "grammars" / GRAMMAR_FILE).read_text(encoding="utf-8")


def test_installed_package_grammar_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The layout a wheel installs: <site>/<package>/grammars/kgalign.lark
    package = tmp_path / "site" / "kga_wheel_layout"
    (package / "grammars").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "grammars" / GRAMMAR_FILE).write_text("// installed copy\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    text, origin = grammar_source(package="kga_wheel_layout", source_dir=tmp_path / "no-checkout")
    assert text == "// installed copy\n"
    assert origin.endswith(str(Path("kga_wheel_layout") / "grammars" / GRAMMAR_FILE))


def test_missing_grammar_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no-checkout"):
        grammar_source(package="kgalign_query_no_such_package", source_dir=tmp_path / "no-checkout")


def test_grammar_has_no_lalr_conflicts() -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    old_level = lark.logger.level
    lark.logger.addHandler(handler)
    lark.logger.setLevel(logging.DEBUG)
    try:
        text, origin = grammar_source()
        build_parser(text, origin, debug=True)
    finally:
        lark.logger.removeHandler(handler)
        lark.logger.setLevel(old_level)
    conflicts = [r.getMessage() for r in records if "conflict" in r.getMessage().lower()]
    assert conflicts == []


@pytest.mark.slow
def test_wheel_ships_the_grammar_and_loads_it(tmp_path: Path) -> None:
    """Build a wheel from this checkout, install it apart, and parse with the grammar inside it."""
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("kgalign", "grammars", "ontologies"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", src / "pyproject.toml")
    (src / "README.md").write_text("kgalign\n")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip()[-500:]}")
    (wheel,) = (tmp_path / "dist").glob("kgalign-*.whl")
    assert f"kgalign/grammars/{GRAMMAR_FILE}" in zipfile.ZipFile(wheel).namelist()

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        timeout=600,
    )
    probe = (
        "import kgalign.query.grammar as g; from kgalign.query.parser import parse;"
        "print(g.grammar_source()[1]); print(type(parse('unstable symbols limit 3')).__name__)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    origin, kind = run.stdout.split()
    assert Path(origin) == target / "kgalign" / "grammars" / GRAMMAR_FILE
    assert kind == "UnstableSymbols"
