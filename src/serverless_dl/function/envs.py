"""The course's Python environments and how to run code inside them.

`make` creates them on first use:

- `.venv`: the course environment (TensorFlow, JupyterLab, papermill, ...).
- `.venvs/lambda-classic`: what runs inside Lambda on the python3.11 runtime:
  tflite-runtime 2.14, numpy < 2, keras-image-helper 0.0.1, Pillow. No TensorFlow.
- `.venvs/lambda-modern`: LiteRT (ai-edge-litert), numpy 2, keras-image-helper
  0.0.2, Pillow, as on the python3.12/3.13 runtimes. No TensorFlow.
- `.venvs/lambda-onnx`: ONNX Runtime instead of a TFLite interpreter, numpy 2,
  keras-image-helper 0.0.2, Pillow (lesson 03's third runtime). No TensorFlow.
- `.venvs/clouds`: lesson 12's local runners for other clouds (functions-framework,
  azure-functions) with the same core packages as lambda-modern. No TensorFlow.
- `.venvs/aws`: AWS tooling (SAM CLI, which ships the Lambda Runtime Interface
  Emulator, the AWS CLI, moto).

The Lambda environments also hold awslambdaric, the runtime interface client
that the AWS base images preinstall.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from serverless_dl.base.paths import VENVS

LAMBDA_FLAVOURS = ("classic", "modern")  # the TFLite handler's two paths (lessons 03-06)
# Every TensorFlow-free environment: the TFLite ones and ONNX Runtime's (lesson 03).
ENVIRONMENT_FLAVOURS = (*LAMBDA_FLAVOURS, "onnx")

# Variables that would leak the course environment into a child interpreter.
_LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


class EnvironmentMissing(RuntimeError):
    """A course environment has not been created yet."""


def venv_bin(name: str) -> Path:
    """Return the `bin` folder of the repo-local environment `.venvs/<name>`."""
    return VENVS / name / "bin"


def lambda_python(flavour: str) -> Path:
    """Return the interpreter of the TensorFlow-free Lambda environment `flavour`."""
    if flavour not in ENVIRONMENT_FLAVOURS:
        raise ValueError(
            f"unknown Lambda environment {flavour!r}; choose one of {ENVIRONMENT_FLAVOURS}"
        )
    python = venv_bin(f"lambda-{flavour}") / "python"
    if not python.exists():
        raise EnvironmentMissing(f"{python} does not exist; run `make setup` first")
    return python


def aws_tool(name: str) -> Path:
    """Return the path of a command (`sam`, `aws`, `moto_server`) from `.venvs/aws`."""
    tool = venv_bin("aws") / name
    if not tool.exists():
        raise EnvironmentMissing(f"{tool} does not exist; run `make setup` first")
    return tool


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return a copy of `os.environ` that does not leak the course environment.

    Child interpreters from other virtual environments must see only their own
    packages, otherwise "TensorFlow-free" would not be true.
    """
    env = {key: value for key, value in os.environ.items() if key not in _LEAKY_VARIABLES}
    course_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if part != course_bin
    )
    env.update(extra or {})
    return env


def run_in_lambda_env(
    flavour: str, args: list[str], cwd: str | Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `python ARGS...` in a Lambda environment and return the finished process.

    Output is captured as text; the caller decides what a non-zero exit means.
    """
    return subprocess.run(
        [str(lambda_python(flavour)), *args],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
