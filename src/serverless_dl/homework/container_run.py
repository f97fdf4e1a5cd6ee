"""The container question (q7): the run a learner records, and what the grader checks of it.

A learner builds and runs their function image on their own machine, with
Docker. The q7 cells of the notebook then show a *record* of that run (the
learner, the image asked about, the score the container returned) as a JSON
output, and the record is saved with the notebook. The grader runs
submissions where there may be no Docker engine at all (a sandbox, a CI
job), so it never builds an image. For a notebook it instead:

- reads the record from the notebook as submitted (`recorded_container_run`):
  it must be this learner's, for their q7 image;
- exports the notebook's cells tagged `export` with the course's export
  command and serves that handler, with the course's `image_source.py` and
  the model, under the real Lambda Runtime Interface Emulator from the
  TensorFlow-free classic environment (`check_handler`): it must answer the
  same option as the record.

What the grader cannot verify: that the image was built from
`homework/Dockerfile`, on the Lambda base image, and that the recorded score
came from it. It takes the notebook's word for that.

The reference solution records its run the same way; `record_solution`
(`python -m serverless_dl.homework record-solution`) runs it with Docker and
keeps only that record in the committed notebook.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base.paths import TESTS
from serverless_dl.function.envs import EnvironmentMissing, lambda_python
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.function.rie import EmulatorError, Invocation, LambdaEmulator
from serverless_dl.homework.containers import (
    HANDLER_NAME,
    LOCAL_TEST_ENV,
    MODEL_NAME,
    prepare_function_folder,
)
from serverless_dl.homework.reference import ReferencePipeline

RECORD_KEY = "homework_container_run"
HANDLER = "lambda_function.lambda_handler"
CHECK_TIMEOUT_SECONDS = 30  # the function's timeout under the emulator: a cold start included
CHECKED = "under the Lambda emulator your exported handler"
REFERENCE_SOLUTION = TESTS / "homework" / "homework_reference" / "solution.ipynb"
RECORD_SECONDS = 1800  # a first run builds the base image: pip inside Docker


class CheckUnavailable(RuntimeError):
    """The handler cannot be run here (no Lambda environment or emulator); one line says why."""


def _score(document) -> float | None:
    """The finite number under "score" in a function's answer, or None."""
    score = document.get("score") if isinstance(document, dict) else None
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        return None
    return float(score)


def container_record(learner_id: str, image: str, reply: Invocation) -> dict:
    """What the grader needs to know of one container run: whose, which image, which score."""
    try:
        score = _score(reply.json())
    except ValueError:
        score = None
    if reply.status != 200 or score is None:
        raise ValueError(f"your function answered HTTP {reply.status}: {reply.text[:200]}")
    return {"learner_id": learner_id.strip().lower(), "image": image, "score": score}


def record_container_run(learner_id: str, image: str, reply: Invocation) -> float | None:
    """Show the record of a container run, which the notebook keeps; return its score.

    When the function did not answer with a score, say what it answered instead and
    return None: nothing is recorded.
    """
    from IPython.display import display

    try:
        record = container_record(learner_id, image, reply)
    except ValueError as error:
        print(f"Not recorded: {error}")
        return None
    text = f"Recorded for the grader: {json.dumps(record)}"
    display({"application/json": {RECORD_KEY: record}, "text/plain": text}, raw=True)
    return record["score"]


def _record_of(output) -> dict | None:
    """The record in one saved output, or None; a hand-edited notebook may hold anything."""
    data = output.get("data") if isinstance(output, dict) else None
    document = data.get("application/json") if isinstance(data, dict) else None
    if isinstance(document, dict) and isinstance(document.get(RECORD_KEY), dict):
        return document[RECORD_KEY]
    return None


def recorded_container_run(notebook: dict) -> dict | None:
    """The last container run recorded in a notebook's saved outputs, or None."""
    found = None
    for cell in notebook.get("cells") or []:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for output in outputs if isinstance(outputs, list) else []:
            found = _record_of(output) or found
    return found


def record_solution(path: str | Path = REFERENCE_SOLUTION) -> dict:
    """Run a solution notebook with Docker; keep only its container record in `path`.

    Every other output is dropped, so the file changes only when the record does.
    Raises `ValueError` when the run records nothing.
    """
    import nbformat
    import papermill

    from serverless_dl.containers import docker_engine

    path = Path(path)
    docker_engine.ensure_engine()
    with tempfile.TemporaryDirectory(prefix="homework-solution-") as folder:
        executed = papermill.execute_notebook(
            str(path),
            str(Path(folder) / "executed.ipynb"),
            parameters={"run_container": True},
            kernel_name="python3",
            cwd=folder,
            progress_bar=False,
            execution_timeout=RECORD_SECONDS,
        )
    records = {
        cell["id"]: [output for output in cell["outputs"] if _record_of(output)]
        for cell in executed["cells"]
        if cell["cell_type"] == "code"
    }
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = records.get(cell.id, []), None
    record = recorded_container_run(notebook)
    if record is None:
        raise ValueError(f"{path.name} ran but recorded no container run")
    nbformat.write(notebook, path)
    return record


def record_problem(record: dict | None, learner_id: str, image: str) -> str | None:
    """Why a record cannot stand for this learner's q7 answer; None when it can."""
    if record is None:
        return (
            "no container run is recorded in the notebook: run the q7 cells with "
            "run_container = True on a machine with Docker, then save the notebook"
        )
    if _score(record) is None:
        return "the recorded container run has no score"
    if record.get("learner_id") != learner_id:
        return f"the recorded container run is learner {record.get('learner_id')!r}'s, not yours"
    if record.get("image") != image:
        return f"the recorded container run asked about {record.get('image')}, not {image}"
    return None


@dataclass(frozen=True)
class HandlerCheck:
    """The handler's score under the emulator, or why there is none (`problem`, one line)."""

    score: float | None = None
    problem: str | None = None


def _answer_problem(reply: Invocation) -> tuple[float | None, str | None]:
    try:
        answer = reply.json()
    except ValueError:
        return None, f"answered HTTP {reply.status} with something that is not JSON"
    if isinstance(answer, dict) and "errorType" in answer:  # awslambdaric: the handler raised
        return None, f"raised {answer['errorType']}: {str(answer.get('errorMessage'))[:120]}"
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        return None, f"answered {error.get('status')}: {str(error.get('message'))[:120]}"
    score = _score(answer)
    if score is None:
        return None, f"answered without a numeric 'score': {json.dumps(answer)[:120]}"
    return score, None


def check_handler_source(source: str, image: str, pipeline: ReferencePipeline) -> HandlerCheck:
    """Serve the handler `source` under the RIE, with the model, and ask it about `image`.

    Raises `CheckUnavailable` when this machine cannot run the emulator.
    """
    with tempfile.TemporaryDirectory(prefix="homework-handler-") as folder:
        handler = Path(folder) / "exported" / HANDLER_NAME
        handler.parent.mkdir()
        handler.write_text(source)
        task_root = prepare_function_folder(handler, Path(folder) / "task")
        shutil.copyfile(pipeline.tflite, task_root / MODEL_NAME)
        environment = {"MODEL_PATH": str(task_root / MODEL_NAME), **LOCAL_TEST_ENV}
        try:
            python = lambda_python("classic")
            with (
                serve_directory(pipeline.pool_dir) as images_url,
                LambdaEmulator(
                    HANDLER,
                    task_root,
                    python,
                    environment=environment,
                    timeout=CHECK_TIMEOUT_SECONDS,
                ) as function,
            ):
                reply = function.invoke({"url": f"{images_url}/{image}"}, timeout=60)
        except (EnvironmentMissing, EmulatorError) as error:
            raise CheckUnavailable(str(error).splitlines()[0]) from None
        except OSError as error:  # the emulator stopped answering: the handler hung or crashed it
            return HandlerCheck(problem=f"{CHECKED} did not answer ({type(error).__name__})")
    score, problem = _answer_problem(reply)
    return HandlerCheck(score=score, problem=problem and f"{CHECKED} {problem}")


def check_handler(notebook: str | Path, image: str, pipeline: ReferencePipeline) -> HandlerCheck:
    """Export the handler of a notebook submission and check it with `check_handler_source`."""
    from serverless_dl.lessons.export import exported_source  # nbconvert: only graders of notebooks

    try:
        source = exported_source(notebook)
    except ValueError:
        return HandlerCheck(problem="the notebook has no cells tagged export: no handler to check")
    return check_handler_source(source, image, pipeline)
