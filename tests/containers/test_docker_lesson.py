"""Lesson 06 shows and runs the commands a learner types, and builds for the function's platform.

The notebook's nbval check runs those commands; these tests check what they say: each
image is built with `FunctionImage.build_command()`, which names the Docker platform of
the architecture that docker/template.yaml gives the function, and the learner's own
steps (build, images, run, the POST) are commands, not course helpers.
"""

import re

import nbformat
import pytest
import yaml

from serverless_dl.base.paths import DOCKER, LESSONS, NOTEBOOKS
from serverless_dl.containers.function_images import (
    FUNCTION_ARCHITECTURE,
    FUNCTION_IMAGES,
    LAMBDA_PLATFORMS,
)

LESSON = "06-docker"
INVOKE_URL = "http://localhost:8080/2015-03-31/functions/function/invocations"
# Course helpers that would do a learner's step for them; the lesson types the commands instead.
LEARNER_STEP_HELPERS = (
    "build_function_image", "build_image", "start_function", "run_container", "predict(",
    "image_url", "post_json",
)  # fmt: skip


def lesson_cells(kind: str) -> list[str]:
    """The sources of the lesson's code cells: `bash` (%%bash) or `python` (the others)."""
    notebook = nbformat.read(NOTEBOOKS / f"{LESSON}.ipynb", as_version=4)
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    return [source for source in sources if source.startswith("%%bash") == (kind == "bash")]


def shell_commands() -> list[str]:
    """Every command line of the lesson's %%bash cells, continuation lines joined."""
    text = "\n".join(source.split("\n", 1)[1] for source in lesson_cells("bash"))
    return [" ".join(line.split()) for line in re.sub(r"\\\n", " ", text).splitlines()]


class TemplateLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (!Ref, !Sub, ...) as plain values."""


TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_template_s_functions_have_the_architecture_the_images_are_built_for():
    template = yaml.load((DOCKER / "template.yaml").read_text(), Loader=TemplateLoader)
    functions = [resource for resource in template["Resources"].values()
                 if resource["Type"] == "AWS::Serverless::Function"]  # fmt: skip
    assert functions
    for function in functions:
        assert function["Properties"]["Architectures"] == [FUNCTION_ARCHITECTURE]
    assert LAMBDA_PLATFORMS[FUNCTION_ARCHITECTURE] == "linux/amd64"


@pytest.mark.parametrize("flavour", FUNCTION_IMAGES)
def test_the_lesson_builds_each_image_with_the_command_a_learner_types(flavour):
    image = FUNCTION_IMAGES[flavour]
    command = image.build_command()
    assert f" --platform {LAMBDA_PLATFORMS[FUNCTION_ARCHITECTURE]} " in f" {command} "
    assert command in shell_commands(), f"the lesson does not run {command!r}"
    assert command in image.dockerfile.read_text(), "the Dockerfile's header shows another command"
    assert command in (LESSONS / f"{LESSON}.md").read_text(), "the written lesson lacks it"


def test_every_function_image_build_in_the_lesson_states_the_platform():
    builds = [line for line in shell_commands()
              if line.startswith("docker build") and " -f docker/" in line]  # fmt: skip
    assert len(builds) == len(FUNCTION_IMAGES)
    for line in builds:
        assert f"--platform {LAMBDA_PLATFORMS[FUNCTION_ARCHITECTURE]}" in line, line


def test_the_learner_s_steps_are_commands_not_course_helpers():
    python = "\n".join(lesson_cells("python"))
    for helper in LEARNER_STEP_HELPERS:
        assert helper not in python, f"lesson {LESSON} does a learner's step with {helper}"
    commands = shell_commands()
    assert "docker images clothing-model" in commands
    assert "docker run -d --rm --name clothing-model -p 8080:8080 clothing-model" in commands
    assert any(line.startswith(f"curl -s -X POST {INVOKE_URL} -d ") for line in commands)
    assert "ALLOW_LOOPBACK_URLS" not in "\n".join(commands)  # the handler's guards stay on
