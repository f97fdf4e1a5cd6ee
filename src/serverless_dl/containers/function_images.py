"""The course's Lambda function images: build them from `docker/`, measure them, run them.

Two images, one per Lambda runtime path (lesson 03 explains why there are two):

- classic: `docker/Dockerfile` -> `clothing-model`, FROM `public.ecr.aws/lambda/python:3.11`
- modern: `docker/Dockerfile.modern` -> `clothing-model:modern`, FROM `...python:3.13`

Both are built exactly as a learner builds them, from the repository root
(`docker build --platform linux/amd64 -f docker/Dockerfile -t clothing-model .`);
`--platform` names the Docker platform of the function's architecture (x86_64 in
`docker/template.yaml`), so the image also fits Lambda when it is built on an
arm64 machine. The root `.dockerignore` trims the context to the handlers, the
model and the requirement files. The base image comes from
`serverless_dl.containers.lambda_base`: AWS's own if present or pullable, else the offline
stand-in.

`lambda_like_options()` gives the `docker run` options that make a container
run as Lambda runs a function: another user than root, a read-only root file
system with only /tmp writable, and a memory limit without swap.

Course plumbing for lesson 06, where a learner's own `docker run -p 8080:8080`
and `curl` commands run as typed:

- `claim_published_port()` lets runs of the lesson on one machine take turns
  with port 8080 and the `clothing-model*` container names (a lock file), and
  says in one line when another program holds the port.
- `serve_images_inside()` gives a running function container something to
  fetch on a machine without internet: a sidecar container joins its network
  and process namespaces, adds the pretend public address 1.2.3.4 to that
  network's loopback interface and serves `images/` there. The handler's
  guards see a public URL; the bytes never leave the container's namespace.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import socket
import tempfile
import textwrap
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.attacks.pretend_internet import PRETEND_PUBLIC_ADDRESS
from serverless_dl.base.paths import DOCKER, IMAGES, ROOT, in_repo
from serverless_dl.containers import docker_engine, lambda_base
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.function.sources import is_url

# Lambda runs functions as an unprivileged user; any uid other than 0 shows the same effects.
LAMBDA_USER = "1000:1000"
LAMBDA_TMP_MB = 512  # Lambda's default ephemeral storage (/tmp)
# The function's instruction set architecture (`Architectures` in docker/template.yaml), and
# the Docker platform an image must have to run on each of Lambda's architectures.
FUNCTION_ARCHITECTURE = "x86_64"
LAMBDA_PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
_FROM_LINE = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)", re.MULTILINE)


class FunctionImageError(RuntimeError):
    """A function image could not be built or found; the message says why in one line."""


@dataclass(frozen=True)
class FunctionImage:
    """One of the course's function images: its Dockerfile and the tag it is built as."""

    flavour: str
    dockerfile: Path
    tag: str

    @property
    def base(self) -> str:
        """The base image named by the Dockerfile's FROM line."""
        match = _FROM_LINE.search(self.dockerfile.read_text())
        if match is None:
            raise FunctionImageError(f"{self.dockerfile} has no FROM line")
        return match["image"]

    @property
    def python_version(self) -> str:
        """The Python version of the base image, e.g. `3.11`."""
        return self.base.rsplit(":", 1)[1]

    @property
    def platform(self) -> str:
        """The Docker platform of the function's architecture, e.g. `linux/amd64` for x86_64."""
        return LAMBDA_PLATFORMS[FUNCTION_ARCHITECTURE]

    def build_command(self) -> str:
        """The command a learner types in the repository root to build this image."""
        dockerfile = self.dockerfile.relative_to(ROOT)
        return f"docker build --platform {self.platform} -f {dockerfile} -t {self.tag} ."


FUNCTION_IMAGES = {
    "classic": FunctionImage("classic", DOCKER / "Dockerfile", "clothing-model"),
    "modern": FunctionImage("modern", DOCKER / "Dockerfile.modern", "clothing-model:modern"),
}


# Lesson 03's third runtime, ONNX Runtime, on the python3.13 base image. It is not one of the
# two paths that lessons 06-08 build and deploy, so it stays out of FUNCTION_IMAGES.
ONNX_IMAGE = FunctionImage("onnx", DOCKER / "Dockerfile.onnx", "clothing-model:onnx")


def function_image(flavour: str) -> FunctionImage:
    """The function image of `flavour` (`classic` or `modern`)."""
    if flavour not in FUNCTION_IMAGES:
        known = ", ".join(FUNCTION_IMAGES)
        raise FunctionImageError(f"unknown image flavour {flavour!r}; choose one of {known}")
    return FUNCTION_IMAGES[flavour]


@dataclass(frozen=True)
class BuiltImage:
    """A function image after `docker build`: its size, its base's size, how long the build took."""

    tag: str
    base: str
    seconds: float
    size_bytes: int
    base_size_bytes: int

    @property
    def added_bytes(self) -> int:
        """What the course's layers add on top of the base image."""
        return self.size_bytes - self.base_size_bytes


def build_function_image(
    flavour: str | FunctionImage,
    *,
    log: Callable[[str], None] = lambda message: None,
    timeout: float = 1800,
) -> BuiltImage:
    """Build the `flavour` image (or another `FunctionImage`) from the repository root; measure it.

    Makes the base image available first (`make docker-base`). Docker's layer
    cache makes a rebuild with unchanged inputs take seconds.
    """
    image = flavour if isinstance(flavour, FunctionImage) else function_image(flavour)
    lambda_base.ensure_base_image(image.python_version, log=log)
    log(f"$ {image.build_command()}")
    started = time.perf_counter()
    try:
        docker_engine.build_image(
            ROOT,
            image.tag,
            dockerfile=image.dockerfile,
            options=["--platform", image.platform],
            timeout=timeout,
        )
    except docker_engine.DockerError as error:
        raise FunctionImageError(f"building {image.tag} failed: {error}") from None
    return BuiltImage(
        tag=image.tag,
        base=image.base,
        seconds=time.perf_counter() - started,
        size_bytes=docker_engine.image_size(image.tag),
        base_size_bytes=docker_engine.image_size(image.base),
    )


def lambda_like_options(memory_mb: int) -> tuple[str, ...]:
    """`docker run` options that run a container the way Lambda runs a function.

    Not root; a read-only root file system with a writable /tmp of Lambda's
    default size; `memory_mb` of memory and no swap (Lambda has none).
    """
    return (
        "--user", LAMBDA_USER,
        "--read-only",
        "--tmpfs", f"/tmp:rw,size={LAMBDA_TMP_MB}m",
        "--memory", f"{memory_mb}m",
        "--memory-swap", f"{memory_mb}m",
    )  # fmt: skip


def peak_memory_bytes(container: str) -> int | None:
    """The most memory the container has used so far, as its cgroup counts it (None if unknown)."""
    for path in ("/sys/fs/cgroup/memory/memory.max_usage_in_bytes", "/sys/fs/cgroup/memory.peak"):
        result = docker_engine.docker("exec", container, "cat", path, check=False)
        if result.returncode == 0 and result.stdout.strip().isdecimal():
            return int(result.stdout.strip())
    return None


# Run inside the container: the peak resident set (VmHWM) of its Python runtime process. Python
# started with -c is this script itself or lesson 06's image server, which shares the namespace.
_RUNTIME_PEAK_SCRIPT = textwrap.dedent("""
    import os, pathlib
    peaks = [0]
    for folder in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            argv = (folder / "cmdline").read_bytes().decode().split("\\0")
            status = (folder / "status").read_text().splitlines()
        except OSError:
            continue
        if "python" in os.path.basename(argv[0]) and argv[1:2] != ["-c"]:
            peaks += [int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")]
    print(max(peaks))
""")


def runtime_peak_rss_bytes(container: str) -> int | None:
    """The peak resident set (`VmHWM`) of the Python runtime process in the container, if any.

    This is what lesson 13 reports as peak memory: every page the process had in
    RAM at its peak, shared libraries and the mapped model included.
    """
    result = docker_engine.docker("exec", container, "python", "-c", _RUNTIME_PEAK_SCRIPT,
                                  check=False)  # fmt: skip
    value = result.stdout.strip()
    return int(value) if result.returncode == 0 and value.isdecimal() and value != "0" else None


# Course plumbing for lesson 06: runs of the lesson on one machine take turns with the port
# that a learner's `docker run -p 8080:8080` publishes, and with its container's name.
PORT_WAIT_SECONDS = 900
_claimed_ports: dict[int, int] = {}  # port -> the descriptor of its lock file, open until exit


def _port_is_free(port: int, seconds: float = 2) -> bool:
    """True if nothing on this machine listens on `port` (any address), as `docker run -p` needs.

    Retries for a few `seconds`: a container just removed may release its port a moment later.
    """
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", port))
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
        time.sleep(0.2)


def remove_containers_named(prefix: str) -> None:
    """Remove every container whose name starts with `prefix`, running or not."""
    listed = docker_engine.docker("ps", "--all", "--format", "{{.Names}}", check=False).stdout
    for name in listed.split():
        if name.startswith(prefix):
            docker_engine.remove_container(name)


def claim_published_port(
    port: int = 8080, name_prefix: str = "clothing-model", *, seconds: float = PORT_WAIT_SECONDS
) -> None:
    """Course plumbing: take port `port` and the container names starting with `name_prefix`.

    Waits while another process that called this (another run of the lesson on
    this machine) holds them, through a lock file in the temporary folder that
    the operating system releases when the process ends. Then removes the
    containers of those names that a failed earlier run left behind, raises
    `FunctionImageError` with a one-line reason if another program listens on
    `port`, and otherwise makes sure the containers are removed when this
    process exits.
    """
    if port in _claimed_ports:
        return
    path = Path(tempfile.gettempdir()) / f"serverless-dl-port-{port}.lock"
    lock = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)  # flock needs no write access
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(lock)
                raise FunctionImageError(
                    f"another run of this lesson has held port {port} for {seconds:.0f} s "
                    f"(lock {path}); wait for it to finish, then run again"
                ) from None
            time.sleep(0.5)
    remove_containers_named(name_prefix)
    if not _port_is_free(port):
        os.close(lock)
        publishers = docker_engine.docker(
            "ps", "--filter", f"publish={port}", "--format", "{{.Names}}", check=False
        ).stdout.split()
        holder = f"container {publishers[0]}" if publishers else "another program"
        raise FunctionImageError(f"port {port} is in use by {holder}; stop it, then run again")
    _claimed_ports[port] = lock
    atexit.register(remove_containers_named, name_prefix)


# Run in the sidecar: add the pretend address to the shared loopback interface, serve
# /images there, then wait for the function's emulator and say "ready".
_WEB_SERVER_SCRIPT = textwrap.dedent("""
    import fcntl, functools, http.server, socket, struct, sys, threading, time
    address, emulator_port = sys.argv[1], int(sys.argv[2])

    def set_address(request, ip):  # ioctl(SIOCSIFADDR / SIOCSIFNETMASK) on the alias lo:1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sockaddr = struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton(ip))
            fcntl.ioctl(sock, request, struct.pack("16s", b"lo:1") + sockaddr)

    set_address(0x8916, address)
    set_address(0x891C, "255.255.255.255")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/images")
    handler.func.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer((address, 80), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:
        try:
            socket.create_connection(("127.0.0.1", emulator_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    print("ready", flush=True)
    threading.Event().wait()
""")
SIDECAR_LABEL = "serverless-dl.pretend-web-server"
SIDECAR_SECONDS = 60


def serve_images_inside(
    container: str,
    folder: str | Path = IMAGES,
    *,
    emulator_port: int = 8080,
    seconds: float = SIDECAR_SECONDS,
) -> str:
    """Course plumbing: serve `folder` at http://1.2.3.4/ inside `container`'s network only.

    On a machine without internet a function has nothing public to fetch. A
    sidecar container (the same image, as root, with NET_ADMIN) joins the
    function container's network namespace, adds the pretend public address
    `PRETEND_PUBLIC_ADDRESS` to its loopback interface and serves `folder` read-only
    on port 80. Neither the host nor any other container sees that address.
    It joins the process namespace too, so it ends when the function's
    container stops. Returns once both it and the function's emulator (on
    `emulator_port`) answer: the base URL, `http://1.2.3.4`.
    """
    folder = in_repo(folder)
    if not folder.is_dir():
        raise FunctionImageError(f"{folder} is not a folder")
    info = docker_engine.docker("inspect", container, check=False)
    if info.returncode != 0 or not json.loads(info.stdout)[0]["State"]["Running"]:
        raise FunctionImageError(f"container {container} is not running; start it first")
    sidecar = f"serverless-dl-web-{uuid.uuid4().hex[:12]}"
    docker_engine.run_container(
        json.loads(info.stdout)[0]["Config"]["Image"],
        "-c", _WEB_SERVER_SCRIPT, PRETEND_PUBLIC_ADDRESS, str(emulator_port),
        network=f"container:{container}",
        options=[
            "--rm", "--name", sidecar, "--label", f"{SIDECAR_LABEL}={container}",
            "--pid", f"container:{container}", "--cap-add", "NET_ADMIN",
            "--user", "0:0", "--read-only", "--entrypoint", "python",
            "--volume", f"{folder}:/images:ro",
        ],
    )  # fmt: skip
    deadline, logs = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        logs = docker_engine.container_logs(sidecar)
        if "ready" in logs.split():
            return f"http://{PRETEND_PUBLIC_ADDRESS}"
        if docker_engine.docker("inspect", sidecar, check=False).returncode != 0:
            break  # it exited (--rm removed it), or the function's container stopped
        time.sleep(0.1)
    docker_engine.remove_container(sidecar)
    tail = " | ".join(logs.strip().splitlines()[-3:]) or "no output"
    raise FunctionImageError(f"the image server inside {container} did not start: {tail}")


@contextlib.contextmanager
def image_url(image: str) -> Iterator[str]:
    """Yield an http(s) URL for `image`: a URL as it is, a local file served on 127.0.0.1.

    A function fetches its input from a URL; offline, and in tests, that URL
    points at a small web server on the loopback interface.
    """
    if is_url(image):
        yield image
        return
    path = in_repo(image)
    if not path.is_file():
        raise FileNotFoundError(f"image {image!r} is neither an http(s) URL nor a file")
    with serve_directory(path.parent) as base_url:
        yield f"{base_url}/{urllib.parse.quote(path.name)}"
