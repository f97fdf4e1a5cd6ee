"""Lesson 06's deployment, against the local stand-ins: moto for the APIs, a real registry.

The flow test pushes the classic image to Debian's docker-registry, creates the
function in moto, and invokes it: the invocation must run exactly the pushed
image (by digest) with the function's configured memory and timeout.
"""

import json
import os
import shutil

import boto3
import pytest

from serverless_dl import docker_engine as harness
from serverless_dl.aws_local import LocalRegistry, LocalServiceError, MotoServer
from serverless_dl.aws_target import AwsTarget, AwsTargetError, connect
from serverless_dl.deploy import (
    FUNCTION_NAME,
    MEMORY_MB,
    REPOSITORY_NAME,
    TIMEOUT_SECONDS,
    configure_function,
    deploy_function,
)
from serverless_dl.envs import aws_tool

EXPECTED_CLASS = "pants"  # the label of images/pants.jpg, whatever the model's scores


@pytest.fixture(scope="module")
def registry_installed():
    """Debian's docker-registry: mandatory in CI, skipped with the reason elsewhere."""
    if shutil.which("docker-registry") is None:
        reason = "docker-registry is not installed (Debian: apt-get install docker-registry)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.mark.parametrize(
    ("profile", "region", "message"),
    [("", "ireland", "not a region name"), ("", "eu-west", "not a region name"),
     (None, "eu-west-1", "must be strings")],
)  # fmt: skip
def test_bad_parameters_are_one_line_errors(tmp_path, profile, region, message):
    with pytest.raises(AwsTargetError, match=message) as error:
        connect(profile, region, tmp_path)
    assert "\n" not in str(error.value)


def test_the_aws_switch_names_the_profile_and_restores_the_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # must not redirect real calls
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "would-override-the-profile")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with AwsTarget(profile="course", region="us-east-1", work_dir=tmp_path) as target:
        assert not target.local
        assert os.environ["AWS_PROFILE"] == "course"
        assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
        assert "AWS_ENDPOINT_URL" not in os.environ and "AWS_ACCESS_KEY_ID" not in os.environ
        uri = "111122223333.dkr.ecr.us-east-1.amazonaws.com/clothing-model"
        assert target.registry_for(uri) == "111122223333.dkr.ecr.us-east-1.amazonaws.com"
        assert target.push_uri(uri, "v1") == f"{uri}:v1"
        with pytest.raises(AwsTargetError, match="public http"):
            target.public_url("images/pants.jpg")
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "would-override-the-profile"
    assert "AWS_PROFILE" not in os.environ


def test_moto_answers_on_loopback_and_stops(tmp_path):
    with MotoServer(tmp_path) as moto:
        ecr = boto3.client(
            "ecr", endpoint_url=moto.url, region_name="eu-west-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        uri = ecr.create_repository(repositoryName="demo")["repository"]["repositoryUri"]
        assert moto.url.startswith("http://127.0.0.1:")
    assert uri.endswith(".dkr.ecr.eu-west-1.amazonaws.com/demo")
    assert moto._process is None


def test_a_registry_without_the_image_says_so_in_one_line(tmp_path, registry_installed):
    with LocalRegistry(tmp_path) as registry:
        assert registry.address.startswith("127.0.0.1:")
        with pytest.raises(LocalServiceError, match="has no image nothing:latest") as error:
            registry.manifest("nothing", "latest")
    assert "\n" not in str(error.value)


@pytest.mark.docker
def test_the_lesson_06_flow_runs_the_pushed_image_with_its_configuration(
    tmp_path, function_images, registry_installed
):
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    with connect("", "eu-west-1", tmp_path) as target:
        assert target.local and os.environ["AWS_ENDPOINT_URL"] == target.moto.url
        configuration = deploy_function(target)
        assert (configuration["Timeout"], configuration["MemorySize"]) == (
            TIMEOUT_SECONDS, MEMORY_MB
        )
        # ECR, the function and the registry agree on the image's digest.
        ecr_digest = boto3.client("ecr").describe_images(repositoryName=REPOSITORY_NAME)[
            "imageDetails"][0]["imageDigest"]  # fmt: skip
        resolved = boto3.client("lambda").get_function(FunctionName=FUNCTION_NAME)["Code"][
            "ResolvedImageUri"]  # fmt: skip
        assert resolved.endswith(f"@{ecr_digest}")
        assert target.registry.manifest(REPOSITORY_NAME, "latest").digest == ecr_digest

        with target.image_url("images/pants.jpg") as url:
            cold = target.invoke(FUNCTION_NAME, {"url": url})
            warm = target.invoke(FUNCTION_NAME, {"url": url})
            assert cold.payload["prediction"] == warm.payload["prediction"] == EXPECTED_CLASS
            assert cold.init_ms is not None and warm.init_ms is None
            assert warm.report["Memory Size"] == MEMORY_MB and warm.billed_ms > 0

            container = target._warm[FUNCTION_NAME].container.container
            inspected = json.loads(harness.docker("inspect", container).stdout)[0]
            assert inspected["HostConfig"]["Memory"] == MEMORY_MB * 2**20
            assert inspected["HostConfig"]["ReadonlyRootfs"] is True
            assert inspected["Config"]["User"] == "1000:1000"
            assert inspected["Config"]["Image"].endswith(f"@{ecr_digest}")
            assert f"AWS_LAMBDA_FUNCTION_TIMEOUT={TIMEOUT_SECONDS}" in inspected["Config"]["Env"]

            # A new configuration gets a new execution environment, as on Lambda.
            configure_function(target, FUNCTION_NAME, timeout_seconds=10, memory_mb=512, show=False)
            resized = target.invoke(FUNCTION_NAME, {"url": url})
            assert resized.init_ms is not None and resized.report["Memory Size"] == 512
            assert resized.payload["prediction"] == EXPECTED_CLASS
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before
    assert target.moto._process is None and target.registry._process is None


@pytest.mark.docker
def test_a_failing_command_is_a_one_line_error(tmp_path, registry_installed, docker_engine):
    with connect("", "eu-west-1", tmp_path) as target:
        with pytest.raises(AwsTargetError, match="RepositoryNotFoundException") as error:
            target.shell("aws ecr describe-images --repository-name missing", show=False)
    assert "\n" not in str(error.value)
    assert aws_tool("aws").exists()
