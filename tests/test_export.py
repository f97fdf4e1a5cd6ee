"""Lesson 04 is the source of docker/lambda_function.py."""

import subprocess
import sys

import nbformat
import pytest

from serverless_dl import export
from serverless_dl.paths import DOCKER


def test_committed_handler_matches_the_notebook():
    committed = (DOCKER / "lambda_function.py").read_text()
    stale = "docker/lambda_function.py is stale: run `make export`"
    assert committed == export.exported_source(), stale


def test_exported_handler_is_plain_python_that_passes_ruff():
    source = export.exported_source()
    assert "get_ipython" not in source
    assert not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines())
    compile(source, "lambda_function.py", "exec")
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", str(DOCKER / "lambda_function.py")],
        capture_output=True, text=True,
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_exported_handler_defines_the_lambda_interface():
    source = export.exported_source()
    assert "def lambda_handler(event, context):" in source
    assert "def predict(url" in source


def _notebook(tmp_path, cells):
    notebook = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "demo.ipynb"
    nbformat.write(notebook, path)
    return path


def test_only_export_tagged_code_cells_are_kept_in_order(tmp_path):
    path = _notebook(tmp_path, [
        nbformat.v4.new_markdown_cell("prose", metadata={"tags": ["export"]}),
        nbformat.v4.new_code_cell("first = 1", metadata={"tags": ["export"]}),
        nbformat.v4.new_code_cell("print('demonstration only')"),
        nbformat.v4.new_code_cell("second = first + 1", metadata={"tags": ["other", "export"]}),
    ])
    source = export.exported_source(path)
    assert source.index("first = 1") < source.index("second = first + 1")
    assert "demonstration only" not in source and "prose" not in source
    assert source.startswith("# Generated from notebooks/demo.ipynb")


def test_a_notebook_without_export_cells_is_an_error(tmp_path):
    path = _notebook(tmp_path, [nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="no code cell tagged 'export'"):
        export.exported_source(path)


def test_check_mode_reports_drift_and_missing_notebooks(tmp_path, capsys):
    target = tmp_path / "lambda_function.py"
    target.write_text("# stale\n")
    assert export.main(["--target", str(target), "--check"]) == 1
    assert export.main(["--target", str(target)]) == 0
    assert export.main(["--target", str(target), "--check"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        export.main(["--notebook", str(tmp_path / "missing.ipynb")])
    assert exit_info.value.code == 2
    assert "does not exist" in capsys.readouterr().err
