"""The two things the grader runs in its sandbox, from both sides of the wall.

On the grader's side, `answers_text_in_sandbox` executes a submitted notebook
and `handler_check_in_sandbox` runs the handler it exports under the Lambda
emulator, each in a fresh sandbox (`serverless_dl.homework.sandbox`) that sees
a copy of the submission at `/grader/submission.ipynb`.

Inside, this module is the command that runs:

    python -m serverless_dl.homework.in_sandbox notebook TIME_LIMIT
    python -m serverless_dl.homework.in_sandbox handler IMAGE

It sends everything the learner's code prints to /dev/null and prints one
JSON line of its own at the end: `{"answers": text}` or `{"problem": reason}`
for a notebook; `{"score": x, "problem": reason}` or `{"unavailable": reason}`
for a handler. The grader trusts that line no more than the notebook itself:
it is parsed as data, its size is capped, and every check of the answers is
made outside.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

from serverless_dl.homework.sandbox import Limits, SandboxUnavailable, run_in_sandbox

INSIDE = Path("/grader")  # where the sandbox sees what the grader hands it
SUBMISSION = INSIDE / "submission.ipynb"
MODEL = INSIDE / "model.tflite"
POOL = INSIDE / "pool"
RIE = INSIDE / "aws-lambda-rie"
STARTUP_SECONDS = 60  # Python, papermill and a kernel start before the notebook's clock does
HANDLER_CHECK_SECONDS = 180  # the emulator's cold start, one invocation, and a margin
MODULE = "serverless_dl.homework.in_sandbox"


def _refusal(error: SandboxUnavailable) -> str:
    return (
        f"not run: the grader's sandbox cannot be used here ({error}); install it, or grade "
        "with --unsandboxed (UNSANDBOXED=1 with make), which runs the notebook as you"
    )


def _readable_copy(path: Path, folder: Path) -> Path:
    """A copy the sandbox's user can read, whatever the original's owner and mode."""
    copy = folder / "submission.ipynb"
    shutil.copyfile(path, copy)
    copy.chmod(0o644)
    return copy


def answers_text_in_sandbox(path: str | Path, time_limit: float) -> str:
    """Execute a notebook in the sandbox; return the answers file it wrote, as text.

    Raises `SubmissionError` with a one-line reason when it wrote none, or when
    the sandbox cannot be used here.
    """
    from serverless_dl.homework.submissions import MAX_FILE_BYTES, SubmissionError

    seconds = math.ceil(time_limit) + STARTUP_SECONDS
    with tempfile.TemporaryDirectory(prefix="homework-sandbox-") as folder:
        copy = _readable_copy(Path(path), Path(folder))
        command = [sys.executable, "-m", MODULE, "notebook", str(time_limit)]
        try:
            run = run_in_sandbox(command, Limits(seconds, seconds), files={SUBMISSION: copy})
        except SandboxUnavailable as error:
            raise SubmissionError(_refusal(error)) from None
    if run.timed_out:
        limit = f"the time limit of {time_limit:g} s"
        raise SubmissionError(f"the notebook did not finish within {limit}")
    result = run.result() or {}
    if isinstance(result.get("problem"), str):
        raise SubmissionError(result["problem"][:300])
    answers = result.get("answers")
    if not isinstance(answers, str):
        raise SubmissionError(
            f"the notebook's run ended without a result (exit status {run.returncode}): "
            "it went over a limit of the sandbox (memory, processes, CPU time or output)"
        )
    if len(answers.encode()) > MAX_FILE_BYTES:
        raise SubmissionError(f"the answers file is larger than {MAX_FILE_BYTES // 1000} kB")
    return answers


def handler_check_in_sandbox(notebook: str | Path, image: str, pipeline):
    """`container_run.check_handler`, run in the sandbox; returns its `HandlerCheck`.

    Raises `CheckUnavailable` when the sandbox or the emulator cannot be used here.
    """
    from serverless_dl.function.rie import EmulatorError, find_rie
    from serverless_dl.homework.container_run import CheckUnavailable, HandlerCheck

    try:
        rie = find_rie()
    except EmulatorError as error:
        raise CheckUnavailable(str(error)) from None
    limits = Limits(HANDLER_CHECK_SECONDS, HANDLER_CHECK_SECONDS)
    with tempfile.TemporaryDirectory(prefix="homework-sandbox-") as folder:
        files = {
            SUBMISSION: _readable_copy(Path(notebook), Path(folder)),
            MODEL: pipeline.tflite,
            POOL: pipeline.pool_dir,
            RIE: rie,
        }
        command = [sys.executable, "-m", MODULE, "handler", image]
        try:
            run = run_in_sandbox(command, limits, files, {"AWS_LAMBDA_RIE": str(RIE)})
        except SandboxUnavailable as error:
            raise CheckUnavailable(f"the grader's sandbox cannot be used here: {error}") from None
    result = run.result() or {}
    if isinstance(result.get("unavailable"), str):
        raise CheckUnavailable(result["unavailable"][:200])
    score, problem = result.get("score"), result.get("problem")
    if isinstance(problem, str):
        return HandlerCheck(problem=problem[:300])
    if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
        return HandlerCheck(score=float(score))
    return HandlerCheck(problem="under the Lambda emulator your exported handler did not answer")


# --- Inside the sandbox ---------------------------------------------------------------------


def _private_stdout():
    """Our own copy of standard output; the learner's code gets /dev/null for 1 and 2."""
    ours = os.dup(1)  # Python's descriptors are not inherited: the kernel cannot write to it
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    return os.fdopen(ours, "w")


def _run_notebook(time_limit: float) -> dict:
    from serverless_dl.homework.submissions import SubmissionError, execute_for_answers

    folder = Path(tempfile.mkdtemp(prefix="run-", dir=os.environ.get("HOME")))
    try:
        answers = execute_for_answers(SUBMISSION, folder, time_limit)
    except SubmissionError as error:
        return {"problem": str(error)}
    return {"answers": answers.read_text(encoding="utf-8", errors="replace")}


def _check_handler(image: str) -> dict:
    from serverless_dl.homework.container_run import CheckUnavailable, check_handler
    from serverless_dl.homework.reference import ReferencePipeline

    try:
        check = check_handler(SUBMISSION, image, ReferencePipeline(MODEL, POOL))
    except CheckUnavailable as error:
        return {"unavailable": str(error)}
    return {"score": check.score, "problem": check.problem}


def main(argv: list[str]) -> int:
    """Run one job inside the sandbox and print its JSON line."""
    out = _private_stdout()
    try:
        if argv[:1] == ["notebook"] and len(argv) == 2:
            result = _run_notebook(float(argv[1]))
        elif argv[:1] == ["handler"] and len(argv) == 2:
            result = _check_handler(argv[1])
        else:
            result = {"problem": f"usage: python -m {MODULE} notebook SECONDS | handler IMAGE"}
    except Exception as error:  # a grader bug: say which, without the learner's data
        result = {"problem": f"the grader failed inside its sandbox ({type(error).__name__})"}
    out.write(json.dumps(result) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
