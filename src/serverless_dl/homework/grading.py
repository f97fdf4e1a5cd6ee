"""Grade homework submissions against answers computed for each learner.

There is no answer key in the repository: for each submission the grader
computes the learner's questions and their correct options with the
TensorFlow-free reference pipeline (`homework_for`), then compares. A learner
gets, per question, right or wrong with a one-line hint that points at the
method, never at the answer; an instructor grades a folder into a CSV file
and a JSON report.

The container question (q7) of a notebook takes its value from the run the
learner recorded, and scores only if the handler exported from the notebook,
served by the Lambda emulator without Docker, lands on the same option
(`container_run`). An answers file has no handler to check: its value counts
alone.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from serverless_dl.homework.container_run import CheckUnavailable, check_handler, record_problem
from serverless_dl.homework.in_sandbox import handler_check_in_sandbox
from serverless_dl.homework.options import OptionError
from serverless_dl.homework.questions import (
    CONTAINER_QUESTION,
    MAX_POINTS,
    POINTS,
    QUESTION_IDS,
    Question,
    homework_for,
)
from serverless_dl.homework.reference import ReferencePipeline, reference_pipeline
from serverless_dl.homework.submissions import (
    ANSWERS_FILE_SUFFIXES,
    DEFAULT_TIME_LIMIT,
    NOTEBOOK_SUFFIX,
    Answers,
    SubmissionError,
    choice_letter,
    read_submission,
)

RIGHT, WRONG, UNANSWERED, INVALID = "right", "wrong", "not answered", "invalid"


@dataclass
class QuestionResult:
    """How one answer scored; `message` is the hint (wrong) or the reason (invalid)."""

    question_id: str
    topic: str
    status: str
    points: int
    chosen: str | None = None  # the option letter the answer stands for
    answer: str | None = None  # the answer as written, when it was a value, not a letter
    message: str = ""


@dataclass
class Grade:
    """The grade of one submission. `problem` is set when it could not be graded at all."""

    submission: str
    learner_id: str | None = None
    results: dict[str, QuestionResult] = field(default_factory=dict)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Points scored."""
        return sum(result.points for result in self.results.values())

    @property
    def max_points(self) -> int:
        """Points available."""
        return MAX_POINTS


def grade_answers(
    answers: Answers, submission: str, pipeline: ReferencePipeline | None = None
) -> Grade:
    """Compare a learner's answers with the correct options of their own questions."""
    pipeline = pipeline or reference_pipeline()
    homework = homework_for(answers.learner_id, pipeline)
    grade = Grade(submission, answers.learner_id, notes=list(answers.notes))
    for qid, question in homework.questions.items():
        topic, raw = question.topic, answers.answers.get(qid)
        if qid in answers.problems:
            grade.results[qid] = QuestionResult(
                qid, topic, INVALID, 0, message=answers.problems[qid]
            )
            continue
        recorded = qid == CONTAINER_QUESTION and answers.notebook is not None and raw is None
        if recorded:
            raw, problem = _recorded_score(answers, question)
            if problem:
                status = UNANSWERED if answers.recorded_run is None else INVALID
                grade.results[qid] = QuestionResult(qid, topic, status, 0, message=problem)
                continue
        try:
            letter = choice_letter(question, raw)
        except OptionError as error:
            grade.results[qid] = QuestionResult(qid, topic, INVALID, 0, message=str(error))
            continue
        written = None if letter is None or str(raw).strip().upper() == letter else str(raw)
        if recorded:
            written = f"{written} (your recorded container run)"
        if letter is None:
            grade.results[qid] = QuestionResult(qid, topic, UNANSWERED, 0)
        elif letter != homework.correct[qid]:
            result = QuestionResult(qid, topic, WRONG, 0, letter, written, question.hint)
            grade.results[qid] = result
        elif problem := _handler_problem(answers, question, letter, pipeline, grade.notes):
            grade.results[qid] = QuestionResult(qid, topic, INVALID, 0, letter, written, problem)
        else:
            grade.results[qid] = QuestionResult(qid, topic, RIGHT, POINTS[qid], letter, written)
    return grade


def _recorded_score(answers: Answers, question: Question) -> tuple[float | None, str | None]:
    """The container question's value from the run a notebook recorded, or why it has none."""
    problem = record_problem(answers.recorded_run, answers.learner_id, question.details["image"])
    return (None, problem) if problem else (answers.recorded_run["score"], None)


def _handler_problem(
    answers: Answers, question: Question, letter: str, pipeline: ReferencePipeline, notes: list
) -> str | None:
    """Why a right container answer of a notebook does not count: its handler disagrees."""
    if question.id != CONTAINER_QUESTION or answers.notebook is None:
        return None
    image = question.details["image"]
    run_check = handler_check_in_sandbox if answers.sandboxed else check_handler
    try:
        check = run_check(answers.notebook, image, pipeline)
    except CheckUnavailable as error:
        notes.append(f"{question.id}: your exported handler could not be checked here ({error})")
        return None
    if check.problem:
        return check.problem
    try:
        agrees = question.options.closest_letter(check.score) == letter
    except OptionError:
        agrees = False
    if agrees:
        return None
    return (
        f"under the Lambda emulator your exported handler answers {check.score:.4f} for "
        f"{image}, another option than your recorded container run"
    )


def grade_file(
    path: str | Path,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    pipeline: ReferencePipeline | None = None,
    name: str | None = None,
    sandboxed: bool = True,
) -> Grade:
    """Grade one answers file or notebook; a learner's mistake never raises, it scores zero.

    A notebook runs in the grader's sandbox unless `sandboxed` is False.
    """
    submission = name or str(path)
    try:
        answers = read_submission(path, time_limit, sandboxed=sandboxed)
    except SubmissionError as error:
        return Grade(submission, problem=str(error))
    return grade_answers(answers, submission, pipeline)


def format_grade(grade: Grade) -> str:
    """The grade as a learner reads it: one line per question, then the total."""
    if grade.problem:
        return f"{grade.submission}: {grade.total}/{grade.max_points} · {grade.problem}"
    lines = [f"Grading {grade.submission} for learner {grade.learner_id!r}"]
    width = max(len(status) for status in (RIGHT, WRONG, UNANSWERED, INVALID))
    id_width = max(len(qid) for qid in QUESTION_IDS)
    for qid, result in grade.results.items():
        line = f"  {qid:<{id_width}}  {result.status:<{width}}  {result.topic}"
        if result.chosen:
            line += (
                f": {result.answer} -> {result.chosen}" if result.answer else f": {result.chosen}"
            )
        if result.status == WRONG:
            line += f". Hint: {result.message}"
        elif result.message:  # why it is invalid, or why there is no answer
            line += f": {result.message}"
        lines.append(line)
    lines += [f"  note: {note}" for note in grade.notes]
    lines.append(f"Total: {grade.total}/{grade.max_points}")
    return "\n".join(lines)


def submission_files(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """The submissions in `folder` (answers files and notebooks), and the files left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder} is not a folder")
    wanted = (*ANSWERS_FILE_SUFFIXES, NOTEBOOK_SUFFIX)
    files = sorted(path for path in folder.iterdir() if path.is_file())
    taken = [path for path in files if path.suffix.lower() in wanted]
    return taken, [path for path in files if path not in taken and not path.name.startswith(".")]


def grade_folder(
    folder: str | Path,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    pipeline: ReferencePipeline | None = None,
    sandboxed: bool = True,
) -> list[Grade]:
    """Grade every submission in `folder`; flag learner ids used by more than one file."""
    files, _ = submission_files(folder)
    grades = [
        grade_file(
            path, time_limit=time_limit, pipeline=pipeline, name=path.name, sandboxed=sandboxed
        )
        for path in files
    ]
    counts = Counter(grade.learner_id for grade in grades if grade.learner_id)
    for grade in grades:
        if grade.learner_id and counts[grade.learner_id] > 1:
            others = [
                g.submission for g in grades if g.learner_id == grade.learner_id and g is not grade
            ]
            grade.notes.append(f"the same learner id is used by {', '.join(others)}")
    return grades


def csv_rows(grades: list[Grade]) -> list[dict[str, object]]:
    """One row per submission: file, learner id, points per question, total, problem."""
    rows = []
    for grade in grades:
        row: dict[str, object] = {
            "submission": grade.submission,
            "learner_id": grade.learner_id or "",
        }
        for qid in QUESTION_IDS:
            result = grade.results.get(qid)
            row[qid] = result.points if result else 0
        row["total"] = grade.total
        row["max_points"] = grade.max_points
        row["problem"] = "; ".join(([grade.problem] if grade.problem else []) + grade.notes)
        rows.append(row)
    return rows


def write_csv(grades: list[Grade], path: str | Path) -> Path:
    """Write the instructor's CSV file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = csv_rows(grades)
    fields = ["submission", "learner_id", *QUESTION_IDS, "total", "max_points", "problem"]
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def json_report(grades: list[Grade]) -> dict:
    """The instructor's report: every submission with the status of each question."""
    return {
        "questions": list(QUESTION_IDS),
        "max_points": MAX_POINTS,
        "submissions": [
            {
                "submission": grade.submission,
                "learner_id": grade.learner_id,
                "total": grade.total,
                "max_points": grade.max_points,
                "problem": grade.problem,
                "notes": grade.notes,
                "questions": {qid: asdict(result) for qid, result in grade.results.items()},
            }
            for grade in grades
        ],
    }


def write_json(grades: list[Grade], path: str | Path) -> Path:
    """Write the instructor's JSON report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_report(grades), indent=2) + "\n")
    return path
