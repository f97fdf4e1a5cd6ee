"""The grader's sandbox: hostile submissions are contained, honest ones still graded.

One `grade-all` run, as an instructor types it, over a folder that holds an
honest answers file, the reference solution and one notebook per attack. The
grader runs with a home folder holding a canary credentials file, a canary
environment variable, a container-engine socket in `DOCKER_HOST` and a TCP
server on 127.0.0.1: each records whether anything reached it. Each hostile
notebook tries its attack and then raises an error that carries what it found,
so whatever leaked would show in the grader's one-line reason.
"""

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
from test_homework_grading import notebook

from serverless_dl.base.paths import BUILD, ROOT, TESTS
from serverless_dl.homework.questions import MAX_POINTS, homework_for
from serverless_dl.homework.submissions import write_answers

CANARY_KEY = "AKIACANARY0123456789"
CANARY_VARIABLE = "canary-variable-4242"
TIME_LIMIT = 25  # seconds per notebook: the reference solution's cells need about 10
NOBODY = 65534


class Listener:
    """A server that only counts who connects: TCP on 127.0.0.1, or a Unix socket."""

    def __init__(self, family, address):
        self.connections = 0
        self.server = socket.socket(family, socket.SOCK_STREAM)
        self.server.bind(address)
        self.server.listen()
        self.server.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self):
        self.stopping.set()
        self.thread.join()
        self.server.close()


def attacks(port, home, outside):
    """The hostile notebooks: name -> the code of its one cell."""
    escape = [str(ROOT / "pwned.txt"), str(home / "pwned.txt"), str(outside / "pwned.txt")]
    return {
        "reads-home.ipynb": (
            "import glob, os\n"
            f"found = glob.glob({str(home)!r} + '/**', recursive=True)\n"
            "found += glob.glob(os.path.expanduser('~/.aws/*'))\n"
            "read = ' '.join(open(p).read() for p in found if os.path.isfile(p))\n"
            "raise RuntimeError(read or 'none')"
        ),
        "writes-outside.ipynb": (
            "written = []\n"
            f"for path in {escape!r}:\n"
            "    try:\n"
            "        open(path, 'w').write('escaped')\n"
            "        written.append(path)\n"
            "    except OSError:\n"
            "        pass\n"
            "raise RuntimeError(f'wrote {written}')"
        ),
        "connects-out.ipynb": (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "raise RuntimeError('connected')"
        ),
        "finds-engine.ipynb": (
            "import glob, os, socket\n"
            "found = [os.environ.get('DOCKER_HOST', '').removeprefix('unix://')]\n"
            "found += ['/var/run/docker.sock', '/run/docker.sock']\n"
            f"for top in ['/run', '/var', '/tmp', '/scratch', {str(BUILD)!r}, {str(home)!r}]:\n"
            "    found += glob.glob(top + '/**/*.sock', recursive=True)\n"
            "reached = []\n"
            "for path in filter(None, found):\n"
            "    try:\n"
            "        socket.socket(socket.AF_UNIX).connect(path)\n"
            "        reached.append(path)\n"
            "    except OSError:\n"
            "        pass\n"
            "raise RuntimeError(f'reached {reached}')"
        ),
        "dumps-environment.ipynb": (
            "import os\nraise RuntimeError(' '.join(f'{k}={v}' for k, v in os.environ.items()))"
        ),
        "fork-bomb.ipynb": "import os\nwhile True:\n    os.fork()",
        "eats-memory.ipynb": "chunks = []\nwhile True:\n    chunks.append(b'x' * 2**28)",
        "prints-endlessly.ipynb": "while True:\n    print('x' * 10000)",
        "never-ends.ipynb": "import time\nwhile True:\n    time.sleep(1)",
    }


def nobody_processes():
    """Processes of the sandbox's user, or of bwrap, still running."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            status = open(f"/proc/{entry}/status").read()
        except OSError:
            continue
        uid = int(status.split("Uid:")[1].split()[0])
        name = status.split("Name:")[1].split()[0]
        ended = status.split("State:")[1].split()[0] == "Z"  # a zombie only waits to be reaped
        if (uid == NOBODY or name == "bwrap") and not ended:
            found.append(f"{entry} {name}")
    return found


@pytest.fixture(scope="module")
def graded(grader_sandbox, tmp_path_factory):
    """Grade the folder once; every test below reads this one run."""
    base = tmp_path_factory.mktemp("sandbox")
    home, outside, folder = base / "home", base / "outside", base / "submissions"
    for path in (home / ".aws", outside, folder):
        path.mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(f"aws_access_key_id = {CANARY_KEY}\n")
    tcp = Listener(socket.AF_INET, ("127.0.0.1", 0))
    # Where the course's own engine keeps its socket: under build/, which the sandbox hides.
    engine_socket = BUILD / "sandbox-test" / "engine.sock"
    engine_socket.parent.mkdir(parents=True, exist_ok=True)
    engine_socket.unlink(missing_ok=True)
    engine = Listener(socket.AF_UNIX, str(engine_socket))
    for name, code in attacks(tcp.server.getsockname()[1], home, outside).items():
        notebook(folder, name, code)
    learner = "honest-learner"
    write_answers(folder / "honest.yaml", learner, dict(homework_for(learner).correct))
    reference = TESTS / "homework" / "homework_reference" / "solution.ipynb"
    shutil.copyfile(reference, folder / "reference.ipynb")
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True)
    environment = {
        **os.environ,
        "HOME": str(home),
        "CANARY": CANARY_VARIABLE,
        "DOCKER_HOST": f"unix://{engine_socket}",
    }
    reports = base / "reports"
    command = [sys.executable, "-m", "serverless_dl.homework", "grade-all", str(folder)]
    command += ["--csv", str(reports / "grades.csv"), "--json", str(reports / "grades.json")]
    command += ["--time-limit", str(TIME_LIMIT)]
    run = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
    after = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True)
    tcp.close()
    engine.close()
    shutil.rmtree(engine_socket.parent)
    rows = {row["submission"]: row for row in csv.DictReader((reports / "grades.csv").open())}
    return {
        "run": run,
        "rows": rows,
        "written": [run.stdout, run.stderr, *(path.read_text() for path in reports.iterdir())],
        "tcp": tcp.connections,
        "engine": engine.connections,
        "home": sorted(path.name for path in home.rglob("*")),
        "outside": sorted(outside.iterdir()),
        "git": (before.stdout, after.stdout),
        "left running": nobody_processes(),
    }


def test_every_file_gets_a_grade_and_the_run_ends_cleanly(graded):
    run = graded["run"]
    assert run.returncode == 0, run.stderr
    assert len(graded["rows"]) == len(attacks(0, ROOT, ROOT)) + 2, run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert graded["left running"] == []


def test_the_honest_answers_and_the_reference_solution_earn_full_marks(graded):
    rows = graded["rows"]
    assert rows["honest.yaml"]["total"] == str(MAX_POINTS)
    assert rows["reference.ipynb"]["total"] == str(MAX_POINTS), rows["reference.ipynb"]


def test_nothing_of_the_grader_reaches_the_notebooks(graded):
    for text in graded["written"]:
        assert CANARY_KEY not in text and CANARY_VARIABLE not in text
    rows = graded["rows"]
    assert "raised RuntimeError: none" in rows["reads-home.ipynb"]["problem"]
    assert "CANARY" not in rows["dumps-environment.ipynb"]["problem"]
    assert "HOME=/scratch" in rows["dumps-environment.ipynb"]["problem"]


def test_nothing_is_written_outside_the_scratch_folder(graded):
    assert "wrote []" in graded["rows"]["writes-outside.ipynb"]["problem"]
    assert graded["outside"] == [] and graded["home"] == [".aws", "credentials"]
    before, after = graded["git"]
    assert after == before


def test_no_connection_leaves_the_sandbox(graded):
    rows = graded["rows"]
    assert "raised" in rows["connects-out.ipynb"]["problem"]
    assert "connected" not in rows["connects-out.ipynb"]["problem"]
    assert "reached []" in rows["finds-engine.ipynb"]["problem"]
    assert graded["tcp"] == 0 and graded["engine"] == 0


TIMED_OUT = f"did not finish within the time limit of {TIME_LIMIT} s"


@pytest.mark.parametrize(
    "name, reasons",
    [
        # The process limit makes fork() fail; on a busy machine the bomb may still be
        # forking when the clock runs out. Either way it is stopped, with one line.
        ("fork-bomb.ipynb", ("raised BlockingIOError", TIMED_OUT)),
        ("eats-memory.ipynb", ("raised MemoryError",)),
        ("prints-endlessly.ipynb", ("the notebook printed more than 16 MB",)),
        ("never-ends.ipynb", (TIMED_OUT,)),
    ],
)
def test_limits_stop_a_runaway_notebook_with_one_line(graded, name, reasons):
    row = graded["rows"][name]
    assert row["total"] == "0" and any(reason in row["problem"] for reason in reasons), row


def test_without_the_sandbox_notebooks_are_refused_and_answers_files_graded(tmp_path):
    write_answers(tmp_path / "a.yaml", "alice", dict(homework_for("alice").correct))
    notebook(tmp_path, "b.ipynb", "raise RuntimeError('must not run')")
    # No bwrap on the PATH: the grader must say so, not run the notebook unprotected.
    environment = {**os.environ, "PATH": str(tmp_path / "empty")}
    command = [sys.executable, "-m", "serverless_dl.homework", "grade-all", str(tmp_path)]
    command += ["--csv", str(tmp_path / "g.csv"), "--json", str(tmp_path / "g.json")]
    run = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if line.strip()}
    assert f"{MAX_POINTS}/{MAX_POINTS}" in lines["a.yaml"]
    assert (
        "not run: the grader's sandbox cannot be used here (bwrap is not installed"
        in lines["b.ipynb"]
    )
    assert "must not run" not in run.stdout


def test_the_unsandboxed_flag_runs_the_notebook_after_a_warning(tmp_path):
    path = notebook(tmp_path, "mine.ipynb", "raise RuntimeError('ran as you')")
    command = [sys.executable, "-m", "serverless_dl.homework", "grade", str(path)]
    run = subprocess.run([*command, "--unsandboxed"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0
    assert run.stderr.startswith("warning: --unsandboxed: notebooks run as you")
    assert "raised RuntimeError: ran as you" in run.stdout


def test_the_sandbox_runs_as_nobody_with_an_empty_build_folder_and_its_own_variables(
    grader_sandbox,
):
    from serverless_dl.base.paths import BUILD
    from serverless_dl.homework.sandbox import Limits, run_in_sandbox

    probe = f"import json, os; print(json.dumps([os.getuid(), os.listdir({str(BUILD)!r}), "
    probe += "sorted(os.environ)]))"
    run = run_in_sandbox([sys.executable, "-c", probe], Limits(60, 60))
    uid, build, variables = json.loads(run.output)
    assert uid == (NOBODY if os.geteuid() == 0 else os.geteuid())
    assert build == []  # the course's Docker engine keeps its socket in the real build/
    assert "DOCKER_HOST" not in variables and "AWS_PROFILE" not in variables
