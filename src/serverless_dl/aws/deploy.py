"""The AWS resources the course creates: their names, the one tag they carry, re-run helpers.

Lessons 07 and 08 create the resources with the commands a learner types;
this module holds what the lessons, `make aws-clean` and the tests agree on:

- the names: repository and function `clothing-model`, role
  `clothing-model-lambda`, API `clothing-model-api`, stage `prod`;
- the tag every resource that supports tags carries,
  `course=serverless-deep-learning` (ECR repository, Lambda function, IAM
  role, API Gateway REST API, API key, usage plan); `make aws-clean` finds
  resources by it (log groups and the role also by name);
- the trust policy of the function's role, `docker/lambda-trust-policy.json`;
- helpers for running lesson 08 again: delete the API, usage plan and key
  of an earlier run, and wait until API Gateway applies a change.
"""

from __future__ import annotations

import contextlib
import time

from serverless_dl.base.paths import DOCKER

REPOSITORY_NAME = "clothing-model"
FUNCTION_NAME = "clothing-model"
ROLE_NAME = "clothing-model-lambda"
TESTER_ROLE_NAME = "clothing-model-tester"  # the only caller of the alias staging (lesson 10)
API_NAME = "clothing-model-api"
STAGE_NAME = "prod"
IMAGE_TAG = "latest"
COURSE_TAG_KEY = "course"
COURSE_TAG_VALUE = "serverless-deep-learning"
COURSE_TAGS = {COURSE_TAG_KEY: COURSE_TAG_VALUE}  # the form Lambda and API Gateway take
TRUST_POLICY_FILE = DOCKER / "lambda-trust-policy.json"
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LOG_GROUP = f"/aws/lambda/{FUNCTION_NAME}"


def detach_usage_plan_stages(apigw, plan: dict, api_id: str | None = None) -> None:
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
            detach_usage_plan_stages(apigw, plan, api["id"])
        apigw.delete_rest_api(restApiId=api["id"])
    return len(apis)


def delete_usage_plans_named(apigw, name: str) -> int:
    """Delete every usage plan and API key called `name` (left by an earlier run)."""
    plans = [plan for plan in apigw.get_usage_plans(limit=500)["items"] if plan["name"] == name]
    for plan in plans:
        detach_usage_plan_stages(apigw, plan)
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
