"""Run a Lambda handler on this machine under the real Runtime Interface Emulator.

The AWS Lambda Runtime Interface Emulator (RIE) is the same program the AWS
base images use to serve a function locally. It is not published under its own
name on any registry we can reach, but the SAM CLI wheel ships it as a static
binary, so `make setup` gets it with `.venvs/aws`. The RIE starts
`python -m awslambdaric module.handler`, which talks to it exactly as it would
talk to Lambda, and serves invocations at `INVOKE_PATH`.

Typical use::

    with LambdaEmulator("lambda_function.lambda_handler", task_root, python) as function:
        reply = function.invoke({"url": "http://127.0.0.1:8000/pants.jpg"})
        print(reply.json())
        print(function.reports())
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base import processes
from serverless_dl.base.processes import free_port
from serverless_dl.function.envs import VENVS, clean_environment

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
DEFAULT_TIMEOUT_SECONDS = 3  # Lambda's own default for a new function

_REPORT_LINE = re.compile(r"^REPORT RequestId: (?P<request_id>\S+)\s+(?P<fields>.*)$", re.M)
_REPORT_FIELD = re.compile(r"(?P<name>[A-Za-z ]+): (?P<value>[\d.]+) (?P<unit>ms|MB)")
_INIT_REPORT = re.compile(r"INIT REPORT\(durationMs: (?P<ms>[\d.]+)\)")


class EmulatorError(RuntimeError):
    """The emulator could not be found, started, or reached."""


def find_rie() -> Path:
    """Locate the Runtime Interface Emulator binary.

    Looks, in order, at the `AWS_LAMBDA_RIE` variable, the binary inside the
    SAM CLI of `.venvs/aws`, and `aws-lambda-rie` on the PATH (where a learner
    who installed it from AWS's GitHub releases would have it).
    """
    if os.environ.get("AWS_LAMBDA_RIE"):
        return Path(os.environ["AWS_LAMBDA_RIE"])
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    pattern = f"aws/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-{arch}"
    bundled = sorted(VENVS.glob(pattern))
    if bundled:
        return bundled[0]
    on_path = shutil.which("aws-lambda-rie")
    if on_path:
        return Path(on_path)
    raise EmulatorError("the Lambda Runtime Interface Emulator was not found; run `make setup`")


@dataclass
class Invocation:
    """What one HTTP call to an invoke URL returned."""

    status: int
    body: bytes
    seconds: float

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8, undecodable bytes replaced."""
        return self.body.decode("utf-8", errors="replace")


def post_json(
    url: str, payload, timeout: float = 60, headers: dict[str, str] | None = None
) -> Invocation:
    """POST `payload` as JSON to `url` and return the reply, whatever its status.

    `headers` are sent as well (an API key's `x-api-key`, say).
    """
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return Invocation(status=status, body=body, seconds=time.perf_counter() - started)


def parse_reports(log: str) -> list[dict[str, float | str]]:
    """Parse the `REPORT RequestId: ...` lines the emulator prints after each invocation.

    Each report becomes a dict such as
    `{"request_id": "...", "Duration": 12.3, "Billed Duration": 13, "Init Duration": 80.1, ...}`.
    """
    reports = []
    for match in _REPORT_LINE.finditer(log):
        report: dict[str, float | str] = {"request_id": match["request_id"]}
        for field in _REPORT_FIELD.finditer(match["fields"]):
            report[field["name"].strip()] = float(field["value"])
        reports.append(report)
    return reports


def parse_init_durations(log: str) -> list[float]:
    """Return every init duration (ms) the emulator reported, one per cold start."""
    return [float(match["ms"]) for match in _INIT_REPORT.finditer(log)]


class LambdaEmulator:
    """A Lambda function served on 127.0.0.1 by the RIE and awslambdaric.

    `handler` is `module.function` as in Lambda's handler setting, `task_root`
    the folder that holds the module (Lambda's `/var/task`), `python` the
    interpreter of the environment the function runs in. `timeout` and
    `memory_mb` play the role of the function's configuration.
    """

    def __init__(
        self,
        handler: str,
        task_root: str | Path,
        python: str | Path,
        *,
        environment: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        memory_mb: int = 1024,
        port: int | None = None,
        start_seconds: float = 20,
    ):
        self.handler = handler
        self.task_root = Path(task_root)
        self.python = Path(python)
        self.environment = dict(environment or {})
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.port = port or free_port()
        self.start_seconds = start_seconds
        self._process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self._final_log = ""

    @property
    def url(self) -> str:
        """The invoke URL, as a learner would call it."""
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def start(self) -> LambdaEmulator:
        """Start the emulator and wait until it accepts connections."""
        if not self.task_root.is_dir():
            raise EmulatorError(f"task root {self.task_root} is not a folder")
        env = clean_environment(
            {
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
                "LAMBDA_TASK_ROOT": str(self.task_root),
                "PYTHONUNBUFFERED": "1",
                **self.environment,
            }
        )
        log_fd, log_name = tempfile.mkstemp(prefix="rie-", suffix=".log")
        self._log_path = Path(log_name)
        # The RIE also serves the Runtime API to awslambdaric on 127.0.0.1:9001 by
        # default; a port of its own lets several emulators run side by side.
        command = [
            str(find_rie()),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{free_port()}",
            str(self.python),
            "-m",
            "awslambdaric",
            self.handler,
        ]
        # A session of its own lets stop() end the emulator and the runtime together.
        self._process = processes.start_in_session(command, log_fd, cwd=self.task_root, env=env)
        os.close(log_fd)
        try:
            processes.wait_for_port(self.port, self.start_seconds, self._process)
        except processes.NotReady as error:
            log = self.logs()
            self.stop()
            raise EmulatorError(f"{error}\n--- emulator log ---\n{log[-3000:]}") from None
        return self

    def invoke(self, event, timeout: float = 120) -> Invocation:
        """Send one event (any JSON value, or raw bytes) and return the reply."""
        return post_json(self.url, event, timeout=timeout)

    def logs(self) -> str:
        """Everything the emulator and the function printed so far."""
        if self._log_path is None:
            return self._final_log
        return self._log_path.read_text(errors="replace")

    def reports(self) -> list[dict[str, float | str]]:
        """The parsed REPORT lines so far, one per finished invocation."""
        return parse_reports(self.logs())

    @property
    def pid(self) -> int | None:
        """Process id of the emulator (the runtime is its child)."""
        return self._process.pid if self._process else None

    def stop(self) -> None:
        """Stop the emulator and its runtime; the log stays readable through `logs()`."""
        if self._process is not None:
            processes.stop_process_group(self._process)
        self._process = None
        if self._log_path is not None:
            self._final_log = self._log_path.read_text(errors="replace")
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def __enter__(self) -> LambdaEmulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
