"""The container question's scaffold, the recorded run, and the grader's check without Docker.

The handler checks serve an exported handler under the real Runtime Interface
Emulator from the classic Lambda environment (no Docker) and take a few
seconds each.
"""

import subprocess
import sys

import nbformat
import pytest

from serverless_dl.base.paths import HOMEWORK, TESTS
from serverless_dl.function.envs import aws_tool
from serverless_dl.homework.container_run import (
    RECORD_KEY,
    check_handler,
    check_handler_source,
    record_problem,
    recorded_container_run,
)
from serverless_dl.homework.containers import BASE_TAG, HOMEWORK_HANDLER, prepare_function_folder
from serverless_dl.homework.grading import INVALID, RIGHT, UNANSWERED, format_grade, grade_answers
from serverless_dl.homework.options import LETTERS
from serverless_dl.homework.questions import CONTAINER_QUESTION, homework_for
from serverless_dl.homework.reference import reference_pipeline
from serverless_dl.homework.submissions import Answers
from serverless_dl.lessons.export import exported_source

STARTER = HOMEWORK / "homework.ipynb"
SOLUTION = TESTS / "homework" / "homework_reference" / "solution.ipynb"
LEARNER = "carol"


@pytest.fixture(scope="module")
def pipeline():
    return reference_pipeline()


@pytest.fixture(scope="module")
def carol(pipeline):
    return homework_for(LEARNER, pipeline)


def record_output(record):
    """A notebook output as `record_container_run` leaves it."""
    return nbformat.v4.new_output(
        "display_data", data={"application/json": {RECORD_KEY: record}, "text/plain": "..."}
    )


def submission(folder, handler_from=SOLUTION, record=None, edit=None):
    """A notebook whose `export` cells come from `handler_from`, with a recorded run."""
    source = nbformat.read(handler_from, as_version=4)
    cells = [cell for cell in source.cells if "export" in cell.metadata.get("tags", [])]
    for cell in cells:
        cell.outputs = []
        if edit:
            cell.source = edit(cell.source)
    run = nbformat.v4.new_code_cell("# the container run")
    run.outputs = [record_output(record)] if record else []
    path = folder / "submission.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[*cells, run]), path)
    return path


def answers_of(path, carol, **changes):
    """What reading the notebook gives: the other answers right, q7 left to the record."""
    answers = {qid: letter for qid, letter in carol.correct.items() if qid != CONTAINER_QUESTION}
    notebook = nbformat.read(path, as_version=4)
    return Answers(
        path, LEARNER, answers, notebook=path, recorded_run=recorded_container_run(notebook)
    )


def right_record(carol, pipeline):
    image = carol.questions[CONTAINER_QUESTION].details["image"]
    return {"learner_id": LEARNER, "image": image, "score": pipeline.predict(image)}


# --- The scaffold ---------------------------------------------------------------------------


def test_the_committed_skeleton_is_the_starters_export():
    stale = "homework/lambda_function.py is stale: run `make export-homework`"
    assert HOMEWORK_HANDLER.read_text() == exported_source(STARTER), stale


@pytest.mark.parametrize("notebook", [STARTER, SOLUTION], ids=["skeleton", "solution"])
def test_the_exported_handlers_are_plain_python_that_passes_ruff(notebook, tmp_path):
    script = tmp_path / "lambda_function.py"
    script.write_text(exported_source(notebook))
    source = script.read_text()
    assert "get_ipython" not in source and "def lambda_handler(event, context):" in source
    compile(source, script.name, "exec")
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", str(script)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_the_skeletons_todos_are_the_model_part_only():
    source = HOMEWORK_HANDLER.read_text()
    todos = [line.strip() for line in source.splitlines() if "TODO" in line]
    assert len(todos) >= 4
    assert "from image_source import" in source  # the guards are given, not a TODO


def test_the_dockerfile_template_leaves_its_three_lines_to_the_learner():
    lines = (HOMEWORK / "Dockerfile").read_text().splitlines()
    assert not [line for line in lines if line.strip() and not line.startswith("#")]
    assert [line.split(":")[0] for line in lines if "TODO" in line] == [
        "# TODO 1", "# TODO 2", "# TODO 3"
    ]  # fmt: skip
    reference = (TESTS / "homework" / "homework_reference" / "Dockerfile").read_text().splitlines()
    instructions = [line.split()[0] for line in reference if line and not line.startswith("#")]
    assert instructions == ["FROM", "COPY", "CMD"]
    assert f"FROM {BASE_TAG}" in reference


@pytest.mark.parametrize(
    "dockerfile",
    [HOMEWORK / "Dockerfile.base", TESTS / "homework" / "homework_reference" / "Dockerfile"],
    ids=["base", "solution"],
)
def test_the_homework_dockerfiles_pass_hadolint(dockerfile):
    lint = subprocess.run(
        [str(aws_tool("hadolint")), "--no-color", str(dockerfile)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_function_folder_needs_an_export_first(tmp_path):
    with pytest.raises(FileNotFoundError, match="make export-homework"):
        prepare_function_folder(tmp_path / "lambda_function.py", tmp_path / "function")


# --- The record -----------------------------------------------------------------------------


def test_the_last_record_in_a_notebook_counts():
    first = {"learner_id": "a", "image": "swatch-01.jpg", "score": 0.1}
    last = {**first, "score": 0.2}
    cells = [nbformat.v4.new_code_cell("run"), nbformat.v4.new_markdown_cell("prose")]
    cells[0].outputs = [record_output(first), nbformat.v4.new_output("stream", text="x")]
    again = nbformat.v4.new_code_cell("run again")
    again.outputs = [record_output(last)]
    assert recorded_container_run(nbformat.v4.new_notebook(cells=[*cells, again])) == last
    assert recorded_container_run(nbformat.v4.new_notebook(cells=cells[1:])) is None
    # Hand-edited outputs of any shape are no record, never an error.
    odd = {"cells": [{"outputs": ["text", {"data": "x"}, {"data": {"application/json": 1}}]}]}
    assert recorded_container_run(odd) is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (None, "no container run is recorded"),
        ({"learner_id": "dave", "image": "swatch-01.jpg", "score": 0.5}, "learner 'dave'"),
        ({"learner_id": LEARNER, "image": "swatch-99.jpg", "score": 0.5}, "swatch-99.jpg"),
        ({"learner_id": LEARNER, "image": "swatch-01.jpg", "score": "high"}, "no score"),
    ],
)
def test_a_record_that_is_not_this_learners_run_is_refused(record, reason):
    assert reason in record_problem(record, LEARNER, "swatch-01.jpg")


def test_a_matching_record_stands():
    record = {"learner_id": LEARNER, "image": "swatch-01.jpg", "score": 0.5}
    assert record_problem(record, LEARNER, "swatch-01.jpg") is None


# --- The grader's check, under the emulator, without Docker ---------------------------------


def test_the_solutions_handler_answers_the_right_option_under_the_emulator(pipeline, carol):
    question = carol.questions[CONTAINER_QUESTION]
    check = check_handler(SOLUTION, question.details["image"], pipeline)
    assert check.problem is None
    assert question.options.closest_letter(check.score) == carol.correct[CONTAINER_QUESTION]


def test_the_blank_skeleton_fails_the_check_with_one_line(pipeline):
    check = check_handler_source(HOMEWORK_HANDLER.read_text(), "swatch-01.jpg", pipeline)
    assert check.score is None
    assert check.problem == (
        "under the Lambda emulator your exported handler answered 500: internal error"
    )


def test_a_notebook_without_a_record_leaves_q7_unanswered_with_the_reason(tmp_path, carol):
    grade = grade_answers(answers_of(submission(tmp_path), carol), "n.ipynb")
    result = grade.results[CONTAINER_QUESTION]
    assert result.status == UNANSWERED and "run_container = True" in result.message
    assert grade.total == grade.max_points - 1
    assert "no container run is recorded" in format_grade(grade)


def test_another_learners_record_voids_q7(tmp_path, carol, pipeline):
    record = {**right_record(carol, pipeline), "learner_id": "dave"}
    grade = grade_answers(answers_of(submission(tmp_path, record=record), carol), "n.ipynb")
    result = grade.results[CONTAINER_QUESTION]
    assert result.status == INVALID and "learner 'dave'" in result.message


def test_a_right_record_with_a_handler_that_disagrees_scores_nothing(
    tmp_path, carol, pipeline, grader_sandbox
):
    def no_scaling(source):  # the lesson model's mistake: pixels left at 0..255
        return source.replace(" / 255.0)[np.newaxis]", ")[np.newaxis]")

    path = submission(tmp_path, record=right_record(carol, pipeline), edit=no_scaling)
    grade = grade_answers(answers_of(path, carol), "n.ipynb")
    result = grade.results[CONTAINER_QUESTION]
    assert result.status == INVALID, format_grade(grade)
    assert "another option than your recorded container run" in result.message
    assert result.chosen == carol.correct[CONTAINER_QUESTION]


def test_a_right_record_with_the_skeleton_scores_nothing(tmp_path, carol, pipeline, grader_sandbox):
    path = submission(tmp_path, handler_from=STARTER, record=right_record(carol, pipeline))
    result = grade_answers(answers_of(path, carol), "n.ipynb").results[CONTAINER_QUESTION]
    assert result.status == INVALID and "answered 500: internal error" in result.message


def test_a_right_record_with_a_right_handler_scores(tmp_path, carol, pipeline, grader_sandbox):
    path = submission(tmp_path, record=right_record(carol, pipeline))
    grade = grade_answers(answers_of(path, carol), "n.ipynb")
    assert grade.results[CONTAINER_QUESTION].status == RIGHT, format_grade(grade)
    assert grade.total == grade.max_points
    assert "(your recorded container run)" in format_grade(grade)


def test_an_answers_file_value_counts_alone(carol):
    question = carol.questions[CONTAINER_QUESTION]
    value = question.options.values[LETTERS.index(carol.correct[CONTAINER_QUESTION])]
    answers = Answers(HOMEWORK / "answers.yaml", LEARNER, {CONTAINER_QUESTION: value})
    result = grade_answers(answers, "a.yaml").results[CONTAINER_QUESTION]
    assert result.status == RIGHT
