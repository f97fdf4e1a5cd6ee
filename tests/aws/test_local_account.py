"""The local AWS account of lessons 07 and 08: moto behind the front, a registry, found again.

One account serves the whole module. The front must forward every call to
moto and name it in its operations log, and run a container-image function
as Lambda does: the exact pushed image, with the function's memory, timeout
and variables, kept warm, replaced after a change, and answered with Lambda's
headers. The lessons' own flow (the clothing model, the CLI commands) is
checked by nbval of lessons 07 and 08, not repeated here.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

import boto3
import pytest

from serverless_dl.aws.aws_front import CONTAINER_LABEL, operation_name, signing_scope
from serverless_dl.aws.local_account import (
    LEDGER_VARIABLE,
    LOCAL_CREDENTIALS,
    LocalAccountError,
    account_folder,
    accounts_started_inside,
    ensure_account,
    find_account,
    record_push,
    stop_account,
)
from serverless_dl.base.processes import process_start_time
from serverless_dl.containers import docker_engine

REGION = "eu-west-1"
ECHO_IMAGE = "serverless-dl-test/echo-function"
ECHO_HANDLER = """
import json, os, time

def handler(event, context):
    print("event", json.dumps(event))
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    names = ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "GREETING", "ALLOW_LOOPBACK_URLS")
    return {"event": event, "environment": {name: os.environ.get(name) for name in names}}
"""


def _query(text: str) -> dict:
    return urllib.parse.parse_qs(text, keep_blank_values=True)


@pytest.mark.parametrize(
    ("service", "method", "target", "path", "query", "form", "operation"),
    [
        ("lambda", "POST", "", "/2015-03-31/functions/clothing-model/invocations", "", "",
         "Invoke"),
        ("lambda", "PUT", "", "/2015-03-31/functions/clothing-model/configuration", "", "",
         "UpdateFunctionConfiguration"),
        ("apigateway", "PUT", "", "/restapis/a1/resources/r1/methods/POST/integration", "", "",
         "PutIntegration"),
        ("apigateway", "POST", "", "/apikeys", "mode=import&format=csv", "", "ImportApiKeys"),
        ("apigateway", "POST", "", "/apikeys", "", "", "CreateApiKey"),
        ("ecr", "POST", "AmazonEC2ContainerRegistry_V20150921.PutImage", "/", "", "", "PutImage"),
        ("iam", "POST", "", "/", "", "Action=CreateRole&Version=2010-05-08", "CreateRole"),
        ("lambda", "GET", "", "/no/such/path", "", "", None),
    ],
)  # fmt: skip
def test_requests_are_named_with_botocores_operation_names(
    service, method, target, path, query, form, operation
):
    assert operation_name(service, method, target, path, _query(query), _query(form)) == operation


def test_the_service_is_the_signing_name_of_the_credential_scope():
    header = (
        "AWS4-HMAC-SHA256 Credential=testing/20261130/eu-west-1/apigateway/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert signing_scope(header) == ("testing", "eu-west-1", "apigateway")
    assert signing_scope("") is None


def test_an_unusable_folder_is_a_one_line_error(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    for folder, message in [("", "must name a folder"), (None, "must name a folder"),
                            (str(a_file), "is a file")]:  # fmt: skip
        with pytest.raises(LocalAccountError, match=message) as error:
            account_folder(folder)
        assert "\n" not in str(error.value)
    assert find_account(tmp_path / "nothing-here") is None
    assert stop_account(tmp_path / "nothing-here") is False


@pytest.fixture(scope="module")
def registry_installed():
    """Debian's docker-registry: mandatory in CI, skipped with the reason elsewhere."""
    if shutil.which("docker-registry") is None:
        reason = "docker-registry is not installed (Debian: apt-get install docker-registry)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def account(tmp_path_factory, docker_engine, registry_installed):
    """A local account for this module, stopped at its end."""
    folder = tmp_path_factory.mktemp("local-aws")
    started, _ = ensure_account(folder)
    yield started
    stop_account(folder)


@pytest.fixture
def aws(account, monkeypatch):
    """boto3 clients of the local account: `aws("ecr")`."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", account.endpoint_url)
    boto3.DEFAULT_SESSION = None
    yield lambda service: boto3.client(service)
    boto3.DEFAULT_SESSION = None


def test_a_second_lesson_finds_the_running_account(account):
    again, started = ensure_account(account.folder)
    assert (again, started) == (account, False)
    # A lesson in another process (another notebook kernel) finds it through its folder.
    status = subprocess.run(
        [sys.executable, "-m", "serverless_dl.aws.local_account", "status", "--dir",
         str(account.folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"endpoint {account.endpoint_url}" in status.stdout


def test_the_front_forwards_every_call_to_moto_and_logs_its_operation(account, aws):
    logged = len(account.operations())
    uri = aws("ecr").create_repository(repositoryName="forwarded")["repository"]["repositoryUri"]
    aws("apigateway").create_rest_api(name="forwarded")
    assert aws("sts").get_caller_identity()["Account"] == "123456789012"
    assert uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/forwarded"
    assert account.operations()[logged:] == [
        {"service": "ecr", "operation": "CreateRepository", "method": "POST", "path": "/"},
        {"service": "apigateway", "operation": "CreateRestApi", "method": "POST",
         "path": "/restapis"},
        {"service": "sts", "operation": "GetCallerIdentity", "method": "POST", "path": "/"},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def echo_function(account, tmp_path_factory):
    """A tiny container-image function, pushed to the account's registry and recorded in ECR."""
    from serverless_dl.containers.lambda_base import ensure_base_image

    ensure_base_image("3.11", log=lambda message: None)
    context = tmp_path_factory.mktemp("echo-image")
    (context / "app.py").write_text(ECHO_HANDLER)
    (context / "Dockerfile").write_text(
        "FROM public.ecr.aws/lambda/python:3.11\nCOPY app.py ${LAMBDA_TASK_ROOT}/\n"
        'CMD ["app.handler"]\n'
    )
    docker_engine.build_image(context, ECHO_IMAGE)
    pushed = f"{account.registry}/echo:latest"
    docker_engine.docker("tag", ECHO_IMAGE, pushed)
    docker_engine.docker("push", "--quiet", pushed)
    yield "echo"
    docker_engine.docker("image", "rm", ECHO_IMAGE, check=False)


def _invoke(aws, event, **options):
    reply = aws("lambda").invoke(FunctionName="echo", Payload=json.dumps(event), **options)
    payload = reply["Payload"].read()
    return reply, json.loads(payload) if payload else None


def _container(account):
    listed = docker_engine.docker(
        "ps", "--quiet", "--filter", f"label={CONTAINER_LABEL}={account.folder}"
    ).stdout.split()
    assert len(listed) == 1, listed
    return json.loads(docker_engine.docker("inspect", listed[0]).stdout)[0]


def test_the_front_runs_the_pushed_image_as_lambda_runs_a_function(account, aws, echo_function):
    aws("ecr").create_repository(repositoryName="echo")
    assert record_push(account.folder, "echo", "latest").startswith("ECR now lists echo:latest")
    digest = aws("ecr").describe_images(repositoryName="echo")["imageDetails"][0]["imageDigest"]
    role = aws("iam").create_role(RoleName="echo", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws("lambda").create_function(
        FunctionName="echo", PackageType="Image", Role=role, MemorySize=256, Timeout=2,
        Code={"ImageUri": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/echo:latest"},
        Environment={"Variables": {"GREETING": "hello"}},
    )  # fmt: skip

    reply, payload = _invoke(aws, {"n": 1}, LogType="Tail")
    assert payload == {
        "event": {"n": 1},
        "environment": {
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "GREETING": "hello",
            "ALLOW_LOOPBACK_URLS": "1",
        },
    }
    assert "FunctionError" not in reply and reply["ExecutedVersion"] == "$LATEST"
    log = base64.b64decode(reply["LogResult"]).decode()
    assert log.startswith("START RequestId:") and 'event {"n": 1}' in log
    assert log.splitlines()[-1].startswith("REPORT RequestId:") and "Memory Size: 256 MB" in log
    assert "Init Duration" in log  # a cold start

    warm, _ = _invoke(aws, {"n": 2}, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(warm["LogResult"]).decode()
    inspected = _container(account)
    assert inspected["Config"]["Image"].endswith(f"/echo@{digest}")  # exactly the pushed image
    assert inspected["HostConfig"]["Memory"] == 256 * 2**20
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert inspected["Config"]["User"] == "1000:1000"

    failed, error = _invoke(aws, {"fail": True})
    assert failed["FunctionError"] == "Unhandled" and "LogResult" not in failed
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "asked to fail")
    timed_out, error = _invoke(aws, {"sleep": 5})
    assert timed_out["FunctionError"] == "Unhandled" and error["errorType"] == "Sandbox.Timedout"

    # A change to the function replaces its execution environment.
    aws("lambda").update_function_configuration(FunctionName="echo", MemorySize=512)
    resized, payload = _invoke(aws, {"n": 3}, LogType="Tail")
    assert payload["environment"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert "Init Duration" in base64.b64decode(resized["LogResult"]).decode()
    assert _container(account)["HostConfig"]["Memory"] == 512 * 2**20

    assert aws("lambda").invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    missing = aws("lambda")
    with pytest.raises(missing.exceptions.ResourceNotFoundException):
        missing.invoke(FunctionName="no-such-function", Payload=b"{}")
    invokes = [entry for entry in account.operations() if entry["operation"] == "Invoke"]
    assert invokes[-1]["path"] == "/2015-03-31/functions/no-such-function/invocations"


def test_accounts_started_inside_are_stopped_and_others_left_alone(account, tmp_path):
    inside = tmp_path / "inside"
    ledger_outside = os.environ.get(LEDGER_VARIABLE)  # the test session's own
    with accounts_started_inside():
        assert os.environ[LEDGER_VARIABLE] != ledger_outside
        # Started by a child process, as a notebook kernel starts it.
        subprocess.run(
            [sys.executable, "-m", "serverless_dl.aws.local_account", "start",
             "--dir", str(inside)],
            check=True, capture_output=True,
        )  # fmt: skip
        started = find_account(inside)
        assert started is not None and find_account(account.folder) is not None
    assert find_account(inside) is None and find_account(account.folder) == account
    assert os.environ.get(LEDGER_VARIABLE) == ledger_outside
    assert all(process_start_time(pid) != start for pid, start in started.processes.values())


def test_stopping_the_account_ends_its_processes_and_removes_its_containers(account):
    assert stop_account(account.folder) is True
    assert find_account(account.folder) is None
    remaining = docker_engine.docker(
        "ps", "--all", "--quiet", "--filter", f"label={CONTAINER_LABEL}={account.folder}"
    ).stdout.split()
    assert remaining == []
    tags = docker_engine.docker(
        "image", "ls", "--quiet", "--filter", f"reference={account.registry}/*"
    ).stdout.split()
    assert tags == []
