"""An image built for the other CPU, to show what "exec format error" looks like (course plumbing).

An image built on an arm64 machine (an Apple Silicon Mac) without `--platform linux/amd64`
holds arm64 programs, and an x86_64 machine or an x86_64 Lambda function cannot run them.
No arm64 base image can be pulled here, so `import_arm64_entrypoint_image` makes the
smallest such image instead: one file, the Runtime Interface Emulator built for arm64
(the SAM CLI ships it next to the x86_64 build), stored where AWS's base images keep
their entrypoint, `/lambda-entrypoint.sh`.
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import tarfile
import tempfile
from pathlib import Path

from serverless_dl.base.commands import run_command
from serverless_dl.base.paths import VENVS
from serverless_dl.containers.docker_engine import docker_cli, ensure_engine

ENTRYPOINT = "/lambda-entrypoint.sh"
PROBE_TAG = "clothing-model:arm64-probe"
ARM64_RIE_PATTERN = "aws/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-arm64"


class ForeignArchitectureError(RuntimeError):
    """The probe image cannot show the error on this machine."""


def arm64_program() -> Path:
    """The arm64 build of the Runtime Interface Emulator that the SAM CLI of `.venvs/aws` ships."""
    found = sorted(VENVS.glob(ARM64_RIE_PATTERN))
    if not found:
        raise ForeignArchitectureError("no arm64 emulator in .venvs/aws; run `make setup` first")
    return found[0]


def entrypoint_archive(program: Path) -> bytes:
    """A tar archive holding `program` as `/lambda-entrypoint.sh`, executable."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = archive.gettarinfo(str(program), arcname=ENTRYPOINT.lstrip("/"))
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "root", "root"
        with program.open("rb") as handle:
            archive.addfile(info, handle)
    return buffer.getvalue()


def import_arm64_entrypoint_image(tag: str = PROBE_TAG) -> str:
    """`docker import` a one-file image whose entrypoint is an arm64 program; return its tag."""
    if platform.machine() in ("aarch64", "arm64"):
        raise ForeignArchitectureError("this machine is arm64 itself and runs the probe fine")
    engine = ensure_engine()
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "entrypoint.tar"  # a file: run_command's pipes carry text
        archive.write_bytes(entrypoint_archive(arm64_program()))
        run_command(
            [docker_cli(), "import", "--change", f'ENTRYPOINT ["{ENTRYPOINT}"]', archive, tag],
            error=ForeignArchitectureError,
            what="`docker import` of the arm64 probe",
            env=engine.env(),
            timeout=120,
        )
    return tag


def run_entrypoint(tag: str = PROBE_TAG, seconds: float = 60) -> str:
    """`docker run --rm TAG` and return the last line it printed (the error, on x86_64).

    A machine with arm64 emulation registered (qemu through binfmt_misc) would start the
    emulator instead, which then waits for requests; the timeout turns that into an error.
    """
    engine = ensure_engine()
    name = f"arm64-probe-{os.getpid()}"
    try:
        run = subprocess.run(
            [docker_cli(), "run", "--rm", "--name", name, "--network", "none", tag],
            env=engine.env(),
            capture_output=True,
            text=True,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired:
        subprocess.run([docker_cli(), "rm", "--force", name], env=engine.env(), capture_output=True)
        raise ForeignArchitectureError(
            "the arm64 program started: this machine emulates arm64 (binfmt_misc)"
        ) from None
    printed = (run.stdout + run.stderr).strip().splitlines()
    return printed[-1] if printed else f"exit code {run.returncode}"
