"""Every Python block in the README and docs/ runs (from the repository root).

A block preceded by a ``<!-- no-test: reason -->`` line is skipped (e.g. it opens a window).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- no-test:[^>]*-->\n)?```python\n(.*?)```", re.S)


def _blocks() -> list:
    params = []
    for page in PAGES:
        for i, match in enumerate(BLOCK.finditer(page.read_text())):
            marks = [pytest.mark.skip(reason=match.group(1).strip())] if match.group(1) else []
            params.append(pytest.param(match.group(2), id=f"{page.name}-{i}", marks=marks))
    return params


@pytest.mark.parametrize("code", _blocks())
def test_doc_block_runs(code: str, data_dir) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_cli_reference_is_up_to_date() -> None:
    """docs/cli.md is what ``scripts/cli_reference.py`` writes from the current parser."""
    import importlib.util

    path = ROOT / "scripts" / "cli_reference.py"
    spec = importlib.util.spec_from_file_location("cli_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: run `python scripts/cli_reference.py`"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_is_a_readable_size(page: Path) -> None:
    """No page balloons (an edit script once wrote a 64 MB benchmarks.md)."""
    assert page.stat().st_size < 200_000, f"{page.name}: {page.stat().st_size} bytes"
