"""The Lambda Python base images (AWS's, or the offline stand-ins) and the Docker harness.

The first run builds the stand-ins (debootstrap, about two minutes); later
runs find them in `build/docker` and take seconds.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import serverless_dl.containers.docker_engine as harness
from serverless_dl.base.paths import ROOT
from serverless_dl.containers import lambda_base
from serverless_dl.containers.docker_engine import DockerUnavailable, docker, image_exists
from serverless_dl.containers.lambda_base import SUPPORTED_VERSIONS, image_name, start_function

# Runs as Lambda runs it: another user, read-only root, a writable /tmp, a memory limit.
LAMBDA_LIKE = ("--user", "1000:1000", "--read-only", "--tmpfs", "/tmp", "--memory", "512m")
MEMORY_LIMIT = 512 * 1024 * 1024

HANDLER = textwrap.dedent("""
    import os
    import sys
    from pathlib import Path

    import tomli_w


    def memory_limit():
        for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
            try:
                return int(Path(path).read_text())
            except (OSError, ValueError):
                pass
        return None


    def writable(folder):
        try:
            Path(folder, "probe").write_text("x")
            return True
        except OSError:
            return False


    def handler(event, context):
        return {
            "echo": event,
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "toml": tomli_w.dumps({"a": 1}),
            "package": tomli_w.__file__,
            "uid": os.getuid(),
            "task_root_writable": writable("/var/task"),
            "tmp_writable": writable("/tmp"),
            "memory_limit": memory_limit(),
        }
""")

# What a learner writes: nothing in it knows about this machine.
LEARNER_DOCKERFILE = textwrap.dedent("""
    FROM {image}
    RUN pip install tomli-w==1.2.0
    COPY hello.py ./
    CMD ["hello.handler"]
""")

# Calls the emulator that the entrypoint started, on the container's own loopback.
INVOKE_INSIDE = textwrap.dedent("""
    import json, socket, sys, time, urllib.request
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", 8080), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("the emulator did not listen on 127.0.0.1:8080")
            time.sleep(0.1)
    request = urllib.request.Request(
        "http://127.0.0.1:8080/2015-03-31/functions/function/invocations",
        data=json.dumps({"from": "inside"}).encode(), method="POST")
    print(urllib.request.urlopen(request, timeout=60).read().decode())
""")


@pytest.fixture(scope="module")
def base_images(docker_engine):
    """The outcome of `make docker-base` for every supported version."""
    return lambda_base.ensure_base_images(SUPPORTED_VERSIONS, log=lambda message: None)


@pytest.fixture(scope="module", params=SUPPORTED_VERSIONS)
def version(request, base_images):
    return request.param


@pytest.fixture(scope="module")
def learner_image(version, tmp_path_factory):
    """A learner-style function image built FROM the base image (cached by Docker)."""
    context = tmp_path_factory.mktemp(f"learner-{version}")
    (context / "hello.py").write_text(HANDLER)
    (context / "Dockerfile").write_text(LEARNER_DOCKERFILE.format(image=image_name(version)))
    tag = f"serverless-dl-test/learner:{version}"
    harness.build_image(context, tag, network="host")
    return tag


def run_in_image(image, *command):
    """Run COMMAND in IMAGE with no network; return stdout."""
    entrypoint, *arguments = command
    result = docker(
        "run", "--rm", "--network", "none", "--entrypoint", entrypoint, image, *arguments
    )
    return result.stdout.strip()


@pytest.mark.docker
def test_the_base_images_are_present_after_make_docker_base(base_images):
    assert set(base_images) == set(SUPPORTED_VERSIONS)
    assert set(base_images.values()) <= {"present", "pulled", "built"}
    for version in SUPPORTED_VERSIONS:
        assert image_exists(image_name(version))
        # A second run finds them and does nothing.
        assert lambda_base.ensure_base_image(version, log=lambda message: None) == "present"


@pytest.mark.docker
def test_the_base_image_has_python_and_pip_of_its_version(version):
    script = f"python{version} --version; python3 --version; python --version; "
    script += "command -v python3; pip --version"
    lines = run_in_image(image_name(version), "sh", "-c", script).splitlines()
    assert len(lines) == 5
    for line in lines[:3]:
        assert line.startswith(f"Python {version}.")
    assert lines[3].startswith("/var/lang/bin/")
    assert f"(python {version})" in lines[4]


@pytest.mark.docker
def test_the_base_image_keeps_the_aws_contract(version):
    config = harness.image_info(image_name(version))["Config"]
    assert config["Entrypoint"] == ["/lambda-entrypoint.sh"]
    assert config["WorkingDir"] == "/var/task"
    assert "LAMBDA_TASK_ROOT=/var/task" in config["Env"]
    assert "LAMBDA_RUNTIME_DIR=/var/runtime" in config["Env"]


@pytest.mark.docker
def test_a_stand_in_says_what_it_is(version):
    image = image_name(version)
    if not lambda_base.is_stand_in(image):
        pytest.skip(f"{image} is AWS's own image")
    labels = harness.image_info(image)["Config"]["Labels"]
    assert "stand-in" in labels["org.opencontainers.image.title"]
    assert labels[lambda_base.DIGEST_LABEL] == lambda_base.stand_in_digest(version)


@pytest.mark.docker
def test_the_entrypoint_needs_a_handler(version):
    result = docker("run", "--rm", "--network", "none", image_name(version), check=False)
    assert result.returncode == 142


@pytest.mark.docker
def test_a_learner_image_answers_through_its_emulator_at_the_invoke_url(learner_image, version):
    with start_function(learner_image) as function:
        reply = function.invoke({"hello": "world"})
        assert reply.status == 200, function.logs()
        body = reply.json()
    assert body["echo"] == {"hello": "world"}
    assert body["python"].startswith(f"{version}.")
    assert body["executable"].startswith("/var/lang/bin/python")
    assert body["toml"] == "a = 1\n"
    # The learner's `pip install` went into /var/lang, beside (not into) the runtime.
    assert body["package"].startswith(f"/var/lang/lib/python{version}/site-packages/")


@pytest.mark.docker
def test_a_learner_image_runs_as_lambda_runs_it(learner_image):
    with start_function(learner_image, options=LAMBDA_LIKE) as function:
        reply = function.invoke({"n": 1})
        assert reply.status == 200, function.logs()
        body = reply.json()
        second = function.invoke({"n": 2})
        assert second.json()["echo"] == {"n": 2}
    assert body["uid"] == 1000
    assert body["task_root_writable"] is False
    assert body["tmp_writable"] is True
    assert body["memory_limit"] == MEMORY_LIMIT


@pytest.mark.docker
def test_the_entrypoint_starts_the_emulator_on_port_8080(learner_image):
    """`docker run -p 8080:8080 IMAGE` as a learner does; called on the container's loopback."""
    container = harness.run_container(learner_image, network="none", options=LAMBDA_LIKE)
    try:
        result = docker("exec", container, "python", "-c", INVOKE_INSIDE, check=False)
        assert result.returncode == 0, result.stderr + harness.container_logs(container)
        assert json.loads(result.stdout)["echo"] == {"from": "inside"}
        assert "REPORT RequestId:" in harness.container_logs(container)
    finally:
        harness.remove_container(container)


@pytest.mark.docker
def test_an_engine_started_elsewhere_is_used_but_not_stopped(docker_engine):
    child = subprocess.run(
        [sys.executable, "-c", "from serverless_dl.containers.docker_engine import ensure_engine\n"
         "engine = ensure_engine(); print(engine.host, engine.started)"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert child.stdout.split() == [docker_engine.host, "False"]
    assert harness.answers(docker_engine.host)


@pytest.mark.parametrize(
    ("dockerd", "uid", "reason"),
    [(None, 0, "dockerd is not installed"), ("/usr/sbin/dockerd", 1000, "needs root")],
)
def test_no_engine_gives_a_one_line_reason(monkeypatch, tmp_path, dockerd, uid, reason):
    monkeypatch.setattr(harness, "_engine", None)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'nothing.sock'}")
    monkeypatch.setattr(harness, "own_host", lambda: f"unix://{tmp_path / 'ours.sock'}")
    monkeypatch.setattr(harness, "docker_cli", lambda: "/usr/bin/docker")
    monkeypatch.setattr(harness, "dockerd_path", lambda: dockerd)
    monkeypatch.setattr(harness.os, "geteuid", lambda: uid)
    with pytest.raises(DockerUnavailable, match=reason) as error:
        harness.ensure_engine()
    assert "\n" not in str(error.value)


def test_the_command_line_reports_errors_in_one_line(monkeypatch, capsys):
    def unavailable():
        raise DockerUnavailable("no Docker engine answers")

    monkeypatch.setattr(harness, "ensure_engine", unavailable)
    with pytest.raises(SystemExit) as exit_info:
        lambda_base.main(["--python", "3.11"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: no Docker engine answers\n"
