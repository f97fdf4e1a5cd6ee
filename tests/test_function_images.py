"""The Dockerfiles learners use (lesson 05): lint-clean, trim their context, build and classify.

The images are built once per session (the `function_images` fixture); the
first build on a fresh machine installs the requirements from PyPI (about 20 s
each), later ones come from Docker's cache.
"""

import subprocess
import textwrap

import pytest

from serverless_dl import docker_engine as harness
from serverless_dl.client import predict
from serverless_dl.envs import aws_tool
from serverless_dl.function_images import (
    FUNCTION_IMAGES,
    FunctionImageError,
    function_image,
    image_url,
    lambda_like_options,
)
from serverless_dl.lambda_base import start_function
from serverless_dl.lambda_local import ALLOW_LOOPBACK
from serverless_dl.paths import DOCKER, ROOT

PROBE_IMAGE = "images/pants.jpg"
EXPECTED_CLASS = "pants"  # the label of images/pants.jpg, whatever the model's scores
CONTEXT_FILES = {
    "docker/lambda_function.py",
    "models/clothing-model.tflite",
    "requirements/lambda-classic.txt",
    "requirements/lambda-modern.txt",
}
# Things that make a build work on this offline machine only; they belong in the stand-in
# base images, never in what a learner deploys.
OFFLINE_WORKAROUNDS = ("PIP_CERT", "ca-certificates", "pip.conf", "--network", "ALLOW_LOOPBACK")


@pytest.mark.parametrize("flavour", FUNCTION_IMAGES)
def test_the_dockerfile_passes_hadolint(flavour):
    dockerfile = function_image(flavour).dockerfile
    result = subprocess.run(
        [str(aws_tool("hadolint")), "--no-color", str(dockerfile)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.parametrize(("flavour", "python"), [("classic", "3.11"), ("modern", "3.13")])
def test_the_dockerfile_is_what_a_learner_deploys(flavour, python):
    image = function_image(flavour)
    text = image.dockerfile.read_text()
    assert image.base == f"public.ecr.aws/lambda/python:{python}"
    assert f"requirements/lambda-{flavour}.txt" in text
    assert 'CMD ["lambda_function.lambda_handler"]' in text
    for workaround in OFFLINE_WORKAROUNDS:
        assert workaround not in text, workaround


def test_an_unknown_flavour_is_a_one_line_error():
    with pytest.raises(FunctionImageError, match="choose one of classic, modern") as error:
        function_image("gpu")
    assert "\n" not in str(error.value)


def test_the_dockerignore_admits_only_what_the_images_copy():
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"
    assert {rule.removeprefix("!") for rule in rules[1:]} == CONTEXT_FILES
    for path in CONTEXT_FILES:
        assert (ROOT / path).is_file(), path


@pytest.mark.docker
def test_the_build_context_holds_only_the_admitted_files(docker_engine):
    """Docker itself applies .dockerignore: list what `COPY . /context` receives."""
    lister = textwrap.dedent("""
        FROM public.ecr.aws/lambda/python:3.11
        COPY . /context
    """)
    tag = "serverless-dl-test/context"
    harness.docker("build", "--quiet", "--network", "none", "-t", tag, "-f", "-", ROOT,
                         input=lister, timeout=300)  # fmt: skip
    listing = harness.docker(
        "run", "--rm", "--network", "none", "--entrypoint", "find", tag, "/context", "-type", "f"
    ).stdout.split()
    harness.docker("image", "rm", tag, check=False)
    assert {path.removeprefix("/context/") for path in listing} == CONTEXT_FILES


@pytest.mark.docker
@pytest.mark.parametrize("flavour", FUNCTION_IMAGES)
def test_the_image_holds_the_exported_handler_and_the_model(function_images, flavour):
    tag = function_images[flavour].tag
    copies = {"lambda_function.py": DOCKER / "lambda_function.py",
              "clothing-model.tflite": ROOT / "models" / "clothing-model.tflite"}  # fmt: skip
    for name, path in copies.items():
        inside = subprocess.run(
            [harness.docker_cli(), "run", "--rm", "--network", "none",
             "--entrypoint", "cat", tag, f"/var/task/{name}"],
            env=harness.ensure_engine().env(), capture_output=True, check=True,
        ).stdout  # fmt: skip
        assert inside == path.read_bytes(), name


@pytest.mark.docker
@pytest.mark.parametrize("flavour", FUNCTION_IMAGES)
def test_the_image_classifies_pants_through_its_emulator(function_images, flavour):
    built = function_images[flavour]
    assert 0 < built.added_bytes < built.size_bytes
    with image_url(PROBE_IMAGE) as url, start_function(built.tag, env=ALLOW_LOOPBACK) as function:
        result = predict(url, function.url)
        assert "REPORT RequestId:" in function.logs()
    assert result["prediction"] == EXPECTED_CLASS


PROBE = textwrap.dedent("""
    import os, pathlib
    def writable(folder):
        try:
            pathlib.Path(folder, "probe").write_text("x")
            return True
        except OSError:
            return False
    limit = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        if pathlib.Path(path).exists():
            limit = int(pathlib.Path(path).read_text())
    print(os.getuid(), writable("/var/task"), writable("/tmp"), limit)
""")


@pytest.mark.docker
def test_the_classic_image_runs_as_lambda_runs_it(function_images):
    tag = function_images["classic"].tag
    options = lambda_like_options(512)
    seen = harness.run_container(
        tag, "-c", PROBE, detach=False, network="none", options=["--entrypoint", "python", *options]
    ).split()
    assert seen == ["1000", "False", "True", str(512 * 2**20)]
    with image_url(PROBE_IMAGE) as url:
        with start_function(tag, env=ALLOW_LOOPBACK, options=options) as function:
            assert predict(url, function.url)["prediction"] == EXPECTED_CLASS
