"""The AWS Lambda Python base images, or local stand-ins when they cannot be pulled.

A learner's Dockerfile starts with `FROM public.ecr.aws/lambda/python:3.11`.
Online, `docker pull` gets AWS's image. On the course's offline machines no
container registry is reachable, so `make docker-base`
(`python -m serverless_dl.containers.lambda_base`) builds a stand-in from Debian and tags
it with the real name, so the same Dockerfile builds unchanged:

- `debootstrap --variant=minbase` of bookworm (Python 3.11) or trixie
  (Python 3.13), cached as a tarball under `build/lambda-base/`,
- `docker import` of that tarball,
- the Dockerfile in `templates/lambda_base/` on top: Python at
  `/var/lang/bin`, awslambdaric in `/var/runtime`, the real Runtime Interface
  Emulator (from the SAM CLI wheel) at `/usr/local/bin/aws-lambda-rie`,
  `/lambda-entrypoint.sh` as ENTRYPOINT, WORKDIR `/var/task`.

A stand-in carries the label `serverless-dl.stand-in=true` and a
digest of everything it was built from; when that changes, the next run
rebuilds it. A real AWS image that is already present is never touched.

`start_function()` runs any Lambda function image (stand-in or real) on
127.0.0.1 with host networking, the way `sam local` does: the image's own
emulator, on ports of our choosing, in front of the image's entrypoint.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from serverless_dl.base.commands import run_command
from serverless_dl.base.paths import BUILD
from serverless_dl.base.processes import NotReady, free_port, port_answers, wait_until
from serverless_dl.containers import docker_engine
from serverless_dl.containers.docker_engine import (
    DockerError,
    DockerUnavailable,
    docker,
    image_exists,
)
from serverless_dl.function.rie import (
    INVOKE_PATH,
    EmulatorError,
    Invocation,
    find_rie,
    post_json,
)

REPOSITORY = "public.ecr.aws/lambda/python"
DEBIAN_SUITES = {"3.11": "bookworm", "3.13": "trixie"}
SUPPORTED_VERSIONS = tuple(DEBIAN_SUITES)
AWSLAMBDARIC_VERSION = "4.2.2"
DEBIAN_MIRROR = os.environ.get("SERVERLESS_DL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = BUILD / "lambda-base"
STAND_IN_LABEL = "serverless-dl.stand-in"
DIGEST_LABEL = "serverless-dl.stand-in.digest"
RIE_IN_IMAGE = "/usr/local/bin/aws-lambda-rie"  # where AWS's images and the stand-ins keep it

_TEMPLATE_FILES = ("Dockerfile", "lambda-entrypoint.sh", "bootstrap", "pip.conf")
_HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Debian directories a Lambda base image has no use for; removed to keep the image small.
_ROOTFS_TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "var/cache/apt/archives")


class LambdaBaseError(RuntimeError):
    """A base image could neither be found, pulled nor built; the message says why in one line."""


def image_name(version: str) -> str:
    """The AWS name of the Lambda Python base image for `version`, e.g. `...python:3.11`."""
    if version not in DEBIAN_SUITES:
        raise LambdaBaseError(
            f"no stand-in for Python {version}; choose one of {', '.join(SUPPORTED_VERSIONS)}"
        )
    return f"{REPOSITORY}:{version}"


def _rootfs_packages(version: str) -> list[str]:
    packages = [f"python{version}", f"python{version}-venv", "ca-certificates"]
    if version == "3.11":
        # debootstrap does not resolve virtual packages: bookworm's venv needs
        # python3.11-distutils, which python3-distutils provides.
        packages.append("python3-distutils")
    return packages


def _digest(*parts: bytes | str) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else part.encode())
        sha.update(b"\0")
    return sha.hexdigest()[:16]


def _template_dir():
    return files("serverless_dl") / "templates" / "lambda_base"


def stand_in_digest(version: str) -> str:
    """A digest of everything a stand-in for `version` is built from.

    Templates, package list, awslambdaric pin, the emulator binary and the
    host's CA bundle: if any of them changes, the stand-in is rebuilt.
    """
    template = _template_dir()
    return _digest(
        DEBIAN_SUITES[version],
        *_rootfs_packages(version),
        AWSLAMBDARIC_VERSION,
        *((template / name).read_bytes() for name in _TEMPLATE_FILES),
        hashlib.sha256(find_rie().read_bytes()).hexdigest(),
        _HOST_CA_BUNDLE.read_bytes() if _HOST_CA_BUNDLE.exists() else b"",
    )


def is_stand_in(ref: str) -> bool:
    """True if the local image `ref` is a stand-in built by this module (not AWS's image)."""
    labels = docker_engine.image_info(ref)["Config"].get("Labels") or {}
    return labels.get(STAND_IN_LABEL) == "true"


def _run(command: list[str], what: str, timeout: float) -> None:
    try:
        run_command(command, error=LambdaBaseError, what=what, quote="both", lines=3,
                    timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise LambdaBaseError(f"{what} did not finish within {timeout:.0f} s") from None


def _rootfs_name(version: str) -> str:
    suite = DEBIAN_SUITES[version]
    return f"{suite}-minbase-{_digest(suite, *_rootfs_packages(version))}"


def rootfs_tarball(version: str, log: Callable[[str], None] = print) -> Path:
    """Return the cached Debian minbase rootfs tarball for `version`, bootstrapping it if needed."""
    suite = DEBIAN_SUITES[version]
    packages = _rootfs_packages(version)
    tarball = CACHE / f"{_rootfs_name(version)}.tar"
    if tarball.exists():
        return tarball
    if shutil.which("debootstrap") is None:
        raise LambdaBaseError("debootstrap is not installed (Debian: apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise LambdaBaseError("building a stand-in base image needs root (debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=f"{suite}-rootfs-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        log(f"debootstrap --variant=minbase {suite} (about a minute) ...")
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}"]
        try:
            _run([*command, suite, str(rootfs), DEBIAN_MIRROR], f"debootstrap {suite}", 1800)
        except LambdaBaseError as error:
            kept = CACHE / f"debootstrap-{suite}.log"
            with contextlib.suppress(OSError):
                shutil.copyfile(rootfs / "debootstrap" / "debootstrap.log", kept)
            raise LambdaBaseError(f"{error} (full log: {kept})") from None
        for folder in _ROOTFS_TRIM:
            shutil.rmtree(rootfs / folder, ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        for lists in (rootfs / "var/lib/apt/lists").glob("*_*"):
            lists.unlink()
        partial = tarball.with_suffix(".tar.partial")
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], "tar", 600)
        partial.replace(tarball)
    log(f"  {tarball.relative_to(BUILD.parent)} in {time.monotonic() - started:.0f} s")
    return tarball


def _rootfs_image(version: str, log: Callable[[str], None]) -> str:
    tarball = rootfs_tarball(version, log)
    tag = f"serverless-dl/debian:{_rootfs_name(version)}"
    if not image_exists(tag):
        log(f"docker import {tarball.name} {tag}")
        message = "Debian minbase rootfs (serverless_dl.containers.lambda_base)"
        docker("import", "--message", message, tarball, tag)
    return tag


def build_stand_in(
    version: str, log: Callable[[str], None] = print, *, no_cache: bool = False
) -> None:
    """Build the stand-in for `image_name(version)` from Debian and tag it with the AWS name.

    `no_cache` rebuilds every layer (the Debian root filesystem stays cached).
    """
    tag = image_name(version)
    rootfs_image = _rootfs_image(version, log)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lambda-base-") as workdir:
        context = Path(workdir)
        for name in _TEMPLATE_FILES:
            (context / name).write_bytes((_template_dir() / name).read_bytes())
        shutil.copyfile(find_rie(), context / "aws-lambda-rie")
        # An empty file tells the Dockerfile to keep Debian's own bundle.
        host_bundle = _HOST_CA_BUNDLE.read_bytes() if _HOST_CA_BUNDLE.exists() else b""
        (context / "host-ca-certificates.crt").write_bytes(host_bundle)
        log(f"docker build {tag} (stand-in) ...")
        try:
            docker_engine.build_image(
                context,
                tag,
                network="host",  # pip reaches PyPI the way the host does
                build_args={
                    "ROOTFS_IMAGE": rootfs_image,
                    "PYTHON_VERSION": version,
                    "AWSLAMBDARIC_VERSION": AWSLAMBDARIC_VERSION,
                    "STAND_IN_DIGEST": stand_in_digest(version),
                },
                options=["--no-cache"] if no_cache else [],
                timeout=1800,
            )
        except subprocess.TimeoutExpired:
            raise LambdaBaseError(f"building {tag} did not finish within 30 min") from None
    arch = "arm64" if os.uname().machine in ("aarch64", "arm64") else "x86_64"
    docker("tag", tag, f"{tag}-{arch}")  # AWS publishes both names
    size = docker_engine.image_size(tag)
    log(f"  {tag}: {size / 1e6:.0f} MB in {time.monotonic() - started:.0f} s")


def _present_or_pulled(version: str, force: bool, pull: bool, log: Callable[[str], None]) -> str:
    """Say "present" or "pulled", or "" when a stand-in must be built."""
    tag = image_name(version)
    if not force and image_exists(tag):
        if not is_stand_in(tag):
            return "present"
        labels = docker_engine.image_info(tag)["Config"].get("Labels") or {}
        if labels.get(DIGEST_LABEL) == stand_in_digest(version):
            return "present"
        log(f"{tag}: the stand-in is out of date; rebuilding")
    if pull:
        result = docker("pull", tag, check=False, timeout=300)
        if result.returncode == 0:
            return "pulled"
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        log(f"{tag}: cannot pull ({reason[:160]}); building a local stand-in")
    return ""


def ensure_base_images(
    versions: Iterable[str] = SUPPORTED_VERSIONS,
    *,
    force: bool = False,
    pull: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, str]:
    """Make `public.ecr.aws/lambda/python:<version>` available for each version; say how.

    Each outcome is "present" (AWS's image, or an up-to-date stand-in, was
    already there), "pulled" (`docker pull` got AWS's image) or "built" (a
    stand-in was built). `force` ignores what is present and rebuilds without
    Docker's layer cache; `pull=False` skips the pull attempt.
    """
    outcomes = {version: _present_or_pulled(version, force, pull, log) for version in versions}
    to_build = [version for version, outcome in outcomes.items() if not outcome]
    # debootstrap mostly waits for the mirror: fetch all root filesystems at once.
    with ThreadPoolExecutor(max_workers=max(len(to_build), 1)) as pool:
        list(pool.map(lambda version: rootfs_tarball(version, log), to_build))
    for version in to_build:
        build_stand_in(version, log, no_cache=force)
        outcomes[version] = "built"
    return outcomes


def ensure_base_image(version: str, **options) -> str:
    """Make `public.ecr.aws/lambda/python:<version>` available; see `ensure_base_images`."""
    return ensure_base_images([version], **options)[version]


@dataclass
class FunctionContainer:
    """A Lambda function image running on 127.0.0.1 (see `start_function`)."""

    container: str
    port: int

    @property
    def url(self) -> str:
        """The invoke URL on the loopback interface."""
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def invoke(self, event, timeout: float = 120) -> Invocation:
        """Send one event (any JSON value, or raw bytes) and return the reply."""
        return post_json(self.url, event, timeout=timeout)

    def logs(self) -> str:
        """Everything the emulator and the function printed so far."""
        return docker_engine.container_logs(self.container)

    def stop(self) -> None:
        """Remove the container."""
        docker_engine.remove_container(self.container)

    def __enter__(self) -> FunctionContainer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _running(container: str) -> bool:
    result = docker("inspect", "--format", "{{.State.Running}}", container, check=False)
    return result.stdout.strip() == "true"


def start_function(
    image: str,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    options: Iterable[str] = (),
    start_seconds: float = 60,
) -> FunctionContainer:
    """Run the Lambda function image `image` with host networking; its invoke URL is on 127.0.0.1.

    As `sam local` does, the emulator inside the image
    (`/usr/local/bin/aws-lambda-rie`) runs in front of the image's own
    ENTRYPOINT and CMD, so the entrypoint takes its "inside Lambda" path.
    The emulator listens on 127.0.0.1:`port` (free by default) and talks
    to the runtime on another free loopback port, so containers can run side
    by side. `options` adds `docker run` options such as
    `("--user", "1000:1000", "--read-only", "--tmpfs", "/tmp", "--memory", "512m")`.
    """
    config = docker_engine.image_info(image)["Config"]
    port = port or free_port()
    command = [
        "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
        "--runtime-api-address", f"127.0.0.1:{free_port()}",
        *(config.get("Entrypoint") or []),
        *(config.get("Cmd") or []),
    ]  # fmt: skip
    container = docker_engine.run_container(
        image, *command, env=env, options=["--entrypoint", RIE_IN_IMAGE, *options]
    )
    function = FunctionContainer(container=container, port=port)

    def listening() -> bool:
        if port_answers(port):
            return True
        if not _running(container):
            logs = function.logs()
            raise EmulatorError(f"container of {image} exited before listening:\n{logs[-3000:]}")
        return False

    try:
        wait_until(listening, start_seconds, interval=0.1)
    except NotReady:
        logs = function.logs()
        function.stop()
        raise EmulatorError(
            f"{image} did not listen on 127.0.0.1:{port} within {start_seconds:.0f} s:\n"
            f"{logs[-3000:]}"
        ) from None
    except EmulatorError:
        function.stop()
        raise
    return function


def main(argv: list[str] | None = None) -> int:
    """`python -m serverless_dl.containers.lambda_base`: make the Lambda base images available."""
    parser = argparse.ArgumentParser(
        prog="python -m serverless_dl.containers.lambda_base",
        description="Make public.ecr.aws/lambda/python:<version> available locally: keep it if "
        "present, else pull it, else build an offline stand-in from Debian.",
    )
    parser.add_argument(
        "--python",
        dest="versions",
        action="append",
        choices=SUPPORTED_VERSIONS,
        help="Python version; repeat for several (default: all of %(choices)s)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="ignore an image that is present and rebuild the stand-in without Docker's cache",
    )
    parser.add_argument("--no-pull", action="store_true", help="do not try `docker pull` first")
    args = parser.parse_args(argv)
    try:
        engine = docker_engine.ensure_engine()
        print(f"Docker engine: {engine.host}{' (started)' if engine.started else ''}")
        versions = list(dict.fromkeys(args.versions or SUPPORTED_VERSIONS))
        outcomes = ensure_base_images(versions, force=args.force, pull=not args.no_pull)
        for version, outcome in outcomes.items():
            print(f"{image_name(version)}: {outcome}")
    except (DockerUnavailable, DockerError, LambdaBaseError, EmulatorError) as error:
        parser.exit(1, f"error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
