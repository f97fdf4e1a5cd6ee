"""Lessons 04 and 05 are the sources of docker/lambda_function.py and docker/image_source.py,
lesson 03 of docker/onnx/lambda_function.py."""

import subprocess
import sys

import nbformat
import pytest

from serverless_dl.base.paths import DOCKER
from serverless_dl.lessons import export

SCRIPTS = list(export.EXPORTS)


def _shown(script):
    """The script's path under docker/, e.g. `onnx/lambda_function.py`."""
    return script.relative_to(DOCKER).as_posix()


@pytest.mark.parametrize("script", SCRIPTS, ids=_shown)
def test_committed_script_matches_its_notebook(script):
    stale = f"docker/{_shown(script)} is stale: run `make export`"
    assert script.read_text() == export.exported_source(export.EXPORTS[script]), stale


@pytest.mark.parametrize("script", SCRIPTS, ids=_shown)
def test_exported_script_is_plain_python_that_passes_ruff(script):
    source = export.exported_source(export.EXPORTS[script])
    assert "get_ipython" not in source
    assert not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines())
    compile(source, script.name, "exec")
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", str(script)],
        capture_output=True, text=True,
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_exported_handler_defines_the_lambda_interface_and_imports_the_guarded_source():
    source = export.exported_source(export.HANDLER_NOTEBOOK)
    assert "def lambda_handler(event, context):" in source
    assert "def predict(url" in source
    assert "\nfrom image_source import " in source
    # The naive download of lesson 04 stays in the notebook.
    assert "urllib" not in source and "def fetch_image" not in source


def test_exported_image_source_defines_what_the_handler_imports():
    source = export.exported_source(export.IMAGE_SOURCE_NOTEBOOK)
    handler = export.exported_source(export.HANDLER_NOTEBOOK)
    imported = handler.split("\nfrom image_source import ", 1)[1].split("\n", 1)[0]
    for name in imported.split(", "):
        assert f"\ndef {name}(" in source or f"\nclass {name}(" in source, name


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
    assert source.startswith("# Generated from demo.ipynb: its code cells tagged `export`.")


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


def test_the_default_command_writes_and_checks_every_script(tmp_path, monkeypatch, capsys):
    copies = {tmp_path / _shown(script): notebook for script, notebook in export.EXPORTS.items()}
    monkeypatch.setattr(export, "EXPORTS", copies)
    assert export.main(["--check"]) == 1
    assert capsys.readouterr().err.count("is out of date") == len(copies) == 3
    assert export.main([]) == 0
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.py")) == [
        "image_source.py", "lambda_function.py", "onnx/lambda_function.py"
    ]
    assert export.main(["--check"]) == 0
