"""Running a learner's code where it cannot reach the grader: a bubblewrap sandbox.

The grader executes submitted notebooks, and the handlers they export, on the
instructor's machine. Each run happens inside `bwrap` (Debian's bubblewrap),
which builds the sandbox from Linux namespaces:

- no network: a network namespace of its own, with only its own loopback (a
  server on the grader's 127.0.0.1 is not reachable, nor are abstract sockets);
- a file system that shows only what the run needs, read-only: the system's
  programs and libraries, the Python installation, the course's environment
  and source, and the homework inputs (`HOMEWORK_INPUTS`). The instructor's
  home, the repository's `build/` folder (where the course's Docker engine
  keeps its socket), `/run`, `/var` and `/tmp` are not there at all;
- writable only: tmpfs folders of a fixed size (`/scratch`, the working
  folder; `/tmp`; and an empty `build/` for what a notebook writes there),
  which vanish with the run;
- none of the instructor's environment variables: the process starts with a
  short, fixed environment (`_environment`);
- its own process namespace: when the run ends or is stopped, every process it
  started ends with it;
- limits that hold (`Limits`): as root, the run switches to the user `nobody`
  before the learner's code starts, because a process limit does not apply to
  root; then `prlimit` sets CPU time, address space, number of processes,
  file size and open files. The grader stops the run at a wall-clock limit
  and reads at most `Limits.output_bytes` of what it prints.

`sandbox_problem()` says in one line why the sandbox cannot be used here
(bwrap missing, namespaces not allowed); the grader then refuses to execute
notebooks unless told `--unsandboxed`.

What it does not protect against: a kernel exploit, the CPU and memory the
run uses while it lasts (limits are per process, not a cgroup total), and
whatever the read-only view shows (the course's source and environments,
`/etc`'s readable files).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base.paths import BUILD, HOMEWORK, ROOT, VENVS

BWRAP = "bwrap"
NOBODY = 65534  # the run's user when the grader is root: process limits do not bind root
SCRATCH = Path("/scratch")  # the run's working folder, and its home
SYSTEM_FOLDERS = ("/usr", "/bin", "/lib", "/lib64", "/sbin")
# Only what a program needs to start and to resolve names; nothing the instructor wrote.
SYSTEM_FILES = (
    "/etc/ld.so.cache",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/localtime",
    "/etc/ssl/certs/ca-certificates.crt",
)
# What the homework notebook reads from the repository, besides the course's code.
HOMEWORK_INPUTS = (
    HOMEWORK / "homework-model.keras",
    HOMEWORK / "images",
    HOMEWORK / "Dockerfile",
    HOMEWORK / "Dockerfile.base",
    ROOT / "docker",  # the course handler and image_source.py, which the homework reuses
    ROOT / "requirements",
    ROOT / "pyproject.toml",
)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be used on this machine; `str()` is the one-line reason."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use. Every limit applies to each of its processes."""

    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int = 6 * 2**30  # address space: TensorFlow reserves about 3 GB at import
    processes: int = 512  # counts threads too: TensorFlow starts a pool per core
    file_bytes: int = 64 * 2**20  # one file; a TFLite model of the homework is ~0.5 MB
    scratch_bytes: int = 512 * 2**20  # each writable folder
    open_files: int = 1024
    output_bytes: int = 2 * 2**20  # what the grader reads of the run's standard output


@dataclass(frozen=True)
class SandboxRun:
    """How a sandboxed run ended and what it printed (cut at `Limits.output_bytes`)."""

    returncode: int | None
    output: bytes
    timed_out: bool = False
    output_cut: bool = False

    def result(self) -> dict | None:
        """The JSON object on the last line of the output, or None."""
        lines = self.output.strip().splitlines()
        try:
            document = json.loads(lines[-1]) if lines and not self.output_cut else None
        except (ValueError, UnicodeDecodeError):
            return None
        return document if isinstance(document, dict) else None


def _parents(arguments: list[str]) -> list[str]:
    """Create the folders above every mount point first, open to all: bwrap would make them 0700."""
    mounts = ("--ro-bind", "--tmpfs")
    targets = [
        Path(arguments[i + (2 if word == "--ro-bind" else 1)])
        for i, word in enumerate(arguments)
        if word in mounts
    ]
    # /tmp is mounted before these and stays open to all (1777).
    above = {parent for target in targets for parent in target.parents}
    parents = sorted(above - {Path("/"), Path("/tmp")})
    return [word for parent in parents for word in ("--perms", "0755", "--dir", str(parent))]


def _readable(path: Path) -> list[str]:
    """bwrap arguments that show `path` read-only at the same place, if it exists."""
    return ["--ro-bind", str(path), str(path)] if path.exists() else []


def _system_view() -> list[str]:
    arguments = []
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):  # merged /usr: /bin is a link to usr/bin
            arguments += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            arguments += _readable(Path(folder))
    for file in SYSTEM_FILES:
        arguments += _readable(Path(file))
    return arguments


def _python_view() -> list[str]:
    """The Python installation, the course's environments and its source, read-only."""
    folders = {Path(sys.base_prefix), Path(sys.prefix), ROOT / "src", VENVS / "lambda-classic"}
    arguments = []
    for folder in sorted(folders):
        arguments += _readable(folder)
    return arguments


def _environment() -> dict[str, str]:
    """The run's whole environment: nothing of the grader's is passed on."""
    return {
        "HOME": str(SCRATCH),
        "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "JUPYTER_RUNTIME_DIR": str(SCRATCH / ".jupyter-runtime"),
        "MPLCONFIGDIR": str(SCRATCH / ".matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",  # the source is read-only
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def _writable(path: Path, limits: Limits) -> list[str]:
    size = str(limits.scratch_bytes)
    return ["--perms", "1777", "--size", size, "--tmpfs", str(path)]


def _as_nobody(limits: Limits) -> list[str]:
    """Switch to `nobody` (when root), then set the limits, then run the command."""
    switch = []
    if os.geteuid() == 0:
        switch = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        switch += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    limit = [
        "prlimit",
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]
    return switch + limit


def sandbox_command(
    command: list[str],
    limits: Limits,
    files: dict[Path, Path] | None = None,
    environment: dict[str, str] | None = None,
) -> list[str]:
    """The full `bwrap` command line that runs `command` in the sandbox.

    `files` maps places inside the sandbox to host files or folders shown there
    read-only (a copy of the submission, the grader's model); `environment`
    adds variables to the run's fixed environment.
    """
    arguments = [BWRAP, "--die-with-parent", "--new-session", "--clearenv"]
    arguments += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    arguments += ["--unshare-cgroup-try"]
    if os.geteuid() != 0:  # a user namespace lets an ordinary user build the sandbox
        arguments += ["--unshare-user"]
    arguments += ["--proc", "/proc", "--dev", "/dev"]
    # /tmp first, then the folders above every mount point (the repository may itself be
    # under /tmp), then the other writable folders, then the read-only files on top.
    shown = _system_view() + _python_view()
    for path in HOMEWORK_INPUTS:
        shown += _readable(path)
    for inside, host in (files or {}).items():
        shown += ["--ro-bind", str(host), str(inside)]
    writable = _writable(SCRATCH, limits) + _writable(BUILD, limits)  # build/: hides the socket
    arguments += _writable(Path("/tmp"), limits) + _parents(writable + shown)
    arguments += writable + shown
    for name, value in {**_environment(), **(environment or {})}.items():
        arguments += ["--setenv", name, value]
    arguments += ["--chdir", str(SCRATCH)]
    return arguments + _as_nobody(limits) + command


def _read_capped(stream, limit: int, sink: list[bytes], cut: threading.Event) -> None:
    """Keep at most `limit` bytes of `stream`; read on to the end so the run never blocks."""
    kept = 0
    while chunk := stream.read(65536):
        if kept < limit:
            sink.append(chunk[: limit - kept])
        if kept + len(chunk) > limit:
            cut.set()
        kept += len(chunk)


def run_in_sandbox(
    command: list[str],
    limits: Limits,
    files: dict[Path, Path] | None = None,
    environment: dict[str, str] | None = None,
) -> SandboxRun:
    """Run `command` in the sandbox; stop it at the wall-clock limit.

    Raises `SandboxUnavailable` when the sandbox cannot be built here.
    """
    if problem := sandbox_problem():
        raise SandboxUnavailable(problem)
    info_read, info_write = os.pipe()
    arguments = sandbox_command(command, limits, files, environment)
    process = subprocess.Popen(
        [arguments[0], "--info-fd", str(info_write), *arguments[1:]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        pass_fds=(info_write,),
    )
    os.close(info_write)
    with os.fdopen(info_read) as info:  # bwrap writes it once the sandbox's first process runs
        inner = _child_pid(info.read())
    sink: list[bytes] = []
    cut = threading.Event()
    reader = threading.Thread(
        target=_read_capped, args=(process.stdout, limits.output_bytes, sink, cut), daemon=True
    )
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    _end_namespace(inner)
    if process.poll() is None:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    reader.join(timeout=10)
    return SandboxRun(process.returncode, b"".join(sink), timed_out, cut.is_set())


def _end_namespace(first: int | None, seconds: float = 30) -> None:
    """Kill the sandbox's first process, which kills every process left in its namespace.

    bwrap may report the run's end while that process is still stopping the
    others (a fork bomb's thousands); waiting for it here means nothing the
    run started outlives `run_in_sandbox`.
    """
    if first is None:
        return
    deadline = time.monotonic() + seconds
    with contextlib.suppress(ProcessLookupError):
        os.kill(first, signal.SIGKILL)
        while time.monotonic() < deadline and not _is_zombie(first):
            os.kill(first, 0)  # raises ProcessLookupError once it is gone
            time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    """Whether `pid` has ended and only waits to be reaped (by init: bwrap has gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _child_pid(info: str) -> int | None:
    """The host's pid of the sandbox's first process, from bwrap's `--info-fd` JSON."""
    try:
        return int(json.loads(info)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


@functools.cache
def sandbox_problem() -> str | None:
    """Why the sandbox cannot be used on this machine (one line), or None when it can."""
    tools = ((BWRAP, "bubblewrap"), ("setpriv", "util-linux"), ("prlimit", "util-linux"))
    for tool, package in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install {package})"
    probe = sandbox_command([sys.executable, "-c", "print('ok')"], Limits(60, 60))
    try:
        run = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start a sandbox ({type(error).__name__})"
    if run.returncode != 0 or run.stdout.strip() != "ok":
        reason = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return f"bwrap could not start a sandbox here: {reason[:160]}"
    return None
