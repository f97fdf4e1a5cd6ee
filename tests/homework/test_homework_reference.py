"""The reference solution does the homework for real and the grader gives it full marks.

tests/homework/homework_reference/solution.ipynb computes every answer on its own
(TensorFlow and Keras where the grader uses LiteRT, a real container for q7,
its own arithmetic for the bills and API Gateway's rules) and takes the
learner's path for q7: its handler is in cells tagged `export`, exported with
the course's command, and the record of its container run is committed with
the notebook.

- Without Docker: `make grade ANSWERS=tests/homework/homework_reference/solution.ipynb`
  prints full marks; the grader reads the committed record and runs the
  exported handler under the Lambda emulator.
- With Docker (mandatory in CI, skipped elsewhere without an engine): recording
  the run again, as `python -m serverless_dl.homework record-solution` does,
  gives the committed notebook byte for byte, and the fresh run grades full
  marks too. The first run builds the homework base image (pip inside Docker);
  later runs reuse Docker's cache.
"""

import os
import shutil
import subprocess
import sys

import pytest

from serverless_dl.base.paths import ROOT
from serverless_dl.containers import docker_engine
from serverless_dl.containers.lambda_base import image_name
from serverless_dl.homework.container_run import REFERENCE_SOLUTION, record_solution
from serverless_dl.homework.containers import BASE_TAG
from serverless_dl.homework.grading import RIGHT, format_grade, grade_file
from serverless_dl.homework.questions import MAX_POINTS, QUESTION_IDS

SHOWN = "tests/homework/homework_reference/solution.ipynb"
REFERENCE_IMAGE = "serverless-dl-homework-reference"


def test_make_grade_gives_the_committed_solution_full_marks_without_docker(grader_sandbox):
    # An engine address that answers nothing: grading must not need one.
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    run = subprocess.run(
        [sys.executable, "-m", "serverless_dl.homework", "grade", SHOWN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0 and run.stderr == "", run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[-1] == f"Total: {MAX_POINTS}/{MAX_POINTS}", run.stdout
    assert sum(f" {RIGHT} " in line for line in lines) == len(QUESTION_IDS), run.stdout
    assert "(your recorded container run)" in run.stdout


@pytest.fixture(scope="module")
def recorded_again(docker_engine, tmp_path_factory):
    copy = tmp_path_factory.mktemp("solution") / "solution.ipynb"
    shutil.copyfile(REFERENCE_SOLUTION, copy)
    record_solution(copy)
    return copy


@pytest.mark.docker
@pytest.mark.slow
def test_recording_the_solution_again_gives_the_committed_notebook(recorded_again):
    stale = "run `python -m serverless_dl.homework record-solution` and commit the notebook"
    assert recorded_again.read_text() == REFERENCE_SOLUTION.read_text(), stale


@pytest.mark.docker
@pytest.mark.slow
def test_the_fresh_run_scores_full_marks(recorded_again):
    grade = grade_file(recorded_again, time_limit=1800, name=SHOWN)
    report = format_grade(grade)
    assert grade.problem is None, report
    assert [result.status for result in grade.results.values()] == [RIGHT] * len(QUESTION_IDS)
    assert report.splitlines()[-1] == f"Total: {MAX_POINTS}/{MAX_POINTS}"


@pytest.mark.docker
@pytest.mark.slow
def test_the_solutions_function_runs_on_the_course_lambda_base_image(recorded_again):
    base_layers = docker_engine.image_info(image_name("3.11"))["RootFS"]["Layers"]
    for image in (BASE_TAG, REFERENCE_IMAGE):
        layers = docker_engine.image_info(image)["RootFS"]["Layers"]
        assert layers[: len(base_layers)] == base_layers, image
    config = docker_engine.image_info(REFERENCE_IMAGE)["Config"]
    assert config["Cmd"] == ["lambda_function.lambda_handler"]
    assert any(variable.startswith("MODEL_PATH=") for variable in config["Env"])
