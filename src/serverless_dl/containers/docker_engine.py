"""Find a Docker engine, or start one, and run the Docker CLI against it.

The course builds and runs Lambda container images. On a learner's laptop a
Docker engine is usually running already; on the project's offline machines
and in CI nothing starts one, so `ensure_engine()` starts Debian's `dockerd`
itself (as root) with everything under `build/docker/` (git-ignored):

- `docker.sock`: the engine's API socket (`DOCKER_HOST=unix://.../docker.sock`),
- `data/`: images, layers and containers (kept between runs, so builds are cached),
- `exec/`: runtime state (including the containerd that dockerd manages),
- `dockerd.pid`, `dockerd.log`: pidfile and everything dockerd printed.

Typical use::

    engine = ensure_engine()          # sets os.environ["DOCKER_HOST"]
    docker("build", "--network", "host", "-t", "demo", ".")
    if image_exists("public.ecr.aws/lambda/python:3.11"): ...

An engine is stopped only by the process that started it (at exit, or with
`Engine.stop()`); an engine someone else started, including one this module
started in an earlier run and left running, is used but never stopped.

Storage driver: overlay2 (what Docker picks on any modern Linux), unless the
`SERVERLESS_DL_DOCKER_STORAGE_DRIVER` variable names another one; if dockerd
cannot start with overlay2 (for instance when `build/` is itself on overlayfs)
it is started again with `vfs`, which always works but copies every layer.
Networking is Docker's default (a `docker0` bridge with iptables rules, so
`docker run -p 8080:8080` works as on a laptop, except that published ports
listen on 127.0.0.1 only: `--ip 127.0.0.1`); where iptables is not allowed
dockerd is started again without a bridge (host and none networks only).

Containers and builds for tests use host networking (`network="host"` in the
helpers), so their traffic stays on the loopback interface.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from serverless_dl.base import processes
from serverless_dl.base.commands import run_command
from serverless_dl.base.paths import BUILD

DEFAULT_SOCKET = Path("/var/run/docker.sock")
DOCKER_DIR = BUILD / "docker"
STORAGE_DRIVER_VARIABLE = "SERVERLESS_DL_DOCKER_STORAGE_DRIVER"
START_SECONDS = 60

_SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes; containerd adds names under exec/


class DockerUnavailable(RuntimeError):
    """No Docker engine answers and none can be started here; `str()` says why in one line."""


class DockerError(RuntimeError):
    """A docker CLI command failed; the message holds the command and the end of its stderr."""


@dataclass
class Engine:
    """A Docker engine that answers at `host` (a `DOCKER_HOST` value such as `unix:///...`).

    `started` is true only when this process started the engine; only then does
    `stop()` (also run at exit) end it.
    """

    host: str
    started: bool = False
    pid: int | None = None
    log: Path | None = None
    _process: subprocess.Popen | None = field(default=None, repr=False)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """A copy of `base` (default `os.environ`) with `DOCKER_HOST` pointing at this engine."""
        env = dict(os.environ if base is None else base)
        env["DOCKER_HOST"] = self.host
        return env

    def stop(self, seconds: float = 30) -> None:
        """Stop the engine if this process started it; otherwise do nothing."""
        global _engine
        if not self.started or self._process is None:
            return
        process, self._process = self._process, None
        # dockerd stops its containers and containerd itself; only a hung one is killed.
        processes.stop_process_group(process, seconds, terminate_leader_only=True)
        _unmount_leftovers()
        if _engine is self:
            _engine = None


def _unmount_leftovers() -> None:
    """Unmount what a stopped dockerd of ours leaves mounted (its data root, netns files).

    dockerd 20.10 bind-mounts its data root onto itself and keeps a network
    namespace file under exec/; both outlive it and would make `rm -rf build`
    fail with "Device or resource busy".
    """
    roots = {str(DOCKER_DIR), str(state_dir())}
    try:
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return
    ours = [m for m in mounts if any(m == root or m.startswith(root + "/") for root in roots)]
    for mount_point in sorted(set(ours), key=len, reverse=True):
        subprocess.run(["umount", mount_point], capture_output=True, check=False)


_engine: Engine | None = None


def state_dir() -> Path:
    """Where a dockerd started here keeps its socket, pidfile and runtime state.

    `build/docker/`, unless the repository lives so deep that socket paths
    below it would exceed the kernel's limit; then a short folder under /tmp
    named after the repository.
    """
    if len(str(DOCKER_DIR / "exec" / "containerd" / "containerd-debug.sock")) < _SOCKET_PATH_LIMIT:
        return DOCKER_DIR
    digest = hashlib.sha256(str(DOCKER_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"serverless-dl-docker-{digest}"


def own_host() -> str:
    """The `DOCKER_HOST` of the dockerd this module starts."""
    return f"unix://{state_dir() / 'docker.sock'}"


def dockerd_path() -> str | None:
    """Path of dockerd (the engine), also found in sbin folders missing from a user's PATH."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    return shutil.which("dockerd", path=path)


def docker_cli() -> str:
    """Path of the docker command (the client); raise `DockerUnavailable` if there is none."""
    cli = shutil.which("docker")
    if cli is None:
        raise DockerUnavailable(
            "the docker command is not installed (Debian: apt-get install docker.io)"
        )
    return cli


def _ping_unix(path: str, timeout: float = 2.0) -> bool:
    """True if a Docker engine answers `GET /_ping` on the unix socket `path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
    except OSError:
        return False
    return (
        reply.startswith(b"HTTP/1.")
        and b" 200 " in reply.split(b"\r\n", 1)[0]
        and reply.endswith(b"OK")
    )


def answers(host: str) -> bool:
    """True if a Docker engine answers at `host` (any `DOCKER_HOST` value)."""
    if host.startswith("unix://"):
        return _ping_unix(host.removeprefix("unix://"))
    try:
        result = subprocess.run(
            [docker_cli(), "--host", host, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _context_host() -> str | None:
    """The engine address of the docker CLI's current context (Docker Desktop, rootless...)."""
    cli = shutil.which("docker")
    if cli is None:
        return None
    try:
        result = subprocess.run(
            [cli, "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    host = result.stdout.strip()
    return host if result.returncode == 0 and host else None


def _candidates() -> list[str]:
    """Engine addresses to try, in order: DOCKER_HOST, the default socket, the CLI context, ours."""
    hosts = []
    if os.environ.get("DOCKER_HOST"):
        hosts.append(os.environ["DOCKER_HOST"])
    else:
        hosts.append(f"unix://{DEFAULT_SOCKET}")
        context = _context_host()
        if context:
            hosts.append(context)
    hosts.append(own_host())
    return list(dict.fromkeys(hosts))


def _log_since(log: Path, offset: int) -> str:
    """What dockerd wrote to `log` after byte `offset` (this start only)."""
    try:
        with log.open("rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")
    except OSError:
        return ""


def _log_tail(log: Path, offset: int = 0, lines: int = 3) -> str:
    """The last few meaningful lines of dockerd's log after byte `offset`, on one line."""
    text = _log_since(log, offset).splitlines()
    wanted = [
        line for line in text if "level=error" in line or "level=fatal" in line or "failed" in line
    ]
    tail = (wanted or text)[-lines:]
    return " | ".join(line.strip() for line in tail)[-600:] or "(empty log)"


def _read_pid(pidfile: Path) -> int | None:
    """The pid in `pidfile` if that process is alive (not a zombie), else None."""
    try:
        pid = int(pidfile.read_text().strip())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    return None if state in ("Z", "X") else pid


class _StartFailed(DockerUnavailable):
    """dockerd exited while starting; `log` holds what it printed this time."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


def _retry_options(log: str, options: list[str]) -> list[str] | None:
    """dockerd options for a second start after a first one failed printing `log`, or None."""
    retry = list(options)
    storage_failed = "graphdriver" in log or "failed to mount overlay" in log
    if storage_failed and not os.environ.get(STORAGE_DRIVER_VARIABLE):
        retry[retry.index("--storage-driver") + 1] = "vfs"
    if "iptables failed" in log or "NAT chain" in log:
        # No packet filtering allowed (a container without NET_ADMIN): host and none networks only.
        retry += ["--iptables=false", "--ip-masq=false", "--bridge=none"]
    return retry if retry != options else None


def _start_dockerd(options: list[str], seconds: float) -> Engine:
    """Start dockerd with its state under `state_dir()` and `options`; wait until it answers."""
    state = state_dir()
    data_root = DOCKER_DIR / "data"
    for folder in (state, state / "exec", data_root):
        folder.mkdir(parents=True, exist_ok=True)
    sock, pidfile, log = state / "docker.sock", state / "dockerd.pid", DOCKER_DIR / "dockerd.log"
    if _read_pid(pidfile) is None:  # left behind by a dockerd that was killed
        sock.unlink(missing_ok=True)
        pidfile.unlink(missing_ok=True)
    command = [
        dockerd_path() or "dockerd",
        "--host", f"unix://{sock}",
        "--data-root", str(data_root),
        "--exec-root", str(state / "exec"),
        "--pidfile", str(pidfile),
        # `docker run -p 8080:8080` publishes on 127.0.0.1 only, not on every interface:
        # lessons and tests publish ports, and nothing outside this machine may reach them.
        "--ip", "127.0.0.1",
        *options,
    ]  # fmt: skip
    if log.exists() and log.stat().st_size > 5_000_000:  # keep one earlier log, not all of them
        log.replace(log.with_suffix(".log.1"))
    offset = log.stat().st_size if log.exists() else 0
    # dockerd runs iptables, mount helpers etc., which live in sbin folders a user's PATH may lack.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
        out.flush()
        # Its own session: Ctrl-C in a notebook or pytest must not reach dockerd.
        process = processes.start_in_session(command, out, env={**os.environ, "PATH": path})
    engine = Engine(host=f"unix://{sock}", started=True, pid=process.pid, log=log, _process=process)
    try:
        processes.wait_until(
            lambda: _ping_unix(str(sock), timeout=1), seconds, process, interval=0.1
        )
    except processes.ProcessExited:
        _unmount_leftovers()
        raise _StartFailed(
            f"dockerd exited with code {process.returncode} while starting "
            f"({' '.join(options)}); {log}: {_log_tail(log, offset)}",
            log=_log_since(log, offset),
        ) from None
    except processes.NotReady:
        engine.stop(seconds=10)
        raise DockerUnavailable(
            f"dockerd did not answer within {seconds:.0f} s; {log}: {_log_tail(log, offset)}"
        ) from None
    atexit.register(engine.stop)
    return engine


def ensure_engine(start_seconds: float = START_SECONDS) -> Engine:
    """Return a Docker engine that answers, starting dockerd if none does.

    Tries, in order, `DOCKER_HOST` (when set; otherwise `/var/run/docker.sock`
    and the docker CLI's current context) and the socket of a dockerd this
    module started in an earlier run. If none answers and this process is
    root with `dockerd` installed, starts one under `state_dir()` and stops it
    when this process exits. Always sets `os.environ["DOCKER_HOST"]`, so
    child processes (docker CLI, sam, notebooks) use the same engine.

    Raises `DockerUnavailable` with a one-line reason otherwise.
    """
    global _engine
    if _engine is not None and answers(_engine.host):
        os.environ["DOCKER_HOST"] = _engine.host
        return _engine
    docker_cli()
    tried = _candidates()
    for host in tried:
        if answers(host):
            _engine = Engine(host=host)
            os.environ["DOCKER_HOST"] = host
            return _engine
    if dockerd_path() is None:
        raise DockerUnavailable(
            f"no Docker engine answers ({', '.join(tried)}) and dockerd is not installed "
            "(Debian: apt-get install docker.io)"
        )
    if os.geteuid() != 0:
        raise DockerUnavailable(
            f"no Docker engine answers ({', '.join(tried)}) and starting dockerd needs root"
        )
    DOCKER_DIR.mkdir(parents=True, exist_ok=True)
    # One starter at a time: parallel test workers or notebooks must not race for the pidfile.
    with (DOCKER_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if answers(own_host()):  # another process started it while we waited
            _engine = Engine(host=own_host())
        else:
            options = ["--storage-driver", os.environ.get(STORAGE_DRIVER_VARIABLE, "overlay2")]
            try:
                _engine = _start_dockerd(options, start_seconds)
            except _StartFailed as error:
                retry = _retry_options(error.log, options)
                if retry is None:
                    raise
                _engine = _start_dockerd(retry, start_seconds)
    os.environ["DOCKER_HOST"] = _engine.host
    return _engine


def docker(
    *args: str | os.PathLike,
    check: bool = True,
    capture: bool = True,
    input: str | None = None,
    timeout: float | None = None,
    cwd: str | os.PathLike | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS...` against `ensure_engine()` and return the finished process.

    `capture=True` collects stdout/stderr as text; `capture=False` lets them
    through to the terminal (long builds). With `check=True` a non-zero exit
    raises `DockerError` with the end of stderr.
    """
    engine = ensure_engine()
    command = [docker_cli(), *map(str, args)]
    return run_command(
        command,
        error=DockerError,
        what=f"`docker {' '.join(map(str, args))}`",
        lines=5,
        capture=capture,
        check=check,
        env=engine.env(),
        cwd=cwd,
        input=input,
        timeout=timeout,
    )


def image_exists(ref: str) -> bool:
    """True if the image `ref` (name:tag or id) is present in the engine."""
    return docker("image", "inspect", ref, check=False).returncode == 0


def image_info(ref: str) -> dict:
    """`docker image inspect` of `ref`, as a dict."""
    return json.loads(docker("image", "inspect", ref).stdout)[0]


def image_size(ref: str) -> int:
    """Size of the image `ref` in bytes (all its layers, as `docker images` shows it)."""
    return int(image_info(ref)["Size"])


def build_image(
    context: str | os.PathLike,
    tag: str,
    *,
    dockerfile: str | os.PathLike | None = None,
    network: str | None = "host",
    build_args: dict[str, str] | None = None,
    options: Iterable[str] = (),
    capture: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`docker build` the folder `context` as `tag`, with host networking by default.

    `options` adds raw `docker build` options such as `("--no-cache",)`.
    """
    args: list[str | os.PathLike] = ["build", "--tag", tag, *options]
    if network:
        args += ["--network", network]
    if dockerfile:
        args += ["--file", dockerfile]
    for name, value in (build_args or {}).items():
        args += ["--build-arg", f"{name}={value}"]
    return docker(*args, context, capture=capture, timeout=timeout)


def run_container(
    image: str,
    *command: str,
    network: str | None = "host",
    env: dict[str, str] | None = None,
    options: Iterable[str] = (),
    detach: bool = True,
    timeout: float | None = None,
) -> str:
    """Start a container from `image` and return its id (detached) or its output (not detached).

    Host networking by default; `options` adds raw `docker run` options such as
    `("--user", "1000:1000", "--read-only")`. Detached containers are not
    removed automatically; call `remove_container()`.
    """
    args = ["run"] + (["--detach"] if detach else ["--rm"])
    if network:
        args += ["--network", network]
    for name, value in (env or {}).items():
        args += ["--env", f"{name}={value}"]
    result = docker(*args, *options, image, *command, timeout=timeout)
    return result.stdout.strip()


def container_logs(container: str) -> str:
    """Everything the container printed so far (stdout and stderr together)."""
    result = docker("logs", container, check=False)
    return (result.stdout or "") + (result.stderr or "")


def remove_container(container: str) -> None:
    """Stop and remove a container; no error if it is already gone."""
    docker("rm", "--force", container, check=False)


def _main(argv: list[str] | None = None) -> int:
    """`python -m serverless_dl.containers.docker_engine [status|start|stop]`, for a shell."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m serverless_dl.containers.docker_engine",
        description="Find or start the Docker engine the course uses.",
    )
    parser.add_argument(
        "action",
        nargs="?",
        default="status",
        choices=["status", "start", "stop"],
        help="status: say which engine answers; start: start dockerd under build/docker and "
        "leave it running, then print the export line; stop: stop that dockerd",
    )
    action = parser.parse_args(argv).action
    try:
        if action == "stop":
            pid = _read_pid(state_dir() / "dockerd.pid")
            if pid is None:
                print("no dockerd started by this repository is running")
                return 0
            os.kill(pid, signal.SIGTERM)
            for _ in range(300):
                if _read_pid(state_dir() / "dockerd.pid") != pid:
                    break
                time.sleep(0.1)
            _unmount_leftovers()
            print(f"stopped dockerd (pid {pid})")
            return 0
        if action == "status":
            for host in _candidates():
                if answers(host):
                    print(f"export DOCKER_HOST={host}")
                    return 0
            print(
                "no Docker engine answers; "
                "`python -m serverless_dl.containers.docker_engine start` starts one"
            )
            return 1
        engine = ensure_engine()
        if engine.started:
            atexit.unregister(engine.stop)  # leave it running for the shell
            engine._process = None
        print(f"export DOCKER_HOST={engine.host}")
        return 0
    except (DockerUnavailable, DockerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(_main())
