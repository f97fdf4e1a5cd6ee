"""Reading a submission: an answers file (YAML), or a notebook that writes one.

An answers file looks like this::

    learner_id: alice
    answers:
      q1: C        # the letter of an option, A-D ...
      q2: 21       # ... or, for a question with numbers as options, the value you computed
      q6: A        # q6 and q9 take a letter only

Everything a learner can get wrong raises `SubmissionError` (the file is
unusable) or is recorded as a problem of one question, always with a one-line
message: nothing here lets a traceback reach the learner.

A notebook (the starter, filled in) is executed in the grader's sandbox
(`sandbox`: no network, no view of the grader's files, limits), in a fresh
kernel in a temporary folder, with papermill injecting `answers_file` and
`run_container = False`: the grader never builds or runs a container, so it
needs no Docker engine. The container question's answer is the run the
learner recorded in the notebook they submitted (`container_run`). A time
limit covers the whole run, and a notebook that raises, hangs or writes no
answers gets a one-line reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from serverless_dl.homework.container_run import recorded_container_run
from serverless_dl.homework.options import LETTERS, OptionError
from serverless_dl.homework.questions import (
    QUESTION_IDS,
    LearnerIdError,
    Question,
    normalise_learner_id,
)
from serverless_dl.homework.reference import quiet_stderr

ANSWERS_FILE_SUFFIXES = (".yaml", ".yml")
NOTEBOOK_SUFFIX = ".ipynb"
MAX_FILE_BYTES = 1_000_000
DEFAULT_TIME_LIMIT = 900  # seconds for a whole notebook: a TensorFlow conversion on a slow machine
MAX_OUTPUT_BYTES = 16 * 2**20  # what a notebook may print in all; the homework prints ~100 kB
TOP_LEVEL_KEYS = ("learner_id", "answers")
KERNEL = "python3"
_ONE_LETTER = re.compile(r"[A-Za-z]")


class SubmissionError(Exception):
    """A submission that cannot be graded at all; `str()` is the one-line reason."""


@dataclass
class Answers:
    """What a submission says: the learner and the raw answer of each question."""

    source: Path
    learner_id: str
    answers: dict[str, object]
    problems: dict[str, str] = field(default_factory=dict)  # question id -> why it is void
    notes: list[str] = field(default_factory=list)  # problems that void no question
    notebook: Path | None = None  # the notebook submitted, when it was one
    recorded_run: dict | None = None  # the container run the notebook recorded (q7)
    sandboxed: bool = True  # run the notebook's exported handler in the sandbox too


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML: {_one_line(problem, 120)}{where}"


def _duplicate_keys(node: yaml.MappingNode) -> dict[str, list[int]]:
    """Keys that appear more than once in a mapping node, with the lines they are on."""
    lines: dict[str, list[int]] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            lines.setdefault(key.value, []).append(key.start_mark.line + 1)
    return {key: found for key, found in lines.items() if len(found) > 1}


def _answers_node(root: yaml.MappingNode) -> yaml.Node | None:
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "answers":
            return value
    return None


def _parse(text: str) -> tuple[object, dict[str, list[int]]]:
    """The YAML document and the duplicate keys of its `answers` mapping.

    PyYAML keeps the last of two equal keys without a word; the grader needs
    to know, so it looks at the node tree before building the document.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        duplicates: dict[str, list[int]] = {}
        if isinstance(root, yaml.MappingNode):
            for key, found in _duplicate_keys(root).items():
                raise SubmissionError(
                    f"{key!r} appears more than once (lines {found[0]} and {found[1]})"
                )
            answers = _answers_node(root)
            if isinstance(answers, yaml.MappingNode):
                duplicates = _duplicate_keys(answers)
        document = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        raise SubmissionError(_yaml_error(error)) from None
    except RecursionError:
        raise SubmissionError("not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    return document, duplicates


def read_answers(path: str | Path) -> Answers:
    """Read and check an answers file; raise `SubmissionError` if it cannot be graded."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError("the file does not exist")
    if not path.is_file():
        raise SubmissionError("not a file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise SubmissionError(f"the file is larger than {MAX_FILE_BYTES // 1000} kB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SubmissionError("not a text file (it is not UTF-8)") from None
    except OSError as error:
        raise SubmissionError(f"cannot read the file ({error.strerror})") from None
    document, duplicates = _parse(text)
    if document is None:
        raise SubmissionError("the file is empty; it must hold learner_id and answers")
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise SubmissionError(
            f"the file must be a mapping with learner_id and answers, not a {kind}"
        )
    try:
        learner_id = normalise_learner_id(document.get("learner_id"))
    except LearnerIdError as error:
        raise SubmissionError(str(error)) from None
    notes = [
        f"unknown key {key!r} ignored (the file holds {' and '.join(TOP_LEVEL_KEYS)})"
        for key in document
        if key not in TOP_LEVEL_KEYS
    ]
    if "answers" not in document:
        others = [repr(key) for key in document if key not in TOP_LEVEL_KEYS]
        found = f" (found {', '.join(others)} instead)" if others else ""
        raise SubmissionError(f"the file has no 'answers' section{found}")
    raw = document["answers"]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SubmissionError("answers must map question ids (q1, q2, ...) to your choices")
    answers, problems = {}, {}
    for key, value in raw.items():
        if key not in QUESTION_IDS:
            known = f"{QUESTION_IDS[0]}-{QUESTION_IDS[-1]}"
            notes.append(f"unknown question id {key!r} ignored (the questions are {known})")
        elif str(key) in duplicates:
            found = duplicates[str(key)]
            problems[key] = f"answered more than once (lines {', '.join(map(str, found))})"
        else:
            answers[key] = value
    return Answers(path, learner_id, answers, problems, notes)


def choice_letter(question: Question, raw) -> str | None:
    """The option letter an answer stands for; None when it is left blank.

    A letter is taken as it is (either case); for numeric questions a number,
    or a string holding one, counts as the closest option. Raises
    `OptionError` with a one-line reason for anything else.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):  # YAML reads yes, no, on, off, true and false as booleans
        raise OptionError(
            f"YAML reads this answer as {str(raw).lower()} (a yes/no value), not an option letter"
        )
    letters = f"{LETTERS[0]}-{LETTERS[-1]}"
    if isinstance(raw, str):
        text = raw.strip()
        if _ONE_LETTER.fullmatch(text):
            if text.upper() not in LETTERS:
                raise OptionError(f"{text!r} is not an option; choose one of {letters}")
            return text.upper()
        if not question.numeric:
            raise OptionError(f"{_one_line(text, 40)!r} is not an option letter ({letters})")
        try:
            raw = float(text)
        except ValueError:
            raise OptionError(
                f"{_one_line(text, 40)!r} is neither an option letter ({letters}) nor a number"
            ) from None
    if not isinstance(raw, int | float):
        kind = type(raw).__name__
        raise OptionError(f"expected one option letter or one number, not a {kind}")
    if not question.numeric:
        raise OptionError(f"{question.id} takes an option letter ({letters}), not a number")
    if not math.isfinite(raw):
        raise OptionError(f"{raw} is not a finite number")
    return question.options.closest_letter(float(raw))


@contextlib.contextmanager
def _quiet_loggers(*names: str):
    """Keep papermill's and nbclient's warnings out of the grader's output."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _execution_failure(error: Exception, time_limit: float) -> str:
    """A one-line reason for a notebook run that did not finish."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        # Execution counts include the injected parameters cell; the cell's own code is clearer.
        first = next((line for line in (error.source or "").splitlines() if line.strip()), "")
        cell = f" in the cell starting `{_one_line(first, 40)}`" if first else ""
        message = f": {_one_line(error.evalue, 120)}" if error.evalue else ""
        return f"the notebook raised {error.ename}{message}{cell}"
    if isinstance(error, CellTimeoutError | TimeoutError):
        return f"the notebook did not finish within the time limit of {time_limit:g} s"
    if isinstance(error, DeadKernelError):
        return "the notebook's kernel died while running it"
    return f"the notebook could not be run: {type(error).__name__}: {_one_line(error, 120)}"


@contextlib.contextmanager
def _output_limit(limit_bytes: int):
    """Count what the cells print; past `limit_bytes` in all, drop it and stop the kernel.

    Yields a list that holds True once the limit was passed. Raising instead
    would not stop the cell: nbclient reads output in a task of its own.
    """
    from nbclient.client import NotebookClient

    original, printed, passed = NotebookClient.output, 0, []

    def counted(client, outs, msg, display_id, cell_index):
        nonlocal printed
        printed += len(json.dumps(msg.get("content", {})))
        if printed <= limit_bytes:
            return original(client, outs, msg, display_id, cell_index)
        if not passed:
            passed.append(True)
            process = getattr(getattr(client.km, "provisioner", None), "process", None)
            if process is not None:
                process.kill()  # the cell then ends with a dead kernel
        return None

    NotebookClient.output = counted
    try:
        yield passed
    finally:
        NotebookClient.output = original


def execute_for_answers(path: Path, folder: Path, time_limit: float) -> Path:
    """Run a notebook in `folder` with papermill; return the answers file it wrote.

    The notebook runs top to bottom in a fresh kernel with `folder` as its
    working directory; papermill injects `answers_file` (a path in that
    folder) and `run_container = False` after the cell tagged `parameters`.
    The cells have `time_limit` seconds in all (starting the kernel does not
    count) and may print `MAX_OUTPUT_BYTES`. Raises `SubmissionError`.
    """
    import papermill

    deadline = None

    def remaining_seconds(cell) -> int:
        """Each cell may use what is left of the budget, so a hang anywhere hits the limit."""
        nonlocal deadline
        if deadline is None:  # the clock starts with the first cell, not with the kernel
            deadline = time.monotonic() + time_limit
        return max(1, math.ceil(deadline - time.monotonic()))

    answers_file = folder / "answers.yaml"
    printed_too_much: list[bool] = []
    try:
        # The kernel inherits file descriptor 2: its start-up warnings stay out of the report.
        with (
            _quiet_loggers("papermill", "nbclient", "traitlets"),
            quiet_stderr(),
            _output_limit(MAX_OUTPUT_BYTES) as printed_too_much,
        ):
            papermill.execute_notebook(
                str(path),
                str(folder / "executed.ipynb"),
                # The learner's own run recorded the container; this one builds none.
                parameters={"answers_file": str(answers_file), "run_container": False},
                kernel_name=KERNEL,
                language="python",
                cwd=str(folder),
                progress_bar=False,
                log_output=False,
                # Nothing waits for the kernel's answers any more: no grace period.
                shutdown_kernel="immediate",
                timeout_func=remaining_seconds,
            )
    except Exception as error:  # anything the learner's code does ends here, as one line
        if printed_too_much:
            limit = f"{MAX_OUTPUT_BYTES // 2**20} MB"
            raise SubmissionError(f"the notebook printed more than {limit}") from None
        raise SubmissionError(_execution_failure(error, time_limit)) from None
    if not answers_file.is_file() or answers_file.is_symlink():
        raise SubmissionError(
            "the notebook finished but wrote no answers file (keep the starter's last "
            "cell, which writes answers_file)"
        )
    return answers_file


def _read_notebook(path: Path) -> dict:
    import nbformat

    if not path.is_file():
        raise SubmissionError("the file does not exist")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises many types for a file that is not a notebook
        raise SubmissionError(f"not a readable notebook ({type(error).__name__})") from None


def answers_from_notebook(
    path: str | Path, time_limit: float = DEFAULT_TIME_LIMIT, *, sandboxed: bool = True
) -> Answers:
    """Execute a notebook submission and read the answers file it writes.

    With `sandboxed` (the default) the notebook runs in the grader's sandbox
    (`serverless_dl.homework.sandbox`) and a machine without one refuses it;
    without, it runs as the grader, with everything the grader can reach.
    """
    path = Path(path)
    submitted = _read_notebook(path)
    with tempfile.TemporaryDirectory(prefix="homework-run-") as folder:
        if sandboxed:
            from serverless_dl.homework.in_sandbox import answers_text_in_sandbox

            answers_file = Path(folder) / "answers.yaml"
            answers_file.write_text(answers_text_in_sandbox(path, time_limit))
        else:
            answers_file = execute_for_answers(path, Path(folder), time_limit)
        answers = read_answers(answers_file)
    answers.source = answers.notebook = path
    answers.recorded_run = recorded_container_run(submitted)
    answers.sandboxed = sandboxed
    return answers


def read_submission(
    path: str | Path, time_limit: float = DEFAULT_TIME_LIMIT, *, sandboxed: bool = True
) -> Answers:
    """The answers of a submission: an answers file, or a notebook that writes one.

    Reading an answers file executes nothing; a notebook runs as
    `answers_from_notebook` says.
    """
    path = Path(path)
    if path.suffix.lower() == NOTEBOOK_SUFFIX:
        return answers_from_notebook(path, time_limit, sandboxed=sandboxed)
    return read_answers(path)


def _plain(value):
    """NumPy scalars (a size, a model output) as the plain numbers YAML can write."""
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def write_answers(path: str | Path, learner_id: str, answers: dict[str, object]) -> Path:
    """Write an answers file that `read_answers` accepts; return its path.

    Used by the starter notebook: `answers` maps question ids to a letter, a
    number or None (not answered yet).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = {qid: answers.get(qid) for qid in QUESTION_IDS}
    ordered.update({key: value for key, value in answers.items() if key not in ordered})
    ordered = {key: _plain(value) for key, value in ordered.items()}
    document = {"learner_id": learner_id, "answers": ordered}
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path
