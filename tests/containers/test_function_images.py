"""The Dockerfiles learners use (lesson 06): lint-clean, trim their context, build and classify.

The images are built once per session (the `function_images` fixture); the
first build on a fresh machine installs the requirements from PyPI (about 20 s
each), later ones come from Docker's cache. Also lesson 06's plumbing: the
pretend web server inside a function's network, and the turns for port 8080.
"""

import fcntl
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from serverless_dl.attacks.pretend_internet import PRETEND_PUBLIC_ADDRESS
from serverless_dl.base.paths import DOCKER, ROOT
from serverless_dl.containers import docker_engine as harness
from serverless_dl.containers.function_images import (
    FUNCTION_IMAGES,
    SIDECAR_LABEL,
    FunctionImageError,
    claim_published_port,
    function_image,
    image_url,
    lambda_like_options,
    runtime_peak_rss_bytes,
    serve_images_inside,
)
from serverless_dl.containers.lambda_base import start_function
from serverless_dl.function.client import predict
from serverless_dl.function.envs import aws_tool
from serverless_dl.function.lambda_local import ALLOW_LOOPBACK
from serverless_dl.function.rie import INVOKE_PATH, free_port

PROBE_IMAGE = "images/pants.jpg"
EXPECTED_CLASS = "pants"  # the label of images/pants.jpg, whatever the model's scores
CONTEXT_FILES = {
    "docker/image_source.py",
    "docker/lambda_function.py",
    "docker/fastapi/app.py",  # docker/fastapi/Dockerfile (lesson 09)
    "docker/onnx/lambda_function.py",  # docker/Dockerfile.onnx (lesson 03)
    "models/clothing-model.tflite",
    "models/clothing-v2.tflite",  # --build-arg MODEL=... of docker/Dockerfile (lesson 10)
    "models/clothing-model.onnx",
    # docker/composition/Dockerfile.features and Dockerfile.head (lesson 11)
    "docker/composition/answers.py",
    "docker/composition/features_function.py",
    "docker/composition/head_function.py",
    "models/clothing-backbone.tflite",
    "models/clothing-head.tflite",
    "models/clothing-head.json",
    "models/clothing-fabric-head.tflite",
    "models/clothing-fabric-head.json",
    "requirements/lambda-classic.txt",
    "requirements/lambda-fastapi.txt",
    "requirements/lambda-modern.txt",
    "requirements/lambda-onnx.txt",
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
def test_the_build_context_holds_only_the_admitted_files(function_images):
    """Docker itself applies .dockerignore: list what `COPY . /context` receives.

    (`function_images` makes sure the base image exists, as on a fresh machine it may not.)
    """
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
              "image_source.py": DOCKER / "image_source.py",
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
            assert 0 < runtime_peak_rss_bytes(function.container) < 512 * 2**20


@pytest.mark.docker
def test_the_pretend_web_server_answers_inside_the_function_s_network_only(function_images):
    """Lesson 06's data path: the handler fetches http://1.2.3.4/ with its guards on."""
    name = f"serverless-dl-test-pretend-{os.getpid()}"
    # Published on a free loopback port (not 8080), so that it cannot collide with a lesson run.
    harness.docker("run", "--detach", "--rm", "--name", name, "--publish",
                   f"127.0.0.1:{free_port()}:8080", function_images["classic"].tag)  # fmt: skip
    try:
        assert serve_images_inside(name) == f"http://{PRETEND_PUBLIC_ADDRESS}"
        host_port = harness.docker("port", name, "8080").stdout.split(":")[-1].strip()
        event = json.dumps({"url": f"http://{PRETEND_PUBLIC_ADDRESS}/pants.jpg"}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{host_port}{INVOKE_PATH}", event)
        answer = json.loads(urllib.request.urlopen(request, timeout=120).read())
        with socket.socket() as probe, pytest.raises(OSError):  # the host has no such address
            probe.bind((PRETEND_PUBLIC_ADDRESS, 0))
    finally:
        harness.remove_container(name)
    assert answer["prediction"] == EXPECTED_CLASS, answer
    deadline = time.monotonic() + 10  # the sidecar ends with the function's process namespace
    while harness.docker("ps", "-q", "--filter", f"label={SIDECAR_LABEL}={name}").stdout.strip():
        assert time.monotonic() < deadline, "the pretend web server outlived its function"
        time.sleep(0.2)


@pytest.mark.docker
def test_serving_images_inside_a_missing_container_is_a_one_line_error(docker_engine):
    with pytest.raises(FunctionImageError, match="is not running") as error:
        serve_images_inside(f"serverless-dl-test-missing-{os.getpid()}")
    assert "\n" not in str(error.value)


HOLD_LOCK = textwrap.dedent("""
    import fcntl, os, sys, time
    lock = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o666)
    fcntl.flock(lock, fcntl.LOCK_EX)
    print("held", flush=True)
    time.sleep(60)
""")


def test_a_second_run_waits_for_the_port_then_says_why_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    port = free_port()
    lock = tmp_path / f"serverless-dl-port-{port}.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FunctionImageError, match="another run of this lesson") as error:
            claim_published_port(port, "serverless-dl-test-none", seconds=1)
    finally:
        holder.kill()
        holder.wait()
    assert "\n" not in str(error.value)


@pytest.mark.docker
def test_a_port_another_program_holds_is_a_one_line_error(docker_engine, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(FunctionImageError, match=f"port {port} is in use by another") as error:
            claim_published_port(port, "serverless-dl-test-none", seconds=1)
    assert "\n" not in str(error.value)
    with open(tmp_path / f"serverless-dl-port-{port}.lock") as lock:  # released again
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
