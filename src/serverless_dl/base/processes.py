"""The lifecycle of a background service process: start it, wait until it answers, stop it.

The course runs several servers beside a notebook or a test (the Runtime
Interface Emulator, moto, the image registry, `sam local start-api`, dockerd,
functions-framework). Each is started the same way, in a session of its own
with its output in a log file, so that Ctrl-C in a notebook does not reach it
and stopping it ends its children too; each is waited for with a deadline,
failing early when it dies first; each failing start quotes the end of its log.

Typical use::

    with open(log_path, "ab") as log:
        process = start_in_session(command, log)
    try:
        wait_for_port(port, 30, process)
    except NotReady as error:
        stop_process_group(process)
        raise MyError(f"it did not start ({error}): {last_lines(log_path.read_text())}")
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from serverless_dl.base.commands import last_lines

__all__ = [
    "NotReady",
    "ProcessExited",
    "free_port",
    "last_lines",
    "port_answers",
    "process_start_time",
    "start_in_session",
    "stop_detached",
    "stop_process_group",
    "wait_for_port",
    "wait_until",
]


class NotReady(RuntimeError):
    """A started service did not answer before its deadline."""


class ProcessExited(NotReady):
    """A started service exited before it answered; `returncode` says how."""

    def __init__(self, returncode: int, message: str):
        super().__init__(message)
        self.returncode = returncode


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_in_session(
    command: Sequence[str],
    log: IO[bytes] | int,
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start `command` in a session of its own, its stdout and stderr going to `log`.

    The session keeps a notebook's Ctrl-C from reaching the service and lets
    `stop_process_group` end it together with its children. `log` is an open
    binary file or a file descriptor; the caller may close it once this returns.
    """
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(
    ready: Callable[[], bool],
    seconds: float,
    process: subprocess.Popen | None = None,
    *,
    waiting_for: str = "the service did not answer",
    interval: float = 0.05,
) -> None:
    """Call `ready()` until it returns true; raise `NotReady` after `seconds`.

    Raise `ProcessExited` as soon as `process` (when given) has exited, rather
    than waiting out the deadline for a service that can no longer answer.
    `waiting_for` starts the timeout's message, which ends "within N s".
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ProcessExited(
                process.returncode,
                f"process exited with code {process.returncode} before listening",
            )
        if ready():
            return
        time.sleep(interval)
    raise NotReady(f"{waiting_for} within {seconds:.0f} s")


def port_answers(port: int, timeout: float = 0.2) -> bool:
    """True if something accepts a TCP connection on 127.0.0.1:`port` right now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, seconds: float, process: subprocess.Popen | None = None) -> None:
    """Wait until something listens on 127.0.0.1:`port`; fail early if `process` dies."""
    wait_until(
        lambda: port_answers(port), seconds, process,
        waiting_for=f"nothing listened on 127.0.0.1:{port}",
    )  # fmt: skip


def stop_process_group(
    process: subprocess.Popen, seconds: float = 10, *, terminate_leader_only: bool = False
) -> None:
    """End a process started in a session of its own, children included: SIGTERM, then SIGKILL.

    `terminate_leader_only` sends the SIGTERM to the leader alone, for a
    service that stops its own children in order (dockerd and containerd);
    the SIGKILL after `seconds` still goes to the whole group.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if terminate_leader_only:
            process.send_signal(signal.SIGTERM)
        else:
            os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def process_start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot), or None if it is gone or a zombie.

    A pid and its start time name one process, even after the pid is reused.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def stop_detached(pid: int, start_time: int, seconds: float = 10) -> None:
    """End the session led by process `pid` if it is still the process started at `start_time`.

    SIGTERM, then SIGKILL after `seconds`. The process may belong to another
    Python process (a notebook kernel that has exited, say); if it is a child
    of this one, it is reaped.
    """
    if process_start_time(pid) != start_time:
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while process_start_time(pid) == start_time:
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            deadline = float("inf")
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
