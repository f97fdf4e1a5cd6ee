"""The homework's container images: the base image the course provides, built locally.

`build_base_image(model)` lays out a build context with the learner's
converted model and the classic Lambda requirements, then builds
`homework/Dockerfile.base` FROM `public.ecr.aws/lambda/python:3.11` (AWS's
image, or the course's offline stand-in: `make docker-base`). The learner's
own function image starts FROM the result and adds a handler; it runs with
`serverless_dl.lambda_base.start_function`, behind the image's own Runtime
Interface Emulator.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from serverless_dl import docker_engine, lambda_base
from serverless_dl.paths import BUILD, HOMEWORK, REQUIREMENTS, ROOT

BASE_TAG = "serverless-dl-homework-base"
BASE_DOCKERFILE = HOMEWORK / "Dockerfile.base"
BASE_PYTHON = "3.11"
BASE_CONTEXT = BUILD / "homework" / "base"
MODEL_NAME = "homework-model.tflite"
# Local runs fetch images from 127.0.0.1, which the hardened handler refuses unless told.
LOCAL_TEST_ENV = {"ALLOW_LOOPBACK_URLS": "1"}


def prepare_base_context(model: str | Path, folder: str | Path = BASE_CONTEXT) -> Path:
    """Copy `model` and the classic Lambda requirements into `folder`, the base image's context."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, folder / MODEL_NAME)
    shutil.copyfile(REQUIREMENTS / "lambda-classic.txt", folder / "requirements.txt")
    return folder


def build_command(folder: str | Path = BASE_CONTEXT, tag: str = BASE_TAG) -> str:
    """The `docker build` command for the base image, as typed in the repository root."""
    folder = Path(folder).resolve()
    shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    return f"docker build -f {BASE_DOCKERFILE.relative_to(ROOT)} -t {tag} {shown}"


def build_base_image(
    model: str | Path,
    *,
    tag: str = BASE_TAG,
    folder: str | Path = BASE_CONTEXT,
    log: Callable[[str], None] = print,
) -> str:
    """Build the homework base image with `model` inside; return its tag.

    Makes the Lambda Python base image available first (AWS's, or the
    stand-in). Docker's cache makes a rebuild with the same model take seconds.
    """
    docker_engine.ensure_engine()
    lambda_base.ensure_base_image(BASE_PYTHON, log=log)
    context = prepare_base_context(model, folder)
    log(f"$ {build_command(context, tag)}")
    docker_engine.build_image(context, tag, dockerfile=BASE_DOCKERFILE, timeout=1800)
    return tag
