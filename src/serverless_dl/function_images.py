"""The course's Lambda function images: build them from `docker/`, measure them, run them.

Two images, one per Lambda runtime path (lesson 03 explains why there are two):

- classic: `docker/Dockerfile` -> `clothing-model`, FROM `public.ecr.aws/lambda/python:3.11`
- modern: `docker/Dockerfile.modern` -> `clothing-model:modern`, FROM `...python:3.13`

Both are built exactly as a learner builds them, from the repository root
(`docker build -f docker/Dockerfile -t clothing-model .`); the root
`.dockerignore` trims that context to the handler, the model and the
requirement files. The base image comes from `serverless_dl.lambda_base`:
AWS's own if present or pullable, else the offline stand-in.

`lambda_like_options()` gives the `docker run` options that make a container
run as Lambda runs a function: another user than root, a read-only root file
system with only /tmp writable, and a memory limit without swap.
"""

from __future__ import annotations

import contextlib
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from serverless_dl import docker_engine, lambda_base
from serverless_dl.imageserver import serve_directory
from serverless_dl.paths import DOCKER, ROOT, in_repo

# Lambda runs functions as an unprivileged user; any uid other than 0 shows the same effects.
LAMBDA_USER = "1000:1000"
LAMBDA_TMP_MB = 512  # Lambda's default ephemeral storage (/tmp)
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

    def build_command(self) -> str:
        """The command a learner types in the repository root to build this image."""
        return f"docker build -f {self.dockerfile.relative_to(ROOT)} -t {self.tag} ."


FUNCTION_IMAGES = {
    "classic": FunctionImage("classic", DOCKER / "Dockerfile", "clothing-model"),
    "modern": FunctionImage("modern", DOCKER / "Dockerfile.modern", "clothing-model:modern"),
}


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
    flavour: str, *, log: Callable[[str], None] = lambda message: None, timeout: float = 1800
) -> BuiltImage:
    """Build the `flavour` image from the repository root and measure it.

    Makes the base image available first (`make docker-base`). Docker's layer
    cache makes a rebuild with unchanged inputs take seconds.
    """
    image = function_image(flavour)
    lambda_base.ensure_base_image(image.python_version, log=log)
    log(f"$ {image.build_command()}")
    started = time.perf_counter()
    try:
        docker_engine.build_image(ROOT, image.tag, dockerfile=image.dockerfile, timeout=timeout)
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


@contextlib.contextmanager
def image_url(image: str) -> Iterator[str]:
    """Yield an http(s) URL for `image`: a URL as it is, a local file served on 127.0.0.1.

    A function fetches its input from a URL; offline, and in tests, that URL
    points at a small web server on the loopback interface.
    """
    if urllib.parse.urlsplit(image).scheme in ("http", "https"):
        yield image
        return
    path = in_repo(image)
    if not path.is_file():
        raise FileNotFoundError(f"image {image!r} is neither an http(s) URL nor a file")
    with serve_directory(path.parent) as base_url:
        yield f"{base_url}/{urllib.parse.quote(path.name)}"
