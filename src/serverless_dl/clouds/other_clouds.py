"""Lesson 12's adapters, staged with the core and run the way each provider runs them.

One core, lesson 04's `answer(request, request_id)` with lesson 05's guarded download and
the model, and a thin adapter per provider in `clouds/`:

- `google-functions/main.py`: an HTTP function for Google's Functions Framework
  (Cloud Run functions);
- `cloud-run/`: `server.py`, a WSGI app that gunicorn serves on `$PORT`, and a
  Dockerfile on `python:3.11-slim` (Cloud Run);
- `azure-functions/function_app.py`: an HTTP route in Azure Functions' Python v2
  programming model, with `host.json` and a `local.settings.json` example.

`stage()` assembles a deployable folder: an adapter's files plus copies of the core, made
by a command, never by hand, and never committed (`python -m serverless_dl.clouds.other_clouds
stage ADAPTER`). The rest is course plumbing that serves a staged adapter on this machine:
`functions_framework_server()` runs the real `functions-framework` command,
`cloud_run_container()` runs the image in the course's Docker engine (on a local stand-in
for `python:3.11-slim` when that cannot be pulled, `ensure_python_image()`), and
`azure_function()` calls the function in `function_app.py` with `azure.functions`
request objects (`serverless_dl.clouds.azure_local`), because the Azure Functions host cannot
be installed here. All three answer `post(body, headers)` with a `Reply`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from serverless_dl.base.lambda_facts import ALLOW_LOOPBACK
from serverless_dl.base.paths import BUILD, DOCKER, MODELS, ROOT
from serverless_dl.base.processes import (
    NotReady,
    free_port,
    port_answers,
    start_in_session,
    stop_process_group,
    wait_for_port,
)
from serverless_dl.containers import docker_engine, lambda_base
from serverless_dl.function.envs import EnvironmentMissing, clean_environment, venv_bin

CLOUDS = ROOT / "clouds"
ADAPTERS = ("google-functions", "cloud-run", "azure-functions")
# The core every adapter carries: the handler module, the guarded download, the model.
CORE_FILES = (DOCKER / "lambda_function.py", DOCKER / "image_source.py",
              MODELS / "clothing-model.tflite")
STAGING = BUILD / "clouds"
PROVIDERS_FILE = CLOUDS / "providers.json"
PYTHON_VERSION = "3.11"
CLOUD_RUN_IMAGE = "clothing-model:cloud-run"
ENVIRONMENT = "clouds"  # .venvs/clouds: functions-framework, azure-functions and the core
# Files of the adapter folders that never go into a deployment.
_NOT_STAGED = ("__pycache__", "local.settings.json")


class AdapterError(RuntimeError):
    """An adapter could not be staged, built or started; the message says why in one line."""


def stage(adapter: str, target: str | Path | None = None) -> Path:
    """Assemble `clouds/<adapter>` and a copy of the core in `target` (default build/clouds/...).

    The folder is emptied first, so it holds exactly what a deployment uploads.
    """
    if adapter not in ADAPTERS:
        raise AdapterError(f"no adapter {adapter!r}; choose one of {', '.join(ADAPTERS)}")
    target = Path(target or STAGING / adapter)
    missing = [str(path.relative_to(ROOT)) for path in CORE_FILES if not path.is_file()]
    if missing:
        raise AdapterError(f"the core is incomplete ({', '.join(missing)}); run `make export`")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in sorted((CLOUDS / adapter).iterdir()):
        if path.is_file() and path.name not in _NOT_STAGED:
            shutil.copyfile(path, target / path.name)
    for path in CORE_FILES:
        shutil.copyfile(path, target / path.name)
    return target


# --- A stand-in for Docker's python:<version>-slim, as lambda_base does for AWS's images.


def python_image(version: str = PYTHON_VERSION) -> str:
    """The name of Docker's official slim Python image for `version`."""
    return f"python:{version}-slim"


def _python_template():
    return files("serverless_dl") / "templates" / "python_base"


def _host_ca_bundle() -> bytes:
    bundle = lambda_base._HOST_CA_BUNDLE
    return bundle.read_bytes() if bundle.exists() else b""


def python_stand_in_digest(version: str = PYTHON_VERSION) -> str:
    """A digest of everything the stand-in is built from; a change rebuilds it."""
    return lambda_base._digest(
        lambda_base._rootfs_name(version),
        (_python_template() / "Dockerfile").read_bytes(),
        (lambda_base._template_dir() / "pip.conf").read_bytes(),
        _host_ca_bundle(),
    )


def _up_to_date(tag: str, version: str) -> bool:
    if not lambda_base.is_stand_in(tag):
        return True  # Docker's own image: never touched
    labels = docker_engine.image_info(tag)["Config"].get("Labels") or {}
    return labels.get(lambda_base.DIGEST_LABEL) == python_stand_in_digest(version)


def ensure_python_image(
    version: str = PYTHON_VERSION, *, pull: bool = True, log: Callable[[str], None] = print
) -> str:
    """Make `python:<version>-slim` available: "present", "pulled" or "built" (a stand-in).

    The stand-in is Debian's Python in a virtual environment at /usr/local, on the
    same cached Debian root file system as the Lambda stand-ins.
    """
    tag = python_image(version)
    if docker_engine.image_exists(tag) and _up_to_date(tag, version):
        return "present"
    if pull and not docker_engine.image_exists(tag):
        if docker_engine.docker("pull", tag, check=False, timeout=300).returncode == 0:
            return "pulled"
    rootfs_image = lambda_base._rootfs_image(version, log)
    with tempfile.TemporaryDirectory(prefix="python-base-") as workdir:
        context = Path(workdir)
        (context / "Dockerfile").write_bytes((_python_template() / "Dockerfile").read_bytes())
        shutil.copyfile(lambda_base._template_dir() / "pip.conf", context / "pip.conf")
        (context / "host-ca-certificates.crt").write_bytes(_host_ca_bundle())
        log(f"docker build {tag} (stand-in) ...")
        docker_engine.build_image(context, tag, timeout=900, build_args={
            "ROOTFS_IMAGE": rootfs_image, "PYTHON_VERSION": version,
            "STAND_IN_DIGEST": python_stand_in_digest(version)})
    return "built"


def build_cloud_run_image(staged: str | Path, tag: str = CLOUD_RUN_IMAGE) -> str:
    """`docker build` the staged Cloud Run folder as `tag` (the base image made available first)."""
    ensure_python_image(log=lambda message: None)
    docker_engine.build_image(staged, tag, timeout=900)
    return tag


# --- Talking to an adapter.


@dataclass
class Reply:
    """One HTTP answer from an adapter: status, headers, body, and the seconds it took."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def content_type(self) -> str:
        """The Content-Type header, looked up case-insensitively."""
        return next((value for name, value in self.headers.items()
                     if name.lower() == "content-type"), "")

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 60) -> Reply:
    """POST `body` with `headers` to `url`; return the reply whatever its status."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, answer, answer_body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer, answer_body = error.code, error.headers, error.read()
    return Reply(status, dict(answer.items()), answer_body, time.perf_counter() - started)


def json_request(document) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a POST that sends `document` as JSON."""
    return json.dumps(document).encode(), {"Content-Type": "application/json"}


@dataclass
class HttpAdapter:
    """An adapter served on 127.0.0.1; `command` is how it was started (its port shown as $PORT)."""

    name: str
    url: str
    command: list[str]
    logs: Callable[[], str]

    def post(self, body: bytes, headers: dict[str, str], timeout: float = 60) -> Reply:
        """POST one request to the adapter."""
        return http_post(self.url, body, headers, timeout)


def environment_versions(distributions=("functions-framework", "azure-functions",
                                         "ai-edge-litert", "gunicorn")) -> dict[str, str]:
    """The installed versions of `distributions` in .venvs/clouds."""
    script = ("import importlib.metadata as m, json, sys; "
              "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))")
    result = subprocess.run([str(_clouds_tool("python")), "-c", script, *distributions],
                            capture_output=True, text=True, check=True,
                            env=clean_environment())
    return json.loads(result.stdout)


def _clouds_tool(name: str) -> Path:
    tool = venv_bin(ENVIRONMENT) / name
    if not tool.exists():
        raise EnvironmentMissing(f"{tool} does not exist; run `make setup` first")
    return tool


@contextlib.contextmanager
def functions_framework_server(
    staged: str | Path, *, source: str | Path = "main.py", target: str = "predict",
    environment: dict[str, str] | None = None, start_seconds: float = 60,
) -> Iterator[HttpAdapter]:
    """Serve the staged Functions Framework adapter with `functions-framework` on 127.0.0.1.

    `source` is relative to the staged folder (the command runs there, as in
    Google's build) or absolute; `environment` adds variables (PYTHONPATH, say).
    """
    staged, port = Path(staged), free_port()
    command = [str(_clouds_tool("functions-framework")), "--source", str(source),
               "--target", target, "--host", "127.0.0.1", "--port", str(port)]
    env = clean_environment({**ALLOW_LOOPBACK, **(environment or {})})
    with tempfile.NamedTemporaryFile(prefix="functions-framework-", suffix=".log") as log:
        process = start_in_session(command, log, cwd=staged, env=env)
        try:
            try:
                wait_for_port(port, start_seconds, process)
            except NotReady as error:
                tail = Path(log.name).read_text(errors="replace")[-2000:]
                message = f"functions-framework did not start ({error}):\n{tail}"
                raise AdapterError(message) from None
            shown = ["functions-framework", *command[1:-1], "$PORT"]
            yield HttpAdapter("Cloud Run functions (Functions Framework)",
                              f"http://127.0.0.1:{port}/", shown,
                              lambda: Path(log.name).read_text(errors="replace"))
        finally:
            stop_process_group(process)


@contextlib.contextmanager
def cloud_run_container(
    image: str = CLOUD_RUN_IMAGE, *, environment: dict[str, str] | None = None,
    options: tuple[str, ...] = (), start_seconds: float = 60,
) -> Iterator[HttpAdapter]:
    """Run the Cloud Run image with host networking and PORT set, as Cloud Run sets it."""
    port = free_port()
    env = {"PORT": str(port), **ALLOW_LOOPBACK, **(environment or {})}
    container = docker_engine.run_container(image, env=env, options=options)
    shown = {**env, "PORT": "$PORT"}
    command = ["docker", "run", "--network", "host",
               *(part for name, value in shown.items() for part in ("-e", f"{name}={value}")),
               *options, image]
    try:
        deadline = time.monotonic() + start_seconds
        while not port_answers(port):
            if time.monotonic() > deadline or not _running(container):
                logs = docker_engine.container_logs(container)[-2000:]
                raise AdapterError(f"{image} did not listen on 127.0.0.1:{port}:\n{logs}")
            time.sleep(0.05)
        yield HttpAdapter("Cloud Run (container)", f"http://127.0.0.1:{port}/", command,
                          lambda: docker_engine.container_logs(container))
    finally:
        docker_engine.remove_container(container)


def _running(container: str) -> bool:
    result = docker_engine.docker("inspect", "--format", "{{.State.Running}}", container,
                                  check=False)
    return result.stdout.strip() == "true"


@dataclass
class AzureFunction:
    """The function of a staged `function_app.py`, called with azure.functions request objects."""

    name: str
    runner: subprocess.Popen
    log_path: Path

    def post(self, body: bytes, headers: dict[str, str], timeout: float = 60) -> Reply:
        """Send one POST /api/predict request, built as an `azure.functions.HttpRequest`."""
        request = {"method": "POST", "url": "http://localhost:7071/api/predict",
                   "headers": headers, "body": base64.b64encode(body).decode("ascii")}
        self.runner.stdin.write(json.dumps(request) + "\n")
        self.runner.stdin.flush()
        line = self.runner.stdout.readline()
        if not line:
            raise AdapterError(f"the Azure function runner stopped:\n{self.logs()[-2000:]}")
        answer = json.loads(line)
        return Reply(answer["status"], answer["headers"], base64.b64decode(answer["body"]),
                     answer["seconds"])

    def logs(self) -> str:
        """What the function printed (its JSON log lines) and the runner's errors."""
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def azure_function(
    staged: str | Path, *, hook: str | None = None, pythonpath: tuple[Path, ...] = (),
    start_seconds: float = 60,
) -> Iterator[AzureFunction]:
    """Load the staged `function_app.py` in the clouds environment and call it per request.

    `hook` ("module:name") wraps each call in a context manager made from the
    request's headers (the tests use it to set per-case conditions).
    """
    python = _clouds_tool("python")
    path = os.pathsep.join(str(part) for part in (*pythonpath, ROOT / "src"))
    command = [str(python), "-m", "serverless_dl.clouds.azure_local", str(staged)]
    if hook:
        command += ["--hook", hook]
    with tempfile.NamedTemporaryFile(prefix="azure-function-", suffix=".log") as log:
        runner = subprocess.Popen(
            command, cwd=staged, env=clean_environment({**ALLOW_LOOPBACK, "PYTHONPATH": path}),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        function = AzureFunction("Azure Functions (function called directly)", runner,
                                 Path(log.name))
        try:
            ready = runner.stdout.readline()  # the runner says so once function_app is loaded
            if ready.strip() != "ready":
                runner.wait(timeout=start_seconds)
                raise AdapterError(f"function_app.py did not load:\n{function.logs()[-2000:]}")
            yield function
        finally:
            runner.stdin.close()
            try:
                runner.wait(timeout=10)
            except subprocess.TimeoutExpired:
                runner.kill()
                runner.wait()


@dataclass
class LambdaAdapter:
    """Lambda's own adapter, `lambda_handler`, under the RIE, sent what API Gateway would send."""

    name: str
    emulator: object

    def post(self, body: bytes, headers: dict[str, str], timeout: float = 60) -> Reply:
        """Invoke the function with the HTTP API (v2) event for this request."""
        event = {"version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict",
                 "requestContext": {"http": {"method": "POST", "path": "/predict"}},
                 "headers": {name.lower(): value for name, value in headers.items()},
                 "body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}
        invocation = self.emulator.invoke(event, timeout=timeout)
        response = invocation.json()
        return Reply(response["statusCode"], response["headers"], response["body"].encode(),
                     invocation.seconds)

    def logs(self) -> str:
        """What the emulator and the function printed."""
        return self.emulator.logs()


@contextlib.contextmanager
def lambda_function(flavour: str = "modern") -> Iterator[LambdaAdapter]:
    """The exported handler under the real RIE in a TensorFlow-free Lambda environment."""
    from serverless_dl.function.lambda_local import local_function

    with local_function(flavour) as emulator:
        yield LambdaAdapter(f"AWS Lambda (RIE, {flavour})", emulator)


def answers_table(adapters: list, requests: dict[str, tuple[bytes, dict[str, str]]]) -> str:
    """Each adapter's status for each named request, and the one message they all gave."""
    lines = [f"{'request':<26}" + "".join(f"{name:>9}" for name in ("AWS", "GCF", "Run", "Azure"))]
    for label, request in requests.items():
        replies = [adapter.post(*request) for adapter in adapters]
        documents = [reply.json() for reply in replies]
        messages = {document.get("error", {}).get("message", document.get("prediction"))
                    for document in documents}
        shown = messages.pop() if len(messages) == 1 else f"DIFFERENT: {sorted(messages)}"
        statuses = "".join(f"{reply.status:>9}" for reply in replies)
        lines.append(f"{label:<26}{statuses}   {shown}")
    return "\n".join(lines)


# --- One measured run: cold start and warm latency per adapter.


@dataclass
class Measurement:
    """What one adapter did with the same request: answer, cold start, warm latency."""

    adapter: str
    prediction: str
    cold_seconds: float
    warm_ms: float


def measure(start: Callable[[], contextlib.AbstractContextManager], name: str,
            request: tuple[bytes, dict[str, str]], warm_requests: int) -> Measurement:
    """Start an adapter, time its first answer from the start (cold) and the median warm one."""
    started = time.perf_counter()
    with start() as adapter:
        first = adapter.post(*request)
        cold = time.perf_counter() - started
        warm = [adapter.post(*request).seconds for _ in range(warm_requests)]
    document = first.json()
    prediction = document.get("prediction") or f"error {first.status}: {document}"
    return Measurement(name, prediction, cold, statistics.median(warm) * 1000)


def measurement_table(rows: list[Measurement]) -> str:
    """The measurements as a fixed-width table."""
    lines = [f"{'adapter':<44} {'answer':<8} {'cold s':>7} {'warm ms':>8}"]
    lines += [f"{row.adapter:<44} {row.prediction:<8} {row.cold_seconds:>7.2f} "
              f"{row.warm_ms:>8.1f}" for row in rows]
    return "\n".join(lines)


# --- What each provider documents: limits, prices, cold-start remedies (clouds/providers.json).


def providers() -> dict:
    """The documented figures of each provider, each with its source URL and the date read."""
    return json.loads(PROVIDERS_FILE.read_text())


def cost_per_million(price: dict, duration_ms: float) -> float:
    """Dollars for a million requests of `duration_ms` each at `price` (see providers.json).

    Compute is billed per GB-second (and per vCPU-second where the provider bills CPU
    apart), rounded up to the provider's billing granularity (none where the pages read
    state none); free tiers are left out.
    """
    step = price["billing_granularity_ms"]  # None: no rounding stated, so none applied
    billed_ms = -(-duration_ms // step) * step if step else duration_ms
    billed_seconds = billed_ms / 1000
    memory = price.get("memory_gb") or price["memory_gib"]  # Google bills GiB, AWS and Azure GB
    per_memory = price.get("usd_per_gb_second") or price["usd_per_gib_second"]
    per_request = billed_seconds * (memory * per_memory
                                    + price.get("vcpu", 0) * price.get("usd_per_vcpu_second", 0))
    return 1_000_000 * (per_request + price["usd_per_million_requests"] / 1_000_000)


FIGURE_LABELS = {"memory": "memory", "timeout": "timeout", "request_size": "request size",
                 "package_limit": "package", "concurrency_per_instance": "concurrency",
                 "cold_start_mitigations": "cold starts"}


def figures_text(documented: dict) -> str:
    """Every documented figure of every provider, each with its source and the date read."""
    lines = []
    for provider in documented["providers"]:
        lines.append(provider["name"])
        for key, label in FIGURE_LABELS.items():
            figure = provider["figures"][key]
            lines.append(f"  {label:<12} {figure['value']}")
            lines.append(f"  {'':<12} ({figure['source']}, read {figure['read']})")
        lines.append(f"  {'price':<12} {price_text(provider['price'])}")
        price = provider["price"]
        lines.append(f"  {'':<12} ({price['source']}, read {price['read']})")
    return "\n".join(lines)


def price_text(price: dict) -> str:
    """A provider's list price in words: per GB-second, per vCPU-second, per request, rounding."""
    def dollars(value):
        return f"${value:.10f}".rstrip("0")

    unit = "GB" if "usd_per_gb_second" in price else "GiB"
    per_memory = price.get("usd_per_gb_second") or price["usd_per_gib_second"]
    parts = [f"{dollars(per_memory)} per {unit}-second"]
    if price.get("usd_per_vcpu_second"):
        parts.append(f"{dollars(price['usd_per_vcpu_second'])} per vCPU-second")
    parts.append(f"${price['usd_per_million_requests']:.2f} per million requests")
    step = price["billing_granularity_ms"]
    parts.append(f"{step} ms steps" if step else "rounding not stated")
    return ", ".join(parts)


def cost_table(documented: dict, warm_ms: dict[str, float]) -> str:
    """Dollars per million predictions for each provider at the warm latency measured for it."""
    lines = [f"{'provider':<36} {'ms':>6} {'$ / million':>12}  configuration"]
    for provider in documented["providers"]:
        price, duration = provider["price"], warm_ms[provider["id"]]
        cost = cost_per_million(price, duration)
        lines.append(f"{provider['name']:<36} {duration:>6.1f} {cost:>12.2f}  "
                     f"{price['configuration']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m serverless_dl.clouds.other_clouds`: stage an adapter, or make the base image."""
    parser = argparse.ArgumentParser(prog="python -m serverless_dl.clouds.other_clouds",
                                     description="Lesson 12's adapters for other clouds.")
    commands = parser.add_subparsers(dest="command", required=True)
    staging = commands.add_parser("stage", help="assemble an adapter and the core for deploying")
    staging.add_argument("adapter", choices=ADAPTERS)
    staging.add_argument("--out", help="target folder (default: build/clouds/ADAPTER)")
    commands.add_parser("base", help=f"make {python_image()} available (a stand-in if need be)")
    args = parser.parse_args(argv)
    try:
        if args.command == "stage":
            target = stage(args.adapter, args.out)
            print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
            for path in sorted(target.iterdir()):
                print(f"  {path.name}")
        else:
            docker_engine.ensure_engine()
            print(f"{python_image()}: {ensure_python_image()}")
    except (AdapterError, docker_engine.DockerUnavailable, docker_engine.DockerError,
            lambda_base.LambdaBaseError) as error:
        parser.exit(1, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
