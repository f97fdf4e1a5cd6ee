"""The homework's container images: the base image the course provides, and the learner's.

`build_base_image(model)` lays out a build context with the learner's
converted model and the classic Lambda requirements, then builds
`homework/Dockerfile.base` FROM `public.ecr.aws/lambda/python:3.11` (AWS's
image, or the course's offline stand-in: `make docker-base`).

The learner's function image starts FROM the result: `homework/Dockerfile`
(a template with TODOs) adds the handler exported from the homework notebook
(`homework/lambda_function.py`) and the course's guarded download,
`image_source.py`, which the handler imports as lesson 04's does.
`prepare_function_folder` lays out that build context; the grader uses the
same folder, with the model, as a task root for the Runtime Interface
Emulator. The image runs with `serverless_dl.containers.lambda_base.start_function`,
behind its own emulator.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from serverless_dl.base.paths import BUILD, HOMEWORK, REQUIREMENTS, ROOT
from serverless_dl.containers import docker_engine, lambda_base
from serverless_dl.function.handler_modules import IMAGE_SOURCE

BASE_TAG = "serverless-dl-homework-base:python3.11"
BASE_DOCKERFILE = HOMEWORK / "Dockerfile.base"
BASE_PYTHON = "3.11"
BASE_CONTEXT = BUILD / "homework" / "base"
MODEL_NAME = "homework-model.tflite"
# Local runs fetch images from 127.0.0.1, which the hardened handler refuses unless told.
LOCAL_TEST_ENV = {"ALLOW_LOOPBACK_URLS": "1"}

HANDLER_NAME = "lambda_function.py"
HOMEWORK_HANDLER = HOMEWORK / HANDLER_NAME  # written by `make export-homework`
FUNCTION_DOCKERFILE = HOMEWORK / "Dockerfile"
FUNCTION_TAG = "serverless-dl-homework-function"
FUNCTION_CONTEXT = BUILD / "homework" / "function"
# The course's files a homework handler imports: lesson 05's guarded download.
COURSE_MODULES = (IMAGE_SOURCE,)


def prepare_base_context(model: str | Path, folder: str | Path = BASE_CONTEXT) -> Path:
    """Copy `model` and the classic Lambda requirements into `folder`, the base image's context."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, folder / MODEL_NAME)
    shutil.copyfile(REQUIREMENTS / "lambda-classic.txt", folder / "requirements.txt")
    return folder


def _shown(path: str | Path) -> Path:
    """`path` as typed in the repository root."""
    path = Path(path).resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def build_command(
    folder: str | Path = BASE_CONTEXT, tag: str = BASE_TAG, dockerfile: str | Path = BASE_DOCKERFILE
) -> str:
    """The `docker build` command for an image of the homework, as typed in the repository root."""
    return f"docker build -f {_shown(dockerfile)} -t {tag} {_shown(folder)}"


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


def prepare_function_folder(
    handler: str | Path = HOMEWORK_HANDLER, folder: str | Path = FUNCTION_CONTEXT
) -> Path:
    """Copy the exported `handler` and the course modules it imports into `folder`."""
    handler, folder = Path(handler), Path(folder)
    if not handler.is_file():
        raise FileNotFoundError(
            f"{_shown(handler)} does not exist: save the notebook, then export your handler "
            "with `make export-homework`"
        )
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(handler, folder / HANDLER_NAME)
    for module in COURSE_MODULES:
        shutil.copyfile(module, folder / module.name)
    return folder


def build_function_image(
    handler: str | Path = HOMEWORK_HANDLER,
    dockerfile: str | Path = FUNCTION_DOCKERFILE,
    *,
    tag: str = FUNCTION_TAG,
    folder: str | Path = FUNCTION_CONTEXT,
    log: Callable[[str], None] = print,
) -> str:
    """Build the function image from `dockerfile` with `handler` in its context; return its tag.

    The base image must exist (`build_base_image`); the Dockerfile starts FROM it.
    """
    context = prepare_function_folder(handler, folder)
    log(f"$ {build_command(context, tag, dockerfile)}")
    docker_engine.build_image(context, tag, dockerfile=dockerfile, timeout=600)
    return tag
