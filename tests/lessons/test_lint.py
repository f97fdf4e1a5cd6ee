"""The linter, run by `make test`, so STYLE.md's Python rules are enforced, not only described.

What ruff checks, and where, is configured in pyproject.toml: the whole repository for
errors, style, imports and upgrades; public definitions in `src/` for docstrings.
"""

import subprocess
import sys

from serverless_dl.base.paths import ROOT


def test_ruff_finds_nothing_in_the_repository():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"ruff check . found problems:\n{result.stdout}{result.stderr}"
