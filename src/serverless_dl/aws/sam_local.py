"""The AWS SAM CLI for lesson 08: lint and build `docker/template.yaml`, and serve its API locally.

- `validate()` runs `sam validate --lint` (cfn-lint; needs no AWS account).
- `build()` runs `sam build`, which builds the function image from the
  template's `Metadata` (`Dockerfile`, `DockerContext`) and writes a built
  template that names the image.
- `LocalApi` runs `sam local start-api` over the built template: a real API
  Gateway emulator on 127.0.0.1 that turns each HTTP request into a proxy
  event, runs the function's container with the emulator inside, and turns
  the answer back into an HTTP response. It answers unknown paths and
  methods with `{"message":"Missing Authentication Token"}`, as API Gateway
  does. It does not enforce API keys or usage plans.

Two test-only details, both confined to this module and to files under the
work folder:

- sam runs the function container on Docker's bridge network, where
  127.0.0.1 is the container itself. So the sample images are served by a
  small "sidecar" container that shares the function container's network
  namespace and listens on its loopback interface.
- `sam local` passes a function only the variables its template declares.
  `ALLOW_LOOPBACK_URLS=1`, which lets the handler fetch from loopback, must
  never be in `docker/template.yaml`; it is added to a copy of the *built*
  template (`local-test-template.yaml`) that only `LocalApi` uses.

SAM's own settings and caches go to the work folder too, not to `~/.aws-sam`.
"""

from __future__ import annotations

import atexit
import re
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from serverless_dl.aws.aws_target import function_image_url
from serverless_dl.base.commands import run_command
from serverless_dl.base.lambda_facts import ALLOW_LOOPBACK
from serverless_dl.base.paths import IMAGES, in_repo
from serverless_dl.base.processes import (
    NotReady,
    free_port,
    last_lines,
    start_in_session,
    stop_process_group,
    wait_for_port,
)
from serverless_dl.containers import docker_engine
from serverless_dl.function.envs import aws_tool, clean_environment
from serverless_dl.function.sources import is_url

START_SECONDS = 180  # the first start builds sam's emulator layer on top of the image
SIDECAR_SECONDS = 30
_CONTAINER_ID = re.compile(r"SAM_CONTAINER_ID: (?P<id>[0-9a-f]{12,64})")


class SamError(RuntimeError):
    """A SAM CLI command failed; the message holds the command and the end of its output."""


def sam_environment(work_dir: str | Path) -> dict[str, str]:
    """Environment for the SAM CLI: no telemetry, settings under `work_dir`, this Docker engine."""
    engine = docker_engine.ensure_engine()
    return clean_environment(
        {
            "SAM_CLI_TELEMETRY": "0",
            # SAM's own switch for its settings folder (default ~/.aws-sam), meant for tests.
            "__SAM_CLI_APP_DIR": str(in_repo(work_dir) / "sam-settings"),
            "DOCKER_HOST": engine.host,
        }
    )


def run_sam(*args: str, work_dir: str | Path, timeout: float = 1800) -> str:
    """Run `sam ARGS...` in `work_dir` and return what it printed; raise `SamError` on failure."""
    folder = in_repo(work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    result = run_command(
        [aws_tool("sam"), *args],
        error=SamError,
        what=f"`sam {' '.join(args)}`",
        quote="both",
        cwd=folder,  # `sam build` writes build.toml into the current folder
        env=sam_environment(folder),
        timeout=timeout,
    )
    return (result.stdout + result.stderr).strip()


def validate(template: str | Path, work_dir: str | Path) -> str:
    """`sam validate --lint`: the template is valid SAM and cfn-lint finds nothing.

    Returns what sam printed, with the template named as the caller named it.
    """
    path = str(in_repo(template))
    output = run_sam("validate", "--lint", "--template-file", path, work_dir=work_dir)
    return output.replace(path, str(template))


def build(template: str | Path, work_dir: str | Path) -> Path:
    """`sam build` into `<work_dir>/sam-build`; return the built template."""
    build_dir = in_repo(work_dir) / "sam-build"
    run_sam(
        "build", "--template-file", str(in_repo(template)), "--build-dir", str(build_dir),
        work_dir=work_dir,
    )  # fmt: skip
    return build_dir / "template.yaml"


def image_functions(built_template: str | Path) -> dict[str, str]:
    """The container-image functions of a built template: logical id -> image name."""
    resources = yaml.safe_load(Path(built_template).read_text())["Resources"]
    return {
        name: resource["Properties"]["ImageUri"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource["Properties"].get("PackageType") == "Image"
    }


def local_test_template(built_template: str | Path) -> Path:
    """A copy of the built template whose functions may fetch from loopback (test-only)."""
    built_template = Path(built_template)
    template = yaml.safe_load(built_template.read_text())
    for name in image_functions(built_template):
        properties = template["Resources"][name]["Properties"]
        variables = properties.setdefault("Environment", {}).setdefault("Variables", {})
        variables.update(ALLOW_LOOPBACK)
    copy = built_template.with_name("local-test-template.yaml")
    copy.write_text(yaml.safe_dump(template, sort_keys=False))
    return copy


class LocalApi:
    """`sam local start-api` on 127.0.0.1, with sample images served beside the function.

    `images` is the folder the sidecar serves; `url_for(path)` gives a file's
    URL as the function sees it. `parameters` sets the template's parameters
    (`--parameter-overrides`), such as lesson 09's `PageOrigin`.
    """

    def __init__(
        self,
        built_template: str | Path,
        work_dir: str | Path,
        images: str | Path,
        parameters: dict[str, str] | None = None,
    ):
        self.built_template = Path(built_template)
        self.parameters = dict(parameters or {})  # the template's Parameters, as on `sam deploy`
        self.work_dir = in_repo(work_dir)
        self.images = in_repo(images)
        self.port = free_port()
        self.images_port = free_port()  # inside the function's own network namespace
        self.function_container: str | None = None
        self.sidecar: str | None = None
        self._process: subprocess.Popen | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        """The API's base URL (the stage URL's local counterpart)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def images_url(self) -> str:
        """Where the function container reaches the sidecar's files."""
        return f"http://127.0.0.1:{self.images_port}"

    @property
    def log_path(self) -> Path:
        """Everything `sam local start-api` and the function printed."""
        return self.work_dir / "sam-local-api.log"

    def url_for(self, image: str) -> str:
        """The URL the function fetches `image` from: an http(s) URL as is, else a served file."""
        if is_url(image):
            return image
        path = in_repo(image)
        if not path.is_relative_to(self.images) or not path.is_file():
            raise FileNotFoundError(f"{image} is not a file under {self.images}")
        return f"{self.images_url}/{urllib.parse.quote(path.relative_to(self.images).as_posix())}"

    def logs(self) -> str:
        """What sam and the function printed since this API started (the log file keeps more)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def start(self) -> LocalApi:
        """Start sam and the sidecar; return when both answer."""
        template = local_test_template(self.built_template)
        command = [
            str(aws_tool("sam")), "local", "start-api",
            "--template-file", str(template),
            "--host", "127.0.0.1", "--port", str(self.port),
            # Create the container now and keep it: the sidecar needs it before the first request.
            "--warm-containers", "EAGER",
            "--skip-pull-image", "--no-watch",
        ]  # fmt: skip
        if self.parameters:
            overrides = " ".join(f"{name}={value}" for name, value in self.parameters.items())
            command += ["--parameter-overrides", overrides]
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self._process = start_in_session(
                command, log, cwd=self.work_dir, env=sam_environment(self.work_dir)
            )
        atexit.register(self.stop)
        try:
            wait_for_port(self.port, START_SECONDS, self._process)
            match = _CONTAINER_ID.search(self.logs())
            if match is None:
                raise NotReady("sam did not report its function container")
            self.function_container = match["id"]
            self._start_sidecar()
        except (NotReady, docker_engine.DockerError) as error:
            tail = last_lines(self.logs(), 4)
            self.stop()
            raise SamError(f"sam local start-api did not start ({error}): {tail}") from None
        return self

    def _start_sidecar(self) -> None:
        """Serve `images` on the loopback interface of the function container."""
        image = next(iter(image_functions(self.built_template).values()))
        # Named up front, so stop() can remove it even if `docker run` fails half-way.
        self.sidecar = f"serverless-dl-images-{uuid.uuid4().hex[:12]}"
        docker_engine.run_container(
            image, "-m", "http.server", str(self.images_port),
            "--bind", "127.0.0.1", "--directory", "/images",
            network=f"container:{self.function_container}",
            options=[
                "--name", self.sidecar,
                "--entrypoint", "python", "--user", "1000:1000", "--read-only",
                "--volume", f"{self.images}:/images:ro",
            ],
        )  # fmt: skip
        probe = f"import urllib.request; urllib.request.urlopen('{self.images_url}/', timeout=2)"
        deadline = time.monotonic() + SIDECAR_SECONDS
        while time.monotonic() < deadline:
            answer = docker_engine.docker("exec", self.sidecar, "python", "-c", probe, check=False)
            if answer.returncode == 0:
                return
            time.sleep(0.2)
        raise NotReady(f"the image sidecar did not answer within {SIDECAR_SECONDS} s")

    def stop(self) -> None:
        """Stop the sidecar and sam (which removes its container); safe to call twice."""
        if self.sidecar is not None:
            docker_engine.remove_container(self.sidecar)
            self.sidecar = None
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            stop_process_group(process, seconds=30)  # sam removes its containers on SIGTERM
        if self.function_container is not None:  # gone already unless sam was killed
            docker_engine.remove_container(self.function_container)
            self.function_container = None

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@dataclass
class Stage:
    """Where lesson 08 sends requests: a deployed stage on AWS, or `sam local start-api`."""

    predict_url: str
    image_url: str
    local_api: LocalApi | None = None

    def close(self) -> None:
        """Stop the local API, if there is one."""
        if self.local_api is not None:
            self.local_api.stop()


def open_stage(
    aws_profile: str, invoke_url: str, built_template: str | Path, image: str, work_dir: str | Path
) -> Stage:
    """The stage to POST to, and the URL of `image` as the function will fetch it.

    On AWS (`aws_profile` set): the stage's invoke URL, and `image`, which
    must be a public URL. For the local account: `sam local start-api` over
    the built template (moto stores the API but serves no stage URL), with
    `image` served beside the function.
    """
    if aws_profile:
        return Stage(f"{invoke_url}/predict", function_image_url(image, aws_profile))
    images = IMAGES if is_url(image) else in_repo(image).parent
    api = LocalApi(built_template, work_dir, images).start()
    return Stage(predict_url=f"{api.url}/predict", image_url=api.url_for(image), local_api=api)
