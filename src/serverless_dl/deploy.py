"""The deployment steps of lesson 06, as boto3 calls and AWS CLI commands, for any target.

Each step works the same against AWS and against the local stand-ins of
`serverless_dl.aws_target`, and can run again: what exists is reused or
updated, not duplicated. Lesson 06 runs them one at a time;
`deploy_function()` runs them all, for lesson 07, `make course` and the tests.

Typical use::

    with connect("", "eu-west-1", "build/demo") as target:
        configuration = deploy_function(target)
        print(target.invoke(configuration["FunctionName"], {"url": "..."}).payload)
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable

from serverless_dl.aws_target import AwsTarget
from serverless_dl.function_images import build_function_image

REPOSITORY_NAME = "clothing-model"
FUNCTION_NAME = "clothing-model"
ROLE_NAME = "clothing-model-lambda"
IMAGE_TAG = "latest"
MEMORY_MB = 1024
TIMEOUT_SECONDS = 30
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ROLE_PROPAGATION_SECONDS = 60  # a new IAM role takes a few seconds before Lambda may assume it


def ensure_repository(ecr, name: str) -> dict:
    """Create the ECR repository `name`, or return it if it exists (`aws ecr create-repository`)."""
    try:
        return ecr.create_repository(repositoryName=name)["repository"]
    except ecr.exceptions.RepositoryAlreadyExistsException:
        return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]


def push_image(target: AwsTarget, local_image: str, repository_uri: str, tag: str = IMAGE_TAG,
               *, show: bool = True) -> str:  # fmt: skip
    """Log Docker in to the registry, tag `local_image` and push it; return the pushed name.

    Runs the commands a learner types, and prints them when `show` is true.
    """
    registry = target.registry_for(repository_uri)
    target.shell(
        f"aws ecr get-login-password | docker login --username AWS --password-stdin {registry}",
        show=show,
    )
    pushed = target.push_uri(repository_uri, tag)
    target.shell(f"docker tag {local_image} {pushed}", show=show)
    target.shell(f"docker push --quiet {pushed}", show=show)
    target.record_push(repository_uri.rsplit("/", 1)[1], tag)
    return pushed


def ensure_execution_role(iam, name: str) -> dict:
    """An IAM role that Lambda may assume, allowed to write logs; created if missing."""
    try:
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
            Description="Execution role of the Serverless Deep Learning course's function",
        )["Role"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=name)["Role"]
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION_POLICY)
    return role


def _role_not_ready(error: Exception) -> bool:
    return "cannot be assumed" in str(error) or "role defined for the function" in str(error)


def deploy_image_function(lambda_client, name: str, image_uri: str, role_arn: str) -> dict:
    """Create the container-image function `name` from `image_uri`, or point it at that image.

    Waits until the function is ready and returns its configuration. A
    role created seconds ago may not be assumable yet; that is retried.
    """
    deadline = time.monotonic() + ROLE_PROPAGATION_SECONDS
    while True:
        try:
            lambda_client.create_function(
                FunctionName=name,
                PackageType="Image",
                Code={"ImageUri": image_uri},
                Role=role_arn,
                Architectures=["x86_64"],
            )
            break
        except lambda_client.exceptions.ResourceConflictException:
            lambda_client.update_function_code(FunctionName=name, ImageUri=image_uri)
            lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)
            break
        except lambda_client.exceptions.InvalidParameterValueException as error:
            if not _role_not_ready(error) or time.monotonic() > deadline:
                raise
            time.sleep(3)
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
    return lambda_client.get_function_configuration(FunctionName=name)


def configure_function(target: AwsTarget, name: str, *, timeout_seconds: int, memory_mb: int,
                       show: bool = True) -> str:  # fmt: skip
    """Set the function's timeout and memory with the AWS CLI and wait until the update is live."""
    output = target.shell(
        f"aws lambda update-function-configuration --function-name {name} "
        f"--timeout {timeout_seconds} --memory-size {memory_mb} "
        "--query '[Timeout, MemorySize]' --output text",
        show=show,
    )
    target.shell(f"aws lambda wait function-updated-v2 --function-name {name}", show=show)
    return output


def deploy_function(
    target: AwsTarget,
    *,
    flavour: str = "classic",
    repository_name: str = REPOSITORY_NAME,
    function_name: str = FUNCTION_NAME,
    role_name: str = ROLE_NAME,
    memory_mb: int = MEMORY_MB,
    timeout_seconds: int = TIMEOUT_SECONDS,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Lesson 06 in one call: build, push, create or update the function, configure it.

    Returns the function's configuration.
    """
    import boto3

    image = build_function_image(flavour, log=log)
    repository = ensure_repository(boto3.client("ecr"), repository_name)
    push_image(target, image.tag, repository["repositoryUri"], show=False)
    log(f"pushed {image.tag} to {repository['repositoryUri']}")
    role = ensure_execution_role(boto3.client("iam"), role_name)
    lambda_client = boto3.client("lambda")
    deploy_image_function(
        lambda_client, function_name, f"{repository['repositoryUri']}:{IMAGE_TAG}", role["Arn"]
    )
    configure_function(
        target, function_name, timeout_seconds=timeout_seconds, memory_mb=memory_mb, show=False
    )
    log(f"function {function_name}: {memory_mb} MB, {timeout_seconds} s")
    return lambda_client.get_function_configuration(FunctionName=function_name)


def _detach_stages(apigw, plan: dict, api_id: str | None = None) -> None:
    """Detach a usage plan from its API stages (all, or `api_id`'s): they block deletion."""
    for stage in plan.get("apiStages", []):
        if api_id is None or stage["apiId"] == api_id:
            value = f"{stage['apiId']}:{stage['stage']}"
            with contextlib.suppress(apigw.exceptions.NotFoundException):
                apigw.update_usage_plan(
                    usagePlanId=plan["id"],
                    patchOperations=[{"op": "remove", "path": "/apiStages", "value": value}],
                )


def delete_rest_apis_named(apigw, name: str) -> int:
    """Delete every REST API called `name` (left by an earlier run); return how many."""
    apis = [api for api in apigw.get_rest_apis(limit=500)["items"] if api["name"] == name]
    for api in apis:
        for plan in apigw.get_usage_plans(limit=500)["items"]:
            _detach_stages(apigw, plan, api["id"])
        apigw.delete_rest_api(restApiId=api["id"])
    return len(apis)


def delete_usage_plans_named(apigw, name: str) -> int:
    """Delete every usage plan and API key called `name` (left by an earlier run)."""
    plans = [plan for plan in apigw.get_usage_plans(limit=500)["items"] if plan["name"] == name]
    for plan in plans:
        _detach_stages(apigw, plan)
        apigw.delete_usage_plan(usagePlanId=plan["id"])
    for key in apigw.get_api_keys(nameQuery=name, limit=500)["items"]:
        if key["name"] == name:
            apigw.delete_api_key(apiKey=key["id"])
    return len(plans)


def wait_for_status(
    url: str, status: int, *, method: str = "POST", seconds: float = 60, **request_options
):
    """Send the request until it answers `status` (API Gateway applies changes within seconds).

    Returns the last `requests` response, whatever its status.
    """
    import requests

    deadline = time.monotonic() + seconds
    while True:
        response = requests.request(method, url, timeout=60, **request_options)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(2)
