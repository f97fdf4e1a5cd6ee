"""The processes behind the local AWS account of lessons 07, 08, 10 and 11, served on 127.0.0.1.

- `MotoServer`: moto's server mode answers the ECR, IAM, Lambda, API Gateway
  and STS APIs, so the AWS CLI and boto3 make the same calls as against AWS.
  It keeps their state in memory. It does not run container-image functions
  and does not serve API Gateway stages.
- `LocalRegistry`: Debian's `docker-registry`, a real image registry that
  `docker login`, `docker push` and `docker pull` talk to. It plays the ECR
  registry endpoint (`<account>.dkr.ecr.<region>.amazonaws.com`); Docker
  accepts plain HTTP from registries on 127.0.0.1.
- `FrontServer`: `serverless_dl.aws.aws_front`, the endpoint every AWS call goes
  to: moto, with container-image invocations run by the real RIE.

Each runs on a free loopback port and writes its log under the folder it is
given. `serverless_dl.aws.local_account` starts the three detached, so that they
outlive a notebook kernel, and stops them; a test can also use one alone:
`with MotoServer(folder) as moto:` stops it on exit, or at the latest when the
Python process exits.

Typical use::

    with MotoServer(work_dir) as moto, LocalRegistry(work_dir) as registry:
        print(moto.url, registry.address)
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base import processes
from serverless_dl.function.envs import VENVS, aws_tool, clean_environment

START_SECONDS = 30
# Single-platform image manifests (what Lambda runs), then indexes and lists (which it refuses).
IMAGE_MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
INDEX_MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)


class LocalServiceError(RuntimeError):
    """A local stand-in could not be started or asked; the message says why in one line."""


class LocalService:
    """A background server on 127.0.0.1:`port` whose output goes to `<folder>/<name>.log`."""

    name = "service"

    def __init__(self, folder: str | Path, port: int | None = None):
        self.folder = Path(folder)
        self.port = port or processes.free_port()
        self._process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        """Everything the server printed, this run and earlier ones."""
        return self.folder / f"{self.name}.log"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        # AWS variables of the caller (a profile, the front's own endpoint) are not theirs.
        return {name: value for name, value in clean_environment().items()
                if not name.startswith("AWS_")}  # fmt: skip

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process else None

    def start(self, *, detach: bool = False) -> LocalService:
        """Start the server and wait until it accepts connections.

        `detach` leaves it running when this Python process exits (the local
        account stops it by its pid); otherwise it is stopped at exit.
        """
        if self._process is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        command = self._command()
        with self.log_path.open("ab") as log:
            # A session of its own: Ctrl-C in a notebook must not reach it, and stop() ends
            # it together with any child it starts.
            self._process = processes.start_in_session(command, log, env=self._environment())
        if not detach:
            atexit.register(self.stop)
        try:
            processes.wait_for_port(self.port, START_SECONDS, self._process)
        except processes.NotReady as error:
            self.stop()
            tail = processes.last_lines(self.logs(), 3)
            raise LocalServiceError(f"{self.name} did not start ({error}): {tail}") from None
        return self

    def logs(self) -> str:
        """What the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server if it runs; safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        processes.stop_process_group(process)

    def forget(self) -> None:
        """Leave the server running, no longer stopped by this object (see `start(detach=True)`)."""
        self._process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def moto_version() -> str:
    """The version of moto in `.venvs/aws`, from its installed metadata."""
    found = sorted(VENVS.glob("aws/lib/python3*/site-packages/moto-*.dist-info"))
    return found[-1].name.removeprefix("moto-").removesuffix(".dist-info") if found else "unknown"


class MotoServer(LocalService):
    """moto in server mode: one endpoint for every AWS API the course calls."""

    name = "moto"

    @property
    def url(self) -> str:
        """The endpoint URL (what `AWS_ENDPOINT_URL` or `--endpoint-url` takes)."""
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        return [str(aws_tool("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)]

    def _environment(self) -> dict[str, str]:
        return {
            **super()._environment(),
            # Lambda checks that an image function's ImageUri names an image pushed to ECR,
            # as AWS does (moto's default accepts any URI).
            "MOTO_LAMBDA_STUB_ECR": "false",
            # AWS-managed policies such as AWSLambdaBasicExecutionRole exist, as on AWS.
            "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        }


@dataclass(frozen=True)
class Manifest:
    """An image manifest as a registry serves it."""

    body: bytes
    media_type: str
    digest: str


class LocalRegistry(LocalService):
    """Debian's docker-registry, storing images under `<folder>/registry`."""

    name = "registry"

    @property
    def address(self) -> str:
        """The registry's host:port, as `docker login`, `tag` and `push` take it."""
        return f"127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise LocalServiceError(
                "docker-registry is not installed (Debian: apt-get install docker-registry)"
            )
        config = self.folder / "registry.yml"
        # JSON is YAML too; no authentication, as any `docker login` is then accepted.
        config.write_text(
            json.dumps(
                {
                    "version": 0.1,
                    "log": {"level": "warn", "accesslog": {"disabled": True}},
                    "storage": {
                        "filesystem": {"rootdirectory": str(self.folder / "registry")},
                        "delete": {"enabled": True},
                    },
                    "http": {"addr": self.address},
                },
                indent=2,
            )
        )
        return [binary, "serve", str(config)]

    def manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest of `repository:reference` (a tag or a digest), as it was pushed.

        An index is returned as an index, so that a check sees what Lambda would see.
        """
        request = urllib.request.Request(
            f"http://{self.address}/v2/{repository}/manifests/{reference}",
            headers={"Accept": ", ".join(IMAGE_MANIFEST_TYPES + INDEX_MANIFEST_TYPES)},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Manifest(
                    body=response.read(),
                    media_type=response.headers["Content-Type"],
                    digest=response.headers["Docker-Content-Digest"],
                )
        except urllib.error.HTTPError as error:
            raise LocalServiceError(
                f"the registry has no image {repository}:{reference} (HTTP {error.code})"
            ) from None


class FrontServer(LocalService):
    """`serverless_dl.aws.aws_front` on 127.0.0.1: moto, with image invocations run by the RIE."""

    name = "front"

    def __init__(self, folder: str | Path, moto_url: str, registry: str, port: int | None = None):
        super().__init__(folder, port)
        self.moto_url = moto_url
        self.registry = registry

    @property
    def url(self) -> str:
        """The endpoint URL of the local account (`AWS_ENDPOINT_URL`)."""
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        return [
            sys.executable, "-m", "serverless_dl.aws.aws_front", "--port", str(self.port),
            "--moto", self.moto_url, "--registry", self.registry, "--folder", str(self.folder),
        ]  # fmt: skip
