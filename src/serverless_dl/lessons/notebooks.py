"""The lesson notebooks: their order, the parameters of a run, how to execute them.

Every lesson reads its inputs and writes its outputs through parameters (the
cell tagged `parameters`). Run with no parameters, a lesson works on the
repository itself, as a learner in JupyterLab does: it reads last week's model
from `models/` and writes what it makes next to it. `run_parameters()` gives
the parameters that keep a run's files inside one output folder instead, which
is what `make course` and the tests use, so they never touch committed files.

Command line::

    python -m serverless_dl.lessons.notebooks refresh [NAME ...]  # re-execute in place
    python -m serverless_dl.lessons.notebooks prepare OUT_DIR     # inject CI parameters (nbval)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from serverless_dl.base.paths import NOTEBOOKS, in_repo
from serverless_dl.lessons.syllabus import LESSONS, lesson

KERNEL = "python3"
CELL_TIMEOUT_SECONDS = 900
# Lessons that build and run containers: they need a Docker engine.
DOCKER_LESSONS = tuple(lesson.name for lesson in LESSONS if lesson.docker)
# The file in which a lesson leaves its headline figures for `make course` (see save_summary).
SUMMARY_FILE = "summary.json"


# `make course`, `make test` and `make notebooks` run the lessons, and lesson 08 types
# `make aws-clean`: without these variables that make is a make of its own, not a sub-make
# (which would print "make[1]: Entering directory" lines into the lesson's output).
ENCLOSING_MAKE_VARIABLES = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")


def forget_enclosing_make() -> None:
    """Remove an enclosing make's variables from this process, so lesson kernels start clean."""
    for name in ENCLOSING_MAKE_VARIABLES:
        os.environ.pop(name, None)


def parameter_names(notebook: str | Path) -> set[str]:
    """The names `notebook` assigns in its cell tagged `parameters`, which must be one cell."""
    import nbformat

    cells = [cell for cell in nbformat.read(in_repo(notebook), as_version=4).cells
             if "parameters" in cell.metadata.get("tags", [])]  # fmt: skip
    if len(cells) != 1:
        raise ValueError(f"{Path(notebook).name} needs exactly one cell tagged parameters, "
                         f"not {len(cells)}")  # fmt: skip
    return set(re.findall(r"^(\w+)\s*=", cells[0].source, re.MULTILINE))


def lesson_notebooks() -> list[Path]:
    """All lesson notebooks, in course order (`serverless_dl.lessons.syllabus.LESSONS`)."""
    return [lesson.notebook for lesson in LESSONS]


def lesson_names() -> list[str]:
    """The lesson names in course order, e.g. `02-tensorflow-lite`."""
    return [lesson.name for lesson in LESSONS]


def run_parameters(out_dir: str | Path, short: bool = True) -> dict[str, dict]:
    """Parameters for each lesson that keep everything a run writes under `out_dir`.

    Lesson 00 trains its own copy of last week's model (short, or full when
    `short` is false) without replacing the committed one; the later lessons
    start from the committed model, as the real course starts from last week's.
    """
    out = Path(out_dir).resolve()
    models = out / "models"
    aws = out / "local-aws"
    return {
        "00-last-weeks-model": {
            "short_run": short,
            "keras_model": str(models / "clothing-model.keras"),
            "samples_dir": str(out / "images"),
        },
        "01-lambda-basics": {"work_dir": str(out / "01-lambda-basics")},
        "02-tensorflow-lite": {"models_dir": str(models)},
        "03-removing-tensorflow": {
            "models_dir": str(models),
            "work_dir": str(out / "03-removing-tensorflow"),
        },
        "04-lambda-code": {
            "models_dir": str(models),
            "export_path": str(out / "lambda_function.py"),
        },
        "05-hardening": {"models_dir": str(models), "export_path": str(out / "image_source.py")},
        "06-docker": {"work_dir": str(out / "06-docker")},
        # 07, 08, 10 and 11 share one local AWS account, as they would share one AWS account.
        "07-ecr-lambda": {"work_dir": str(out / "07-ecr-lambda"), "aws_local_dir": str(aws)},
        "08-api-gateway": {"work_dir": str(out / "08-api-gateway"), "aws_local_dir": str(aws)},
        "09-web-page": {"work_dir": str(out / "09-web-page")},
        "10-versions": {"work_dir": str(out / "10-versions"), "aws_local_dir": str(aws)},
        "11-composition": {"work_dir": str(out / "11-composition"), "aws_local_dir": str(aws)},
        "12-other-clouds": {"work_dir": str(out / "12-other-clouds")},
        "13-performance": {"work_dir": str(out / "13-performance")},
        "14-zip": {"zip_dir": str(out / "14-zip" / "zip"), "work_dir": str(out / "14-zip")},
    }


def save_summary(work_dir: str | Path, figures: dict[str, str | int | float]) -> Path:
    """Leave a lesson's headline figures in `<work_dir>/summary.json` for `make course`.

    `figures` maps a label ("pants.jpg through the container") to a short
    value; `make course` prints them, in order, after the lessons ran.
    """
    path = in_repo(work_dir) / SUMMARY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path


def read_summary(work_dir: str | Path) -> dict[str, str | int | float]:
    """The figures a lesson left in `work_dir` (none if it left none)."""
    path = in_repo(work_dir) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _papermill(name: str, output: Path, parameters: dict, **options) -> None:
    """Write lesson `name` with `parameters` injected to `output`; `options` go to papermill."""
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(output),
        parameters=parameters,
        kernel_name=KERNEL,
        progress_bar=False,
        **options,
    )


def execute(name: str, output: Path, parameters: dict) -> None:
    """Execute lesson `name` top to bottom in a fresh kernel with papermill.

    Raises papermill's `PapermillExecutionError` when a cell fails; the output
    notebook then shows where.
    """
    _papermill(
        name, output, parameters, cwd=str(NOTEBOOKS), execution_timeout=CELL_TIMEOUT_SECONDS
    )


def prepare(name: str, output: Path, parameters: dict) -> None:
    """Write a copy of lesson `name` with `parameters` injected, keeping its outputs.

    nbval then executes the copy and compares each cell with the committed outputs.
    """
    _papermill(name, output, parameters, prepare_only=True)


def refresh(name: str) -> None:
    """Re-execute lesson `name` in place with its default parameters.

    Uses nbclient directly rather than papermill so the committed notebook gets
    no injected cell and no run metadata, only fresh outputs.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    path = NOTEBOOKS / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    # A cell's output arrives in chunks that split lines at random (%%bash above all);
    # one stream per run of output reads better and quotes reliably in the written lessons.
    notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)


def main(argv: list[str] | None = None) -> int:
    """Re-execute lessons in place (`refresh`, `make notebooks`) or write CI copies (`prepare`)."""
    parser = argparse.ArgumentParser(description="Execute the lesson notebooks.")
    commands = parser.add_subparsers(dest="command", required=True)
    refresh_cmd = commands.add_parser("refresh", help="re-execute lessons in place")
    refresh_cmd.add_argument("names", nargs="*", help="lesson names (default: all)")
    prepare_cmd = commands.add_parser("prepare", help="inject CI parameters into copies")
    prepare_cmd.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)

    known = lesson_names()
    forget_enclosing_make()
    if args.command == "refresh":
        unknown = sorted(set(args.names) - set(known))
        if unknown:
            parser.error(f"unknown lesson(s): {', '.join(unknown)}; known: {', '.join(known)}")
        from serverless_dl.aws.local_account import (
            DEFAULT_FOLDER,
            accounts_started_inside,
            stop_account,
        )

        names = args.names or known
        if any(lesson(name).aws for name in names):
            # Committed outputs of the AWS lessons come from a fresh local account, as in CI.
            stop_account(DEFAULT_FOLDER)
        with accounts_started_inside():
            for name in names:
                print(f"executing {name} ...", flush=True)
                refresh(name)
    else:
        for name, parameters in run_parameters(args.out_dir / "run").items():
            prepare(name, args.out_dir / f"{name}.ipynb", parameters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
