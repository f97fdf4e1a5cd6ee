"""Command line of the homework: personal questions, grading, the questions page.

    python -m serverless_dl.homework questions --learner-id ID
    python -m serverless_dl.homework grade [ANSWERS.yaml | NOTEBOOK.ipynb] [--time-limit S]
    python -m serverless_dl.homework grade-all FOLDER [--csv FILE] [--json FILE] [--time-limit S]
    (both take --unsandboxed)
    python -m serverless_dl.homework page [--check]
    python -m serverless_dl.homework record-solution    # maintainers; needs Docker

`grade` and `grade-all` exit with 0 whenever they printed a grade, including
0 points for a file that could not be read; 2 means the grader itself could
not run (a missing folder, no TensorFlow to convert the model once).

Notebooks run in the grader's sandbox (`serverless_dl.homework.sandbox`);
where it cannot be built, each notebook is refused with the reason.
`--unsandboxed` runs them as you instead, after a warning: only for your own
notebook.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# One-line argument errors, as every command of the course prints them.
from serverless_dl.base.cli import OneLineErrorParser, positive_number
from serverless_dl.base.paths import BUILD, HOMEWORK, ROOT
from serverless_dl.containers.docker_engine import DockerUnavailable
from serverless_dl.homework.container_run import REFERENCE_SOLUTION, record_solution
from serverless_dl.homework.grading import (
    format_grade,
    grade_file,
    grade_folder,
    submission_files,
    write_csv,
    write_json,
)
from serverless_dl.homework.page import PAGE, PageError, update_page
from serverless_dl.homework.questions import LearnerIdError, homework_for
from serverless_dl.homework.reference import ReferenceUnavailable
from serverless_dl.homework.submissions import DEFAULT_TIME_LIMIT, SubmissionError

DEFAULT_ANSWERS = HOMEWORK / "answers.yaml"
REPORTS = BUILD / "homework"
PROG = "python -m serverless_dl.homework"
UNSANDBOXED_HELP = "run notebooks without the sandbox, as you (prints a warning)"
UNSANDBOXED_WARNING = (
    "warning: --unsandboxed: notebooks run as you, with your files, credentials, network "
    "and Docker engine within reach; use it only for a notebook you trust (your own)"
)


def _shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it, as a learner typed it."""
    path = Path(path)
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def _parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog=PROG, description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    questions = commands.add_parser("questions", help="print a learner's questions and options")
    questions.add_argument("--learner-id", required=True)
    grade = commands.add_parser("grade", help="grade one answers file or notebook")
    grade.add_argument("answers", nargs="?", type=Path, default=DEFAULT_ANSWERS)
    grade.add_argument(
        "--time-limit", type=positive_number, default=DEFAULT_TIME_LIMIT, metavar="S"
    )
    grade.add_argument("--unsandboxed", action="store_true", help=UNSANDBOXED_HELP)
    grade_all = commands.add_parser("grade-all", help="grade a folder of submissions")
    grade_all.add_argument("folder", type=Path)
    grade_all.add_argument("--csv", type=Path, default=REPORTS / "grades.csv")
    grade_all.add_argument("--json", type=Path, default=REPORTS / "grades.json")
    grade_all.add_argument(
        "--time-limit", type=positive_number, default=DEFAULT_TIME_LIMIT, metavar="S"
    )
    grade_all.add_argument("--unsandboxed", action="store_true", help=UNSANDBOXED_HELP)
    page = commands.add_parser("page", help=f"regenerate the generated part of {_shown(PAGE)}")
    page.add_argument("--check", action="store_true", help="only say whether it is current")
    commands.add_parser(
        "record-solution",
        help=f"run {_shown(REFERENCE_SOLUTION)} with Docker and keep its container record",
    )
    return parser


def _grade_all(args) -> int:
    files, skipped = submission_files(args.folder)
    for path in skipped:
        print(f"skipped {path.name}: not an answers file (.yaml, .yml) or a notebook (.ipynb)")
    if not files:
        print(f"no submissions (.yaml, .yml, .ipynb) in {_shown(args.folder)}")
    started = time.monotonic()
    grades = grade_folder(args.folder, time_limit=args.time_limit, sandboxed=not args.unsandboxed)
    width = max([len(grade.submission) for grade in grades] + [10])
    for grade in grades:
        line = f"{grade.submission:<{width}}  {grade.learner_id or '-':<16}  "
        line += f"{grade.total}/{grade.max_points}"
        reasons = ([grade.problem] if grade.problem else []) + grade.notes
        print(line + (f"  {'; '.join(reasons)}" if reasons else ""))
    write_csv(grades, args.csv)
    write_json(grades, args.json)
    print(
        f"{len(grades)} submissions graded in {time.monotonic() - started:.1f} s; "
        f"wrote {_shown(args.csv)} and {_shown(args.json)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "unsandboxed", False):
        print(UNSANDBOXED_WARNING, file=sys.stderr)
    try:
        if args.command == "questions":
            print(homework_for(args.learner_id).render())
        elif args.command == "grade":
            print(
                format_grade(
                    grade_file(
                        args.answers,
                        time_limit=args.time_limit,
                        name=_shown(args.answers),
                        sandboxed=not args.unsandboxed,
                    )
                )
            )
        elif args.command == "grade-all":
            return _grade_all(args)
        elif args.command == "record-solution":
            record = record_solution()
            print(f"recorded in {_shown(REFERENCE_SOLUTION)}: {record}")
        else:
            current = update_page(check=args.check)
            if args.check and not current:
                print(f"{_shown(PAGE)} is out of date; run `make homework-page`", file=sys.stderr)
                return 1
            print(f"{_shown(PAGE)} is up to date" if current else f"updated {_shown(PAGE)}")
    except (
        LearnerIdError,
        ReferenceUnavailable,
        SubmissionError,
        PageError,
        DockerUnavailable,
    ) as error:
        parser.exit(2, f"{PROG}: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
