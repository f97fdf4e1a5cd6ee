"""`make aws-clean` against a fresh moto server: the course's resources go, look-alikes stay.

One resource of every kind the course creates is made with boto3, next to
look-alikes that must survive: similar names without the course's tag, and a
tag with another value. The cleanup runs in-process with its API calls
recorded, so the test can check the order of the deletions (moto does not
enforce it, AWS does) and that the course policy allows every call. A second
run goes through the command line and must find nothing.

Where moto differs from AWS here:
- moto does not run functions, so Lambda never creates their log groups; the
  test creates `/aws/lambda/<function>` itself.
- moto deletes a usage plan that still has API stages; AWS refuses
  (BadRequestException), hence the check that stages are detached first.
- moto forgets a deleted event source mapping at once; AWS lists it as
  `Deleting` for a while, which the cleanup treats as gone.
- moto enforces no IAM policy and none of API Gateway's rate quotas
  (DeleteRestApi once per 30 s): the policy is checked from the recorded calls.
"""

import hashlib
import json
import os
import subprocess
import sys

import boto3
import pytest

from serverless_dl.aws import aws_clean
from serverless_dl.aws.aws_local import MotoServer
from serverless_dl.aws.course_policy import (
    load_implied,
    load_policy,
    missing_permissions,
    policy_problems,
    read_operations,
    record_operations,
)
from serverless_dl.aws.deploy import BASIC_EXECUTION_POLICY, TRUST_POLICY_FILE

REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
COURSE_TAG = {aws_clean.COURSE_TAG_KEY: aws_clean.COURSE_TAG_VALUE}
OTHER_TAG = {aws_clean.COURSE_TAG_KEY: "another-course"}
KINDS = len(aws_clean.DELETION_ORDER)


def _ecr_tags(tags: dict) -> list[dict]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def image_manifest(name: str) -> str:
    """A real-looking Docker image manifest (config and one layer, with their digests)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "name": name}).encode()
    layer = f"layer of {name}".encode()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": f"sha256:{hashlib.sha256(config).hexdigest()}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": f"sha256:{hashlib.sha256(layer).hexdigest()}",
                }
            ],
        }
    )


class Account:
    """boto3 clients on the moto server, and the listings the test compares."""

    def __init__(self, url: str):
        options = {"endpoint_url": url, "region_name": REGION, "aws_access_key_id": "testing",
                   "aws_secret_access_key": "testing"}  # fmt: skip
        self.ecr = boto3.client("ecr", **options)
        self.iam = boto3.client("iam", **options)
        self.lambda_client = boto3.client("lambda", **options)
        self.logs = boto3.client("logs", **options)
        self.apigateway = boto3.client("apigateway", **options)
        self.sqs = boto3.client("sqs", **options)  # an event source for a mapping

    def repository(self, name: str, tags: dict | None) -> str:
        """A repository holding one image; returns the image's URI."""
        uri = self.ecr.create_repository(repositoryName=name, tags=_ecr_tags(tags or {}))[
            "repository"]["repositoryUri"]  # fmt: skip
        self.ecr.put_image(
            repositoryName=name, imageManifest=image_manifest(name), imageTag="latest",
            imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
        )  # fmt: skip
        return f"{uri}:latest"

    def role(self, name: str) -> str:
        arn = self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY_FILE.read_text()
        )["Role"]["Arn"]
        self.iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION_POLICY)
        return arn

    def function(self, name: str, image_uri: str, role_arn: str, tags: dict | None) -> str:
        arn = self.lambda_client.create_function(
            FunctionName=name, PackageType="Image", Code={"ImageUri": image_uri},
            Role=role_arn, Tags=tags or {},
        )["FunctionArn"]  # fmt: skip
        # moto runs no functions, so Lambda never creates their log groups: make them here.
        self.logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
        return arn

    def rest_api(self, name: str, tags: dict | None, function_arn: str) -> str:
        """A REST API with POST /predict proxied to the function, deployed to stage prod."""
        api_id = self.apigateway.create_rest_api(name=name, tags=tags or {})["id"]
        root = self.apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
        resource = self.apigateway.create_resource(
            restApiId=api_id, parentId=root, pathPart="predict")["id"]  # fmt: skip
        self.apigateway.put_method(restApiId=api_id, resourceId=resource, httpMethod="POST",
                                   authorizationType="NONE", apiKeyRequired=True)  # fmt: skip
        self.apigateway.put_integration(
            restApiId=api_id, resourceId=resource, httpMethod="POST", type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}"
            "/invocations",
        )  # fmt: skip
        self.apigateway.create_deployment(restApiId=api_id, stageName="prod")
        return api_id

    # --- what exists, service by service -----------------------------------------

    def state(self) -> dict[str, set[str]]:
        """Names of everything in the account, per kind, as each service lists it."""
        plans = self.apigateway.get_usage_plans()["items"]
        return {
            "usage plans": {plan["name"] for plan in plans},
            "plan stages": {f"{plan['name']}:{stage['apiId']}" for plan in plans
                            for stage in plan.get("apiStages", [])},  # fmt: skip
            "API keys": {key["name"] for key in self.apigateway.get_api_keys()["items"]},
            "REST APIs": {api["name"] for api in self.apigateway.get_rest_apis()["items"]},
            "event source mappings": {
                mapping["FunctionArn"].split(":")[-1]
                for mapping in self.lambda_client.list_event_source_mappings()[
                    "EventSourceMappings"]
            },  # fmt: skip
            "functions": {function["FunctionName"] for function in
                          self.lambda_client.list_functions()["Functions"]},  # fmt: skip
            "log groups": {group["logGroupName"] for group in
                           self.logs.describe_log_groups()["logGroups"]},  # fmt: skip
            "repositories": {repository["repositoryName"] for repository in
                             self.ecr.describe_repositories()["repositories"]},  # fmt: skip
            "roles": {role["RoleName"] for role in self.iam.list_roles()["Roles"]},
        }


def build_course_and_look_alikes(account: Account) -> dict[str, str]:
    """One resource of each kind the course creates, plus look-alikes; returns REST API ids."""
    course_image = account.repository("clothing-model", COURSE_TAG)
    arm_image = account.repository("clothing-model-arm", COURSE_TAG)  # tagged, other name
    v2_image = account.repository("clothing-model-v2", None)  # look-alike, untagged
    account.repository("other-course-model", OTHER_TAG)  # another course's tag value

    role = account.role("clothing-model-lambda")
    account.iam.put_role_policy(RoleName="clothing-model-lambda", PolicyName="extra",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                    {"Effect": "Allow", "Action": "s3:GetObject",
                                     "Resource": "*"}]}))  # fmt: skip
    v2_role = account.role("clothing-model-lambda-v2")

    function_arn = account.function("clothing-model", course_image, role, COURSE_TAG)
    version = account.lambda_client.publish_version(FunctionName="clothing-model")["Version"]
    account.lambda_client.create_alias(FunctionName="clothing-model", Name="live",
                                       FunctionVersion=version)  # fmt: skip
    queue = account.sqs.create_queue(QueueName="clothing-requests")["QueueUrl"]
    queue_arn = account.sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]  # fmt: skip
    account.lambda_client.create_event_source_mapping(EventSourceArn=queue_arn,
                                                      FunctionName="clothing-model")  # fmt: skip
    account.function("clothing-model-arm", arm_image, role, COURSE_TAG)
    v2_arn = account.function("clothing-model-v2", v2_image, v2_role, None)

    apis = {
        "course": account.rest_api("clothing-model-api", COURSE_TAG, function_arn),
        "v2": account.rest_api("clothing-model-api-v2", None, v2_arn),
    }
    account.lambda_client.add_permission(
        FunctionName="clothing-model", StatementId=f"apigateway-{apis['course']}",
        Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
    )  # fmt: skip
    key = account.apigateway.create_api_key(name="clothing-model-api", enabled=True)  # untagged
    account.apigateway.create_api_key(name="clothing-model-api-v2", enabled=True)
    plan = account.apigateway.create_usage_plan(
        name="clothing-model-api", tags=COURSE_TAG,
        apiStages=[{"apiId": apis["course"], "stage": "prod"}],
    )  # fmt: skip
    account.apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"],
                                             keyType="API_KEY")  # fmt: skip
    stages = [{"apiId": apis["course"], "stage": "prod"}, {"apiId": apis["v2"], "stage": "prod"}]
    # Not the course's plan, but it refers to the course's stage: only that link may go.
    account.apigateway.create_usage_plan(name="partner-plan", apiStages=stages)
    return apis


@pytest.fixture
def moto_account(tmp_path, monkeypatch):
    """A fresh moto server, and this process's AWS variables pointing at it (nothing else)."""
    with MotoServer(tmp_path / "moto") as moto:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        for name, value in CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        yield moto


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serverless_dl.aws.aws_clean", *args],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_cleanup_deletes_the_course_in_order_and_only_the_course(
    moto_account, tmp_path, lesson_operations_log
):
    account = Account(moto_account.url)
    apis = build_course_and_look_alikes(account)
    before = account.state()
    assert before["usage plans"] == {"clothing-model-api", "partner-plan"}
    assert before["API keys"] == {"clothing-model-api", "clothing-model-api-v2"}
    assert before["REST APIs"] == {"clothing-model-api", "clothing-model-api-v2"}
    assert before["event source mappings"] == {"clothing-model"}
    assert before["functions"] == {"clothing-model", "clothing-model-arm", "clothing-model-v2"}
    assert before["log groups"] == {f"/aws/lambda/{name}" for name in before["functions"]}
    assert before["repositories"] == {
        "clothing-model", "clothing-model-arm", "clothing-model-v2", "other-course-model"}
    assert {"clothing-model-lambda", "clothing-model-lambda-v2"} <= before["roles"]

    session = aws_clean.open_session()
    dry_lines = []
    assert aws_clean.clean(session, dry_run=True, say=dry_lines.append) == 0
    assert "Dry run: nothing was deleted." in dry_lines
    assert account.state() == before

    log = tmp_path / "cleanup-operations.jsonl"
    session = aws_clean.open_session()
    record_operations(session, log)
    lines = []
    assert aws_clean.clean(session, say=lines.append) == 0, "\n".join(lines)
    output = "\n".join(lines)
    assert "Found 11 resources" in output, output
    assert "with version 1, alias live" in output
    assert "detached stage prod of clothing-model-api from usage plan partner-plan" in output

    after = account.state()
    assert after["usage plans"] == {"partner-plan"}
    assert after["plan stages"] == {f"partner-plan:{apis['v2']}"}  # only the course's link went
    assert after["API keys"] == {"clothing-model-api-v2"}
    assert after["REST APIs"] == {"clothing-model-api-v2"}
    assert after["event source mappings"] == set()
    assert after["functions"] == {"clothing-model-v2"}
    assert after["log groups"] == {"/aws/lambda/clothing-model-v2"}
    assert after["repositories"] == {"clothing-model-v2", "other-course-model"}
    assert "clothing-model-lambda" not in after["roles"]
    assert "clothing-model-lambda-v2" in after["roles"]
    assert sum(line.endswith(": nothing left") for line in lines) == KINDS, output

    # The order AWS enforces and moto does not: read it from the calls the cleanup made.
    calls = [operation.operation for operation in read_operations(log)]
    deletions = [call for call in calls if call.startswith(("Delete", "Detach", "BatchDelete"))]
    first = {call: deletions.index(call) for call in deletions}
    expected_order = ["DeleteUsagePlan", "DeleteApiKey", "DeleteRestApi",
                      "DeleteEventSourceMapping", "DeleteFunction", "DeleteLogGroup",
                      "BatchDeleteImage", "DeleteRepository", "DetachRolePolicy",
                      "DeleteRolePolicy", "DeleteRole"]  # fmt: skip
    assert sorted(first, key=first.get) == expected_order
    assert calls.index("UpdateUsagePlan") < calls.index("DeleteUsagePlan")

    cleanup_operations = read_operations(log)
    policy, implied = load_policy(), load_implied()
    assert missing_permissions(policy, cleanup_operations, implied) == []
    every_call = read_operations(lesson_operations_log) + cleanup_operations
    assert policy_problems(policy, every_call, implied) == []

    second = run_cli(env=dict(os.environ))
    assert second.returncode == 0, second.stderr
    first_line, *rest = second.stdout.splitlines()
    assert first_line.startswith(
        f"Cleaning up the course's resources in AWS account 123456789012, region {REGION}")
    assert f"endpoint {moto_account.url}" in first_line
    assert "Nothing to delete: no resource of the course was found." in rest
    assert sum(line.endswith(": nothing left") for line in rest) == KINDS


def _no_aws_environment(tmp_path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "no-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
               AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
    return env


@pytest.mark.parametrize(
    ("args", "variables", "message"),
    [([], {"AWS_DEFAULT_REGION": REGION}, "no AWS credentials found"),
     (["--profile", "course"], {}, "the AWS profile 'course' does not exist"),
     ([], CREDENTIALS, "no AWS region")],
)  # fmt: skip
def test_missing_credentials_region_or_profile_is_a_one_line_error(
    tmp_path, args, variables, message
):
    env = _no_aws_environment(tmp_path) | variables
    result = run_cli(*args, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"aws-clean: error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
