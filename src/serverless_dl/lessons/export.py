"""Export the function's two modules from their lesson notebooks (nbdev-style).

Lesson 04 is the source of `docker/lambda_function.py` (the handler) and
lesson 05 of `docker/image_source.py` (the guarded download it imports);
lesson 03 is the source of `docker/onnx/lambda_function.py`, the handler on
ONNX Runtime, which imports the same `image_source.py`. The code cells tagged
`export` of each notebook become its script, in order, through nbconvert and
the small template in `templates/export_tagged`. `make export` writes every
file; the tests export again and fail when a committed copy differs.

Command line::

    python -m serverless_dl.lessons.export            # write every script
    python -m serverless_dl.lessons.export --check    # exit 1 if any is out of date
    python -m serverless_dl.lessons.export --notebook NB --target FILE   # one notebook, one script
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert import PythonExporter

from serverless_dl.base.paths import DOCKER, HOMEWORK, NOTEBOOKS, ROOT

HANDLER_NOTEBOOK = NOTEBOOKS / "04-lambda-code.ipynb"
HANDLER_SCRIPT = DOCKER / "lambda_function.py"
IMAGE_SOURCE_NOTEBOOK = NOTEBOOKS / "05-hardening.ipynb"
IMAGE_SOURCE_SCRIPT = DOCKER / "image_source.py"
ONNX_HANDLER_NOTEBOOK = NOTEBOOKS / "03-removing-tensorflow.ipynb"
ONNX_HANDLER_SCRIPT = DOCKER / "onnx" / "lambda_function.py"
# Every exported script and the notebook it comes from, in course order.
EXPORTS = {
    ONNX_HANDLER_SCRIPT: ONNX_HANDLER_NOTEBOOK,
    HANDLER_SCRIPT: HANDLER_NOTEBOOK,
    IMAGE_SOURCE_SCRIPT: IMAGE_SOURCE_NOTEBOOK,
}
HOMEWORK_NOTEBOOK = HOMEWORK / "homework.ipynb"
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
EXPORT_TAG = "export"


def regeneration_command(notebook: Path) -> tuple[str, str]:
    """(the notebook as the header names it, the command that regenerates its script)."""
    notebook = notebook.resolve()
    inside = notebook.is_relative_to(ROOT)
    shown = notebook.relative_to(ROOT).as_posix() if inside else notebook.name
    if notebook in EXPORTS.values():
        return shown, "make export"
    if notebook == HOMEWORK_NOTEBOOK:
        return shown, "make export-homework"
    return shown, "python -m serverless_dl.lessons.export"


def exported_source(notebook: str | Path = HANDLER_NOTEBOOK) -> str:
    """Return the script made of the notebook's `export`-tagged code cells."""
    notebook = Path(notebook)
    node = nbformat.read(notebook, as_version=4)
    if not any(EXPORT_TAG in cell.metadata.get("tags", []) for cell in node.cells):
        raise ValueError(f"{notebook.name} has no code cell tagged {EXPORT_TAG!r}")
    exporter = PythonExporter(
        extra_template_basedirs=[str(TEMPLATES)], template_name="export_tagged"
    )
    source, command = regeneration_command(notebook)
    resources = {"metadata": {"name": notebook.stem}, "export_source": source,
                 "export_command": command}  # fmt: skip
    body, _ = exporter.from_notebook_node(node, resources=resources)
    return body.rstrip() + "\n"


def export_handler(
    notebook: str | Path = HANDLER_NOTEBOOK, target: str | Path = HANDLER_SCRIPT
) -> Path:
    """Write the script exported from `notebook` to `target` and return its path."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(exported_source(notebook))
    return target


def main(argv: list[str] | None = None) -> int:
    """Export the handler files from their lessons (`make export`); `--check` only compares.

    Returns 1 when `--check` finds a stale file, so CI fails until `make export` is run.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", type=Path, help=f"default: {HANDLER_NOTEBOOK.name}")
    parser.add_argument("--target", type=Path, help=f"default: {HANDLER_SCRIPT.name}")
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args(argv)
    if args.notebook is None and args.target is None:
        pairs = [(notebook, target) for target, notebook in EXPORTS.items()]
    else:
        pairs = [(args.notebook or HANDLER_NOTEBOOK, args.target or HANDLER_SCRIPT)]
    stale = 0
    for notebook, target in pairs:
        if not notebook.is_file():
            parser.exit(2, f"error: notebook {notebook} does not exist\n")
        try:
            source = exported_source(notebook)
        except ValueError as error:
            parser.exit(2, f"error: {error}\n")
        if args.check:
            current = target.read_text() if target.is_file() else None
            if current != source:
                print(f"{target} is out of date; run `make export`", file=sys.stderr)
                stale += 1
            else:
                print(f"{target} is up to date")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
        print(f"wrote {target}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
