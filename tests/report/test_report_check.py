"""The bridge check in the report's header: rendered from a saved check, escaped, and a pointer when none."""

from __future__ import annotations

from kgalign.align.check import CheckResult, ClaimVerdict
from kgalign.report.check_section import check_html, check_markdown


def _check() -> dict:
    res = CheckResult("run1", "all-MiniLM-L6-v2", 4, "sae", 42, created="2026-12-03T06:00:00")
    res.verdicts = [
        ClaimVerdict("merge", True, "paraphrase hits@1 SAE 0.80 vs dense 0.70", reliability=0.8),
        ClaimVerdict("pruning", False, "stability vs junk AUC 0.36 <script>", "do not prune on it", 0.0),
        ClaimVerdict("feature-links", None, "no links | none"),
    ]
    return res.to_dict()


def test_header_section_shows_every_verdict_escaped():
    d = _check()
    page = check_html(d)
    assert 'id="check"' in page and d["summary"] in page
    assert "this SAE can serve as a bridge" in d["summary"] and "not for pruning" in d["summary"]
    assert page.count("<tr>") == 1 + 3
    assert "trusted" in page and "not trusted" in page and "not measured" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_markdown_section_and_missing_check():
    lines = check_markdown(_check())
    assert lines[0] == "## Bridge check"
    assert any(line.startswith("| pruning | not trusted |") for line in lines)
    assert any("no links \\| none" in line for line in lines)  # a pipe in a figure does not break the table
    assert "run &#x27;kgalign check&#x27;" in check_html(None)
    assert "run 'kgalign check'" in "\n".join(check_markdown(None))
