"""The reference solution does the homework for real and the grader gives it full marks.

tests/homework_reference/solution.ipynb computes every answer on its own
(TensorFlow and Keras where the grader uses LiteRT, a real container built
FROM the homework base image for q6 and q7) and writes an answers file. The
grader runs it exactly as `make grade ANSWERS=tests/homework_reference/solution.ipynb`
does. Needs Docker: mandatory in CI, skipped elsewhere without an engine.
The first run builds the homework base image (pip inside Docker); later runs
reuse Docker's cache and take about half a minute.
"""

import pytest

from serverless_dl import docker_engine
from serverless_dl.homework.containers import BASE_TAG
from serverless_dl.homework.grading import RIGHT, format_grade, grade_file
from serverless_dl.homework.questions import MAX_POINTS, QUESTION_IDS
from serverless_dl.lambda_base import image_name
from serverless_dl.paths import TESTS

SOLUTION = TESTS / "homework_reference" / "solution.ipynb"


@pytest.fixture(scope="module")
def graded_solution(docker_engine):
    return grade_file(SOLUTION, time_limit=1800, name="tests/homework_reference/solution.ipynb")


@pytest.mark.docker
@pytest.mark.slow
def test_the_reference_solution_scores_full_marks(graded_solution):
    report = format_grade(graded_solution)
    assert graded_solution.problem is None, report
    assert [result.status for result in graded_solution.results.values()] == [RIGHT] * len(
        QUESTION_IDS
    ), report
    assert report.splitlines()[-1] == f"Total: {MAX_POINTS}/{MAX_POINTS}"


@pytest.mark.docker
@pytest.mark.slow
def test_the_solutions_function_runs_on_the_course_lambda_base_image(graded_solution):
    base_layers = docker_engine.image_info(image_name("3.11"))["RootFS"]["Layers"]
    for image in (BASE_TAG, "serverless-dl-homework-reference"):
        layers = docker_engine.image_info(image)["RootFS"]["Layers"]
        assert layers[: len(base_layers)] == base_layers, image
    config = docker_engine.image_info("serverless-dl-homework-reference")["Config"]
    assert config["Cmd"] == ["lambda_function.lambda_handler"]
    assert any(variable.startswith("MODEL_PATH=") for variable in config["Env"])
