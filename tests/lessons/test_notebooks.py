"""Every lesson runs top to bottom in a fresh kernel and still prints what it committed.

Each lesson is copied with its CI parameters injected by papermill (lesson 00
in its short mode; every output goes under build/nbval/run), then nbval
executes the copy and compares each cell's output with the committed one
(strict mode). Volatile outputs are tagged `nbval-ignore-output` in the
notebooks or normalised by tests/nbval_sanitize.cfg; see STYLE.md.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serverless_dl.base.paths import BUILD, TESTS
from serverless_dl.lessons.notebooks import (
    DOCKER_LESSONS,
    ENCLOSING_MAKE_VARIABLES,
    lesson_names,
    prepare,
    run_parameters,
)

# Overridable so that several people (or agents) can check lessons side by side.
NBVAL_DIR = Path(os.environ.get("SERVERLESS_DL_NBVAL_DIR", BUILD / "nbval"))


@pytest.mark.parametrize("name", lesson_names())
def test_lesson_reproduces_its_committed_outputs(name, request):
    if name in DOCKER_LESSONS:  # mandatory in CI, skipped with the reason elsewhere
        request.getfixturevalue("docker_engine")
    parameters = run_parameters(NBVAL_DIR / "run", short=True).get(name, {})
    copy = NBVAL_DIR / f"{name}.ipynb"
    prepare(name, copy, parameters)
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--nbval", str(copy),
            "--nbval-sanitize-with", str(TESTS / "nbval_sanitize.cfg"),
            "--nbval-cell-timeout", "900", "-p", "no:cacheprovider", "-q",
            "--rootdir", str(NBVAL_DIR),
        ],
        capture_output=True, text=True,
        env={name: value for name, value in os.environ.items()
             if name not in ENCLOSING_MAKE_VARIABLES},  # lesson 08 runs `make aws-clean`
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_the_course_policy_allows_every_aws_call_the_lessons_and_the_cleanup_made():
    """aws-account/course-policy.json against the calls lessons 07-08 really made.

    The local account's front logs every AWS call it receives; lessons 07 and 08
    and the cleanup at the end of 08 (`make aws-clean`) ran above, under nbval,
    so their log is the course's list of calls. Runs after them (pytest keeps the
    order of a module's tests); alone, it needs that log.
    """
    from serverless_dl.aws.course_policy import (
        load_implied,
        load_policy,
        missing_permissions,
        read_operations,
    )

    account = run_parameters(NBVAL_DIR / "run")["07-ecr-lambda"]["aws_local_dir"]
    log = Path(account) / "operations.jsonl"
    if not log.is_file():
        message = f"no operations log at {log}: run lessons 07 and 08 under nbval first"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    operations = read_operations(log)
    called = {(operation.service, operation.operation) for operation in operations}
    expected = {("ecr", "CreateRepository"), ("iam", "CreateRole"), ("lambda", "CreateFunction"),
                ("lambda", "Invoke"), ("apigateway", "CreateRestApi"),
                ("lambda", "DeleteFunction"), ("ecr", "DeleteRepository"), ("iam", "DeleteRole")}
    assert expected <= called, f"the log lacks {sorted(expected - called)}"
    assert missing_permissions(load_policy(), operations, load_implied()) == []
