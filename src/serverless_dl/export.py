"""Export the Lambda handler from the lesson notebook (nbdev-style).

Lesson 04 is the source of `docker/lambda_function.py`: its code cells tagged
`export` become the script, in order, through nbconvert and the small template
in `templates/export_tagged`. `make export` writes the file; the tests export
again and fail when the committed copy differs.

Command line::

    python -m serverless_dl.export            # write docker/lambda_function.py
    python -m serverless_dl.export --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert import PythonExporter

from serverless_dl.paths import DOCKER, NOTEBOOKS

HANDLER_NOTEBOOK = NOTEBOOKS / "04-lambda-code.ipynb"
HANDLER_SCRIPT = DOCKER / "lambda_function.py"
TEMPLATES = Path(__file__).parent / "templates"
EXPORT_TAG = "export"


def exported_source(notebook: str | Path = HANDLER_NOTEBOOK) -> str:
    """Return the script made of the notebook's `export`-tagged code cells."""
    notebook = Path(notebook)
    node = nbformat.read(notebook, as_version=4)
    if not any(EXPORT_TAG in cell.metadata.get("tags", []) for cell in node.cells):
        raise ValueError(f"{notebook.name} has no code cell tagged {EXPORT_TAG!r}")
    exporter = PythonExporter(
        extra_template_basedirs=[str(TEMPLATES)], template_name="export_tagged"
    )
    body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": notebook.stem}})
    return body.rstrip() + "\n"


def export_handler(
    notebook: str | Path = HANDLER_NOTEBOOK, target: str | Path = HANDLER_SCRIPT
) -> Path:
    """Write the exported script to `target` and return its path."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(exported_source(notebook))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", type=Path, default=HANDLER_NOTEBOOK)
    parser.add_argument("--target", type=Path, default=HANDLER_SCRIPT)
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        parser.exit(2, f"error: notebook {args.notebook} does not exist\n")
    try:
        source = exported_source(args.notebook)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    if args.check:
        current = args.target.read_text() if args.target.is_file() else None
        if current != source:
            print(f"{args.target} is out of date; run `make export`", file=sys.stderr)
            return 1
        print(f"{args.target} is up to date")
        return 0
    args.target.parent.mkdir(parents=True, exist_ok=True)
    args.target.write_text(source)
    print(f"wrote {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
