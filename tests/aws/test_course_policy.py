"""The learner's IAM policy (aws-account/course-policy.json): enough, scoped, and well formed.

The calls of the lessons come from an operations log (the `lesson_operations_log`
fixture); the calls of `make aws-clean` are recorded and checked in
tests/aws/test_aws_clean.py, which also checks that nothing in the policy is unexplained.
"""

import copy
import json

import botocore.session
import pytest

from serverless_dl.aws.course_policy import (
    API_GATEWAY_VERBS,
    IMPLIED_PATH,
    Operation,
    UnknownServiceError,
    form_problems,
    iam_action,
    load_implied,
    load_policy,
    missing_permissions,
    policy_actions,
    read_operations,
    required_actions,
)

# Actions that are not named after an API operation, with the call they authorise.
IAM_ONLY_ACTIONS = {
    "lambda:InvokeFunction": "the Invoke operation",
    "iam:PassRole": "handing a role to a service, as CreateFunction does",
}
# Actions IAM cannot scope to a resource (or, for event source mappings, scopes by a
# condition on the function): the only ones a statement may grant on "*".
UNSCOPED_ACTIONS = {
    "sts:GetCallerIdentity", "ecr:GetAuthorizationToken", "lambda:ListFunctions",
    "lambda:ListEventSourceMappings", "lambda:DeleteEventSourceMapping",
}  # fmt: skip
BOTOCORE_SERVICES = {"ecr": "ecr", "iam": "iam", "lambda": "lambda", "logs": "logs", "sts": "sts"}


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.mark.parametrize(
    ("operation", "action"),
    [(Operation("lambda", "Invoke", "POST", "/2015-03-31/functions/f/invocations"),
      "lambda:InvokeFunction"),
     (Operation("lambda", "CreateFunction", "POST", "/2015-03-31/functions"),
      "lambda:CreateFunction"),
     (Operation("ecr", "CreateRepository", "POST", "/"), "ecr:CreateRepository"),
     (Operation("logs", "DeleteLogGroup", "POST", "/"), "logs:DeleteLogGroup"),
     (Operation("apigateway", "CreateRestApi", "POST", "/restapis"), "apigateway:POST"),
     (Operation("apigateway", "UpdateUsagePlan", "PATCH", "/usageplans/x"), "apigateway:PATCH"),
     (Operation("execute-api", "", "POST", "/prod/predict"), None),
     (Operation("", "", "GET", "/"), None)],
)  # fmt: skip
def test_each_call_maps_to_the_iam_action_that_authorises_it(operation, action):
    assert iam_action(operation) == action


def test_an_unknown_service_is_an_error_not_a_silent_pass():
    with pytest.raises(UnknownServiceError, match="s3"):
        iam_action(Operation("s3", "CreateBucket", "PUT", "/bucket"))


def test_the_policy_allows_every_call_of_the_lessons(policy, lesson_operations_log):
    operations = read_operations(lesson_operations_log)
    assert len(required_actions(operations)) > 10, "the log holds too few calls to prove much"
    assert missing_permissions(policy, operations, load_implied()) == []


def test_the_check_catches_a_missing_action_a_wildcard_and_an_uncovered_path(
    policy, lesson_operations_log
):
    operations = read_operations(lesson_operations_log)
    broken = copy.deepcopy(policy)
    for statement in broken["Statement"]:
        actions = statement["Action"]
        if "lambda:CreateFunction" in actions:
            actions.remove("lambda:CreateFunction")
        if statement["Sid"] == "ApiGatewayUpdate":
            statement["Resource"].remove("arn:aws:apigateway:*::/usageplans/*")
    broken["Statement"].append({"Effect": "Allow", "Action": ["ecr:*"], "Resource": "*"})
    missing = missing_permissions(broken, operations, load_implied())
    assert any(line.startswith("lambda:CreateFunction missing") for line in missing), missing
    assert any("apigateway:PATCH on /usageplans/" in line for line in missing), missing
    assert "ecr:*: actions must not contain wildcards" in form_problems(broken)


def test_every_action_is_real_and_has_no_wildcard(policy):
    assert form_problems(policy) == []
    operations = {
        prefix: set(botocore.session.get_session().get_service_model(service).operation_names)
        for prefix, service in BOTOCORE_SERVICES.items()
    }
    unreal = []
    for action in policy_actions(policy):
        prefix, name = action.split(":")
        if prefix == "apigateway":
            known = name in API_GATEWAY_VERBS
        else:
            known = name in operations.get(prefix, set()) or action in IAM_ONLY_ACTIONS
        if not known:
            unreal.append(action)
    assert not unreal, f"not an operation of botocore's models nor a known IAM action: {unreal}"


# The names the course gives its repositories, roles and functions (lesson 11 adds two).
COURSE_NAMES = ("clothing-model", "clothing-features", "clothing-head")


def test_only_unscopable_actions_are_granted_on_every_resource(policy):
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if "*" in resources:
            assert set(statement["Action"]) <= UNSCOPED_ACTIONS, statement["Sid"]
        prefixes = {action.split(":")[0] for action in statement["Action"]}
        if prefixes & {"ecr", "iam", "lambda", "logs"} and "*" not in resources:
            # Scoped to the course's names, never to a prefix that look-alikes would match.
            assert all(any(name in resource for name in COURSE_NAMES)
                       or resource.endswith("log-group:*")
                       for resource in resources), statement["Sid"]  # fmt: skip
            assert not any(resource.endswith("*") and not resource.endswith((":*", "log-group:*"))
                           for resource in resources), statement["Sid"]  # fmt: skip


def test_the_role_may_be_passed_only_to_lambda_and_given_only_the_logging_policy(policy):
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}
    passing = statements["PassExecutionRoleToLambdaOnly"]
    assert passing["Action"] == ["iam:PassRole"]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    attaching = statements["ExecutionRoleGetsOnlyLogging"]
    assert attaching["Action"] == ["iam:AttachRolePolicy"]
    assert list(attaching["Condition"]["ArnEquals"].values()) == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    granting = [statement["Sid"] for statement in policy["Statement"]
                if {"iam:PutRolePolicy", "iam:AttachRolePolicy"} & set(statement["Action"])]
    assert granting == ["ExecutionRoleGetsOnlyLogging"]  # fmt: skip


def test_every_implied_permission_says_why_and_is_listed_once(policy):
    entries = json.loads(IMPLIED_PATH.read_text())
    actions = [entry["action"] for entry in entries]
    assert len(actions) == len(set(actions)), "an implied permission is listed twice"
    short = [entry["action"] for entry in entries if len(entry["reason"].split()) < 5]
    assert not short, f"give each implied permission a reason: {short}"
    assert set(actions) <= policy_actions(policy)
