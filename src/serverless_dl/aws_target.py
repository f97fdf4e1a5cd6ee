"""Where lessons 06 and 07 deploy: your AWS account, or local stand-ins, behind one switch.

The switch is the lesson parameter `aws_profile`:

- `aws_profile = ""` (the default): **local**. `connect()` starts moto (the
  ECR, IAM, Lambda and API Gateway APIs) and Debian's docker-registry (the
  registry that images are pushed to) on 127.0.0.1, and points every AWS
  client of this process and of the commands it runs at moto:
  `AWS_ENDPOINT_URL`, dummy credentials and `AWS_DEFAULT_REGION`. Docker
  logins are kept in the lesson's work folder (`DOCKER_CONFIG`).
- `aws_profile = "my-profile"`: **AWS**. `connect()` sets `AWS_PROFILE` and
  `AWS_DEFAULT_REGION` (and clears anything that would redirect or override
  them); the same boto3 calls and the same `aws ...` commands then act on
  your account, and cost money.

The variables are restored by `close()`, so the switch never outlives the target.

Two things moto does not do are supplied here, in local mode only:

- `record_push()` tells moto's ECR about an image pushed to the local
  registry (its real manifest and digest), as ECR learns about a push itself;
- `invoke()` runs a container-image function for real: it reads the
  function's configuration from the Lambda API (image digest, memory,
  timeout, variables), pulls exactly that image from the local registry and
  sends the event to the runtime interface emulator inside it, in a container
  run as Lambda runs one (`function_images.lambda_like_options`). The
  container stays warm between invocations, as Lambda's execution
  environments do.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from serverless_dl import docker_engine
from serverless_dl.aws_local import LocalRegistry, MotoServer, moto_version
from serverless_dl.envs import aws_tool, clean_environment
from serverless_dl.function_images import image_url, lambda_like_options
from serverless_dl.lambda_base import FunctionContainer, start_function
from serverless_dl.lambda_local import ALLOW_LOOPBACK
from serverless_dl.paths import in_repo
from serverless_dl.rie import parse_init_durations, parse_reports

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Every variable the switch sets or clears; close() restores all of them.
_SWITCHED_VARIABLES = (
    "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DOCKER_CONFIG",
)  # fmt: skip
SHELL_TIMEOUT_SECONDS = 900
REPORT_WAIT_SECONDS = 5


class AwsTargetError(RuntimeError):
    """A deployment step failed or a parameter is unusable; the message says why in one line."""


@dataclass
class InvokeResult:
    """One invocation of a Lambda function: its answer and what Lambda logged about it."""

    payload: object
    function_error: str | None
    log: str
    report: dict[str, float | str]
    init_ms: float | None = None

    @property
    def billed_ms(self) -> float:
        """The billed duration of this invocation, from its REPORT line."""
        return float(self.report["Billed Duration"])


@dataclass
class _WarmFunction:
    """A running container of one function configuration (local mode)."""

    key: tuple
    container: FunctionContainer
    seen_reports: int = 0
    seen_inits: int = 0


def _valid_region(region: str) -> str:
    *words, number = region.split("-")
    if len(words) < 2 or not number.isdecimal() or not all(word.isalpha() for word in words):
        raise AwsTargetError(f"aws_region {region!r} is not a region name such as eu-west-1")
    return region


@dataclass
class AwsTarget:
    """The AWS account, or the local stand-ins, that a lesson deploys to (see the module doc)."""

    profile: str
    region: str
    work_dir: Path
    moto: MotoServer | None = None
    registry: LocalRegistry | None = None
    _saved_environment: dict[str, str | None] | None = field(default=None, repr=False)
    _warm: dict[str, _WarmFunction] = field(default_factory=dict, repr=False)

    @property
    def local(self) -> bool:
        """True when the calls go to the local stand-ins, false when they go to AWS."""
        return not self.profile

    # --- opening and closing ---------------------------------------------------

    def open(self) -> AwsTarget:
        """Start the stand-ins (local mode) and switch the AWS variables of this process."""
        if self._saved_environment is not None:
            return self
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.local:
            docker_engine.ensure_engine()  # the registry is only useful with an engine
            self.moto = MotoServer(self.work_dir).start()
            try:
                self.registry = LocalRegistry(self.work_dir).start()
            except Exception:
                self.moto.stop()
                raise
        self._switch_environment()
        atexit.register(self.close)  # a notebook that fails half-way still cleans up
        return self

    def _switch_environment(self) -> None:
        self._saved_environment = {name: os.environ.get(name) for name in _SWITCHED_VARIABLES}
        for name in _SWITCHED_VARIABLES:
            os.environ.pop(name, None)
        if self.local:
            os.environ.update(LOCAL_CREDENTIALS)
            os.environ["AWS_ENDPOINT_URL"] = self.moto.url
            os.environ["DOCKER_CONFIG"] = str(self.work_dir / "docker-config")
        else:
            os.environ["AWS_PROFILE"] = self.profile
        os.environ["AWS_DEFAULT_REGION"] = self.region
        _forget_boto3_default_session()

    def close(self) -> None:
        """Stop what this target started and restore the AWS variables; safe to call twice."""
        atexit.unregister(self.close)
        for warm in self._warm.values():
            warm.container.stop()
        self._warm.clear()
        if self.registry is not None:
            self._forget_local_tags()
            self.registry.stop()
        if self.moto is not None:
            self.moto.stop()
        if self._saved_environment is not None:
            for name, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_environment = None
            _forget_boto3_default_session()

    def __enter__(self) -> AwsTarget:
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _forget_local_tags(self) -> None:
        """Untag images named after this run's registry port (their layers stay cached)."""
        if self.registry is None:
            return
        result = docker_engine.docker(
            "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
            "--filter", f"reference={self.registry.address}/*", check=False,
        )  # fmt: skip
        names = [name for name in result.stdout.split() if not name.endswith(":<none>")]
        digests = docker_engine.docker(
            "image", "ls", "--digests", "--format", "{{.Repository}}@{{.Digest}}",
            "--filter", f"reference={self.registry.address}/*", check=False,
        ).stdout.split()  # fmt: skip
        refs = names + [ref for ref in digests if not ref.endswith("@<none>")]
        if refs:
            docker_engine.docker("image", "rm", *refs, check=False)

    # --- describing -------------------------------------------------------------

    @property
    def account_id(self) -> str:
        """The account the calls act on (moto's is always 123456789012)."""
        import boto3

        return boto3.client("sts").get_caller_identity()["Account"]

    def describe(self) -> str:
        """One line saying where the calls go."""
        if self.local:
            return (
                f"local stand-ins on 127.0.0.1, region {self.region}: moto {moto_version()} "
                "(ECR, IAM, Lambda, API Gateway APIs) and docker-registry (image registry)"
            )
        return f"AWS account {self.account_id}, profile {self.profile}, region {self.region}"

    # --- commands ---------------------------------------------------------------

    def shell(self, command: str, *, show: bool = True) -> str:
        """Run a shell command line (`aws ...`, `docker ...`, pipes) against this target.

        With `show`, prints `$ command` and what it printed, as a terminal
        would. Returns its standard output; a failure raises `AwsTargetError`.
        """
        docker_engine.ensure_engine()  # sets DOCKER_HOST for the docker commands
        env = clean_environment()
        env["PATH"] = os.pathsep.join([str(aws_tool("aws").parent), env.get("PATH", "")])
        if show:
            print(f"$ {command}", flush=True)
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=SHELL_TIMEOUT_SECONDS,
        )
        if result.returncode != 0:
            tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise AwsTargetError(f"`{command}` failed with exit code {result.returncode}: {tail}")
        if show and result.stdout.strip():
            print(result.stdout.rstrip(), flush=True)
        return result.stdout

    # --- images -----------------------------------------------------------------

    def registry_for(self, repository_uri: str) -> str:
        """The registry host that `docker login` and `docker push` use for `repository_uri`."""
        if self.local:
            return self.registry.address
        return repository_uri.split("/", 1)[0]

    def push_uri(self, repository_uri: str, tag: str) -> str:
        """Where `docker push` sends `repository_uri:tag` (the local registry in local mode)."""
        repository = repository_uri.split("/", 1)[1]
        return f"{self.registry_for(repository_uri)}/{repository}:{tag}"

    def record_push(self, repository_name: str, tag: str) -> None:
        """Local mode: register the pushed image in moto's ECR; on AWS, ECR does it itself."""
        if not self.local:
            return
        import boto3

        manifest = self.registry.manifest(repository_name, tag)
        ecr = boto3.client("ecr")
        with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
            ecr.put_image(
                repositoryName=repository_name,
                imageManifest=manifest.body.decode(),
                imageManifestMediaType=manifest.media_type,
                imageTag=tag,
                imageDigest=manifest.digest,
            )

    def public_url(self, image: str) -> str:
        """`image` if it is an http(s) URL, else a one-line error: AWS cannot see your files."""
        if not image.startswith(("http://", "https://")):
            raise AwsTargetError(
                f"on AWS the function fetches the image itself: set `image` to a public "
                f"http(s) URL, not {image!r}"
            )
        return image

    @contextlib.contextmanager
    def image_url(self, image: str) -> Iterator[str]:
        """A URL the deployed function can fetch `image` from.

        Locally a file is served on 127.0.0.1 (the function containers use host
        networking); on AWS, `image` must already be a public http(s) URL.
        """
        with image_url(image if self.local else self.public_url(image)) as url:
            yield url

    # --- invoking ---------------------------------------------------------------

    def invoke(self, function_name: str, event) -> InvokeResult:
        """Invoke `function_name` with `event` (a JSON value) and return its answer and report."""
        if self.local:
            return self._invoke_locally(function_name, event)
        import boto3

        reply = boto3.client("lambda").invoke(
            FunctionName=function_name, Payload=json.dumps(event).encode(), LogType="Tail"
        )
        log = base64.b64decode(reply.get("LogResult", "")).decode(errors="replace")
        reports = parse_reports(log)
        if not reports:
            raise AwsTargetError(f"no REPORT line in the log of {function_name}: {log[-300:]}")
        report = reports[-1]
        return InvokeResult(
            payload=json.loads(reply["Payload"].read() or b"null"),
            function_error=reply.get("FunctionError"),
            log=log,
            report=report,
            init_ms=report.get("Init Duration"),
        )

    def _warm_function(self, function_name: str) -> _WarmFunction:
        """The running container for the function's current configuration, started if needed."""
        import boto3

        function = boto3.client("lambda").get_function(FunctionName=function_name)
        config = function["Configuration"]
        if config.get("PackageType") != "Image":
            raise AwsTargetError(f"{function_name} is not a container-image function")
        resolved = function["Code"]["ResolvedImageUri"]  # <registry>/<repository>@sha256:...
        variables = (config.get("Environment") or {}).get("Variables") or {}
        key = (resolved, config["MemorySize"], config["Timeout"], tuple(sorted(variables.items())))
        warm = self._warm.get(function_name)
        if warm is not None and warm.key == key:
            return warm
        if warm is not None:  # a new configuration gets new execution environments, as on AWS
            warm.container.stop()
        local_image = f"{self.registry.address}/{resolved.split('/', 1)[1]}"
        docker_engine.docker("pull", "--quiet", local_image, timeout=600)
        environment = {
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(config["Timeout"]),
            "AWS_REGION": self.region,
            **variables,
            # Test-only: lets the function fetch images from 127.0.0.1. Never part of a
            # function's configuration; only this local invoker adds it.
            **ALLOW_LOOPBACK,
        }
        container = start_function(
            local_image, env=environment, options=lambda_like_options(config["MemorySize"])
        )
        warm = _WarmFunction(key=key, container=container)
        self._warm[function_name] = warm
        return warm

    def _invoke_locally(self, function_name: str, event) -> InvokeResult:
        warm = self._warm_function(function_name)
        timeout = int(warm.key[2])
        reply = warm.container.invoke(event, timeout=timeout + 30)
        deadline = time.monotonic() + REPORT_WAIT_SECONDS
        while True:  # the REPORT line can reach the log just after the answer
            log = warm.container.logs()
            reports = parse_reports(log)
            if len(reports) > warm.seen_reports or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if len(reports) <= warm.seen_reports:
            raise AwsTargetError(f"no REPORT line for the invocation of {function_name}")
        report = reports[-1]
        inits = parse_init_durations(log)
        init_ms = inits[-1] if len(inits) > warm.seen_inits else None
        warm.seen_reports, warm.seen_inits = len(reports), len(inits)
        payload = reply.json()
        is_error = isinstance(payload, dict) and {"errorType", "errorMessage"} <= payload.keys()
        return InvokeResult(
            payload=payload,
            function_error="Unhandled" if is_error else None,
            log=_invocation_log(log, str(report["request_id"])),
            report=report,
            init_ms=init_ms,
        )


def _invocation_log(log: str, request_id: str) -> str:
    """The lines Lambda logs for one request: from its START line to its REPORT line."""
    lines = log.splitlines()
    marked = [i for i, line in enumerate(lines) if request_id in line]
    starts = [i for i in marked if lines[i].startswith("START")]
    ends = [i for i in marked if lines[i].startswith("REPORT")]
    start, end = (starts or [0])[0], (ends or [len(lines) - 1])[-1]
    return "\n".join(lines[start : end + 1])


def _forget_boto3_default_session() -> None:
    """Make the next `boto3.client()` read the switched variables, not cached credentials."""
    import boto3

    boto3.DEFAULT_SESSION = None


def connect(aws_profile: str, aws_region: str, work_dir: str | Path) -> AwsTarget:
    """Open the target the lesson parameters choose: local stand-ins when `aws_profile` is empty.

    `work_dir` holds the local servers' files and logs, and Docker's login.
    """
    if not isinstance(aws_profile, str) or not isinstance(aws_region, str):
        raise AwsTargetError("aws_profile and aws_region must be strings")
    region = _valid_region(aws_region.strip())
    return AwsTarget(profile=aws_profile.strip(), region=region, work_dir=in_repo(work_dir)).open()
