"""The grader: scores, hints, every kind of bad submission, notebooks, the instructor's reports.

Correct answers here come from the grader's own computation (`homework_for`):
these tests check the grading, and tests/homework/test_homework_reference.py checks
the computation against an independent solution.
"""

import csv
import json
import os
import subprocess
import sys

import nbformat
import papermill
import pytest
import yaml

from serverless_dl.base.paths import HOMEWORK, ROOT
from serverless_dl.homework.__main__ import main
from serverless_dl.homework.grading import (
    INVALID,
    RIGHT,
    UNANSWERED,
    WRONG,
    format_grade,
    grade_file,
    grade_folder,
)
from serverless_dl.homework.options import LETTERS
from serverless_dl.homework.questions import MAX_POINTS, QUESTION_IDS, homework_for
from serverless_dl.homework.submissions import write_answers

SHORT_LIMIT = 20  # seconds; enough for a kernel to start and run a small notebook


def correct_letters(learner_id):
    return dict(homework_for(learner_id).correct)


def another_letter(letter):
    return LETTERS[(LETTERS.index(letter) + 1) % len(LETTERS)]


def write_yaml(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


def notebook(folder, name, *sources, parameters=True):
    """A small notebook: a parameters cell (answers_file) and the given code cells."""
    cells = []
    if parameters:
        cell = nbformat.v4.new_code_cell('answers_file = "answers.yaml"')
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    document = nbformat.v4.new_notebook(cells=cells)
    document.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    path = folder / name
    nbformat.write(document, path)
    return path


# --- Scores ---------------------------------------------------------------------------------


def test_correct_letters_score_full_marks(tmp_path):
    path = write_answers(tmp_path / "a.yaml", "alice", correct_letters("alice"))
    grade = grade_file(path)
    assert grade.total == MAX_POINTS and grade.problem is None
    assert all(result.status == RIGHT for result in grade.results.values())
    assert format_grade(grade).splitlines()[-1] == f"Total: {MAX_POINTS}/{MAX_POINTS}"


def test_computed_values_instead_of_letters_count_as_the_closest_option(tmp_path):
    homework = homework_for("carol")
    answers = {}
    for qid, question in homework.questions.items():
        index = LETTERS.index(homework.correct[qid])
        # A value a learner computes is not exactly the option as shown.
        answers[qid] = (
            question.options.values[index] + 1e-4 if question.numeric else homework.correct[qid]
        )
    answers["q2"] = str(
        homework.questions["q2"].options.values[LETTERS.index(homework.correct["q2"])]
    )
    answers["q7"] = homework.correct["q7"].lower()
    grade = grade_file(write_answers(tmp_path / "c.yaml", "Carol", answers))
    assert grade.total == MAX_POINTS, format_grade(grade)


def test_two_wrong_answers_lose_exactly_those_points(tmp_path):
    answers = correct_letters("bob")
    answers["q3"] = another_letter(answers["q3"])
    answers["q6"] = another_letter(answers["q6"])
    grade = grade_file(write_answers(tmp_path / "b.yaml", "bob", answers))
    assert grade.total == MAX_POINTS - 2
    wrong = {qid for qid, result in grade.results.items() if result.status == WRONG}
    assert wrong == {"q3", "q6"}
    report = format_grade(grade)
    for qid in wrong:
        line = next(line for line in report.splitlines() if line.strip().startswith(qid))
        assert "Hint: " in line and answers[qid] in line
    # A hint points at the method, never at the right letter.
    assert all(
        grade.results[qid].message == homework_for("bob").questions[qid].hint for qid in wrong
    )


def test_answers_copied_from_another_learner_lose_points(tmp_path):
    grade = grade_file(write_answers(tmp_path / "copy.yaml", "dave", correct_letters("alice")))
    assert grade.total < MAX_POINTS


def test_the_blank_answers_file_scores_zero_with_one_line():
    grade = grade_file(HOMEWORK / "answers.yaml")
    assert grade.total == 0 and "learner_id is missing" in grade.problem
    assert len(format_grade(grade).splitlines()) == 1


def test_an_answers_file_with_an_id_but_no_answers_scores_zero(tmp_path):
    grade = grade_file(write_answers(tmp_path / "e.yaml", "erin", {}))
    assert grade.total == 0
    assert {result.status for result in grade.results.values()} == {UNANSWERED}


# --- Bad submissions: each gets its one-line reason -----------------------------------------

WHOLE_FILE_PROBLEMS = {
    "malformed YAML": ("learner_id: alice\nanswers:\n  q1: [B\n", "not valid YAML"),
    "missing learner id": ("answers:\n  q1: B\n", "learner_id is missing"),
    "empty learner id": ("learner_id: ''\nanswers:\n  q1: B\n", "learner_id is missing"),
    "numeric learner id": (
        "learner_id: 12345\nanswers:\n",
        'put it in quotes: learner_id: "12345"',
    ),
    "bad learner id": ("learner_id: two words\nanswers:\n", "may only contain"),
    "learner id twice": ("learner_id: a\nlearner_id: b\nanswers:\n", "appears more than once"),
    "empty file": ("", "the file is empty"),
    "a list": ("- q1\n- B\n", "must be a mapping"),
    "no answers section": (
        "learner_id: alice\nanswer:\n  q1: B\n",
        "no 'answers' section (found 'answer'",
    ),
    "answers not a mapping": (
        "learner_id: alice\nanswers: [B, C]\n",
        "answers must map question ids",
    ),
    "python tag": ("learner_id: !!python/object:os.system x\nanswers:\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", WHOLE_FILE_PROBLEMS)
def test_an_unusable_file_scores_zero_with_a_one_line_reason(case, tmp_path):
    text, reason = WHOLE_FILE_PROBLEMS[case]
    grade = grade_file(write_yaml(tmp_path, "answers.yaml", text))
    assert grade.total == 0 and reason in grade.problem
    assert len(format_grade(grade).splitlines()) == 1


def test_a_missing_file_and_a_binary_file_score_zero(tmp_path):
    assert "does not exist" in grade_file(tmp_path / "nope.yaml").problem
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    assert "not a text file" in grade_file(binary).problem
    assert "not a file" in grade_file(tmp_path).problem


QUESTION_PROBLEMS = {
    "letter outside the options": ("E", "q1", "'E' is not an option; choose one of A-D"),
    "number far from every option": ("100000", "q1", "is not near any option"),
    "words": ("about sixty", "q1", "neither an option letter (A-D) nor a number"),
    "yes": ("yes", "q2", "yes/no value"),
    "a list": ("[1, 2]", "q3", "not a list"),
    "not a number": (".nan", "q4", "not a finite number"),
    "a number for q6": ("3", "q6", "q6 takes an option letter"),
    "text for q9": ("'403: refused'", "q9", "is not an option letter"),
}


@pytest.mark.parametrize("case", QUESTION_PROBLEMS)
def test_a_bad_answer_voids_only_its_question_with_a_reason(case, tmp_path):
    value, qid, reason = QUESTION_PROBLEMS[case]
    answers = correct_letters("alice")
    lines = [f"  {key}: {value if key == qid else letter}" for key, letter in answers.items()]
    grade = grade_file(
        write_yaml(tmp_path, "a.yaml", "learner_id: alice\nanswers:\n" + "\n".join(lines))
    )
    assert grade.results[qid].status == INVALID and reason in grade.results[qid].message
    assert grade.total == MAX_POINTS - 1
    line = next(line for line in format_grade(grade).splitlines() if line.strip().startswith(qid))
    assert reason in line


def test_unknown_and_repeated_question_ids_are_reported(tmp_path):
    answers = correct_letters("alice")
    lines = ["learner_id: alice", "answers:", *(f"  {k}: {v}" for k, v in answers.items())]
    lines += ["  q12: A", "  Q1: B", f"  q5: {answers['q5']}"]
    grade = grade_file(write_yaml(tmp_path, "a.yaml", "\n".join(lines) + "\n"))
    first, again = lines.index(f"  q5: {answers['q5']}") + 1, len(lines)
    assert grade.results["q5"].status == INVALID
    assert f"answered more than once (lines {first}, {again})" in grade.results["q5"].message
    assert any(
        "unknown question id 'q12' ignored (the questions are q1-q11)" in note
        for note in grade.notes
    )
    assert any("unknown question id 'Q1'" in note for note in grade.notes)
    assert grade.total == MAX_POINTS - 1
    assert "note: unknown question id 'q12'" in format_grade(grade)


# --- Notebooks ------------------------------------------------------------------------------


def test_a_notebook_that_raises_scores_zero_with_the_error(tmp_path, grader_sandbox):
    path = notebook(tmp_path, "raises.ipynb", "x = 1", "\n# q1\nx / 0")
    grade = grade_file(path, time_limit=SHORT_LIMIT)
    assert grade.total == 0
    expected = "the notebook raised ZeroDivisionError: division by zero in the cell starting `# q1`"
    assert grade.problem == expected


def test_a_notebook_that_writes_no_answers_or_is_no_notebook_is_refused(tmp_path, grader_sandbox):
    path = notebook(tmp_path, "silent.ipynb", "print('done')")
    assert "wrote no answers file" in grade_file(path, time_limit=SHORT_LIMIT).problem
    broken = write_yaml(tmp_path, "broken.ipynb", "{not json")
    assert "not a readable notebook" in grade_file(broken).problem


def test_the_blank_starter_notebook_scores_zero(grader_sandbox):
    grade = grade_file(HOMEWORK / "homework.ipynb", time_limit=120)
    assert grade.total == 0 and "learner_id is missing" in grade.problem


def test_the_starter_with_a_learner_id_runs_and_scores_zero(tmp_path):
    answers = tmp_path / "answers.yaml"
    papermill.execute_notebook(
        str(HOMEWORK / "homework.ipynb"),
        str(tmp_path / "run.ipynb"),
        parameters={"learner_id": "frank", "answers_file": str(answers)},
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    grade = grade_file(answers)
    assert grade.learner_id == "frank" and grade.total == 0
    assert {result.status for result in grade.results.values()} == {UNANSWERED}


# --- Command line and the instructor's reports ----------------------------------------------


def test_cli_grades_and_prints_one_line_per_question(tmp_path, capsys):
    path = write_answers(tmp_path / "a.yaml", "alice", correct_letters("alice"))
    assert main(["grade", str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + len(QUESTION_IDS) + 1
    assert lines[-1] == f"Total: {MAX_POINTS}/{MAX_POINTS}"


def test_cli_prints_a_learners_questions(capsys):
    assert main(["questions", "--learner-id", "alice"]) == 0
    out = capsys.readouterr().out
    assert all(f"{qid} · " in out for qid in QUESTION_IDS)


@pytest.mark.parametrize(
    "argv",
    [
        ["questions", "--learner-id", "two words"],
        ["grade-all", "no-such-folder"],
        ["grade", "x.yaml", "--time-limit", "soon"],
        ["mark"],
    ],
)
def test_cli_usage_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error:" in err


def test_cli_never_shows_a_traceback_for_a_bad_file(tmp_path):
    path = write_yaml(tmp_path, "bad.yaml", "learner_id: [\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run(
        [sys.executable, "-m", "serverless_dl.homework", "grade", str(path)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.count("\n") == 1 and "not valid YAML" in run.stdout


def test_grade_all_writes_a_csv_and_a_json_report(tmp_path, capsys, grader_sandbox):
    folder = tmp_path / "submissions"
    folder.mkdir()
    write_answers(folder / "alice.yaml", "alice", correct_letters("alice"))
    two_wrong = correct_letters("bob")
    two_wrong["q1"], two_wrong["q7"] = (
        another_letter(two_wrong["q1"]),
        another_letter(two_wrong["q7"]),
    )
    write_answers(folder / "bob.yml", "bob", two_wrong)
    write_answers(folder / "bob-again.yaml", "BOB", {})
    write_yaml(folder, "broken.yaml", "learner_id: [\n")
    notebook(folder, "raises.ipynb", "raise RuntimeError('not finished')")
    write_yaml(folder, "notes.txt", "not a submission")
    csv_path, json_path = tmp_path / "grades.csv", tmp_path / "grades.json"
    argv = ["grade-all", str(folder), "--csv", str(csv_path), "--json", str(json_path)]
    assert main([*argv, "--time-limit", str(SHORT_LIMIT)]) == 0
    out = capsys.readouterr().out
    assert "skipped notes.txt" in out and "5 submissions graded" in out

    rows = {row["submission"]: row for row in csv.DictReader(csv_path.open())}
    assert set(rows) == {"alice.yaml", "bob.yml", "bob-again.yaml", "broken.yaml", "raises.ipynb"}
    assert rows["alice.yaml"]["total"] == str(MAX_POINTS)
    assert rows["bob.yml"]["total"] == str(MAX_POINTS - 2)
    assert rows["bob.yml"]["q1"] == rows["bob.yml"]["q7"] == "0"
    assert rows["bob.yml"]["q2"] == "1"
    assert "same learner id is used by bob-again.yaml" in rows["bob.yml"]["problem"]
    assert (
        rows["broken.yaml"]["learner_id"] == ""
        and "not valid YAML" in rows["broken.yaml"]["problem"]
    )
    assert "raised RuntimeError: not finished" in rows["raises.ipynb"]["problem"]

    report = json.loads(json_path.read_text())
    assert report["questions"] == list(QUESTION_IDS) and report["max_points"] == MAX_POINTS
    bob = next(entry for entry in report["submissions"] if entry["submission"] == "bob.yml")
    assert bob["questions"]["q1"]["status"] == WRONG and bob["questions"]["q1"]["message"]
    assert bob["questions"]["q2"]["status"] == RIGHT


def test_grade_folder_is_usable_from_python(tmp_path):
    write_answers(tmp_path / "gina.yaml", "gina", correct_letters("gina"))
    (grade,) = grade_folder(tmp_path)
    assert grade.total == MAX_POINTS


def test_write_answers_accepts_numpy_numbers(tmp_path):
    import numpy as np

    path = write_answers(tmp_path / "n.yaml", "nina", {"q1": np.float32(64.5), "q2": np.int64(21)})
    document = yaml.safe_load(path.read_text())
    assert document["answers"]["q2"] == 21 and isinstance(document["answers"]["q1"], float)
