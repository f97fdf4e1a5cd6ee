"""The IAM policy a learner attaches to deploy the course, and the check that it is enough.

`aws-account/course-policy.json` allows exactly what lessons 07, 08, 10 and 11 and
`make aws-clean` do on AWS; `aws-account/implied-permissions.json` lists, with
one reason each, the permissions those calls need without showing them in an
operations log (the registry steps of `docker push`, `iam:PassRole`, tags given
at creation, ...).

An *operations log* is a JSON Lines file, one AWS API call per line, as the
course's local account front and `record_operations()` write it::

    {"service": "lambda", "operation": "CreateFunction", "method": "POST",
     "path": "/2015-03-31/functions"}

`service` is the call's signing name. `required_actions()` maps each call to
the IAM action that authorises it: `<prefix>:<Operation>` for most services,
and for API Gateway's management API the HTTP verb (`apigateway:POST`), since
IAM authorises those calls by verb and resource path. `missing_permissions()`
lists what the calls and the implied list need that the policy does not allow;
`unexplained_permissions()` what the policy allows that nothing needs;
`form_problems()` actions written with a wildcard and a policy too long for
IAM. `policy_problems()` runs all three.

Typical use::

    problems = policy_problems(load_policy(), read_operations(log), load_implied())
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from serverless_dl.base.paths import ROOT

ACCOUNT_FILES = ROOT / "aws-account"
POLICY_PATH = ACCOUNT_FILES / "course-policy.json"
IMPLIED_PATH = ACCOUNT_FILES / "implied-permissions.json"
# A customer managed policy may hold at most 6,144 characters, whitespace not counted.
MANAGED_POLICY_MAX_CHARACTERS = 6144

# Signing name of a service (what an operations log records) -> its IAM action prefix.
IAM_PREFIXES = {
    "apigateway": "apigateway",
    "ecr": "ecr",
    "iam": "iam",
    "lambda": "lambda",
    "logs": "logs",
    "sts": "sts",
}
# Operations whose IAM action is not named after the operation.
RENAMED_ACTIONS = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("lambda", "InvokeAsync"): "lambda:InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "lambda:InvokeFunction",
}
# Services whose calls IAM does not authorise: requests to an API's stage URL
# (the course's method uses an API key, not IAM auth) and the SSO portal, which
# takes the bearer token of `aws sso login`.
UNAUTHORISED_SERVICES = {"execute-api", "awsssoportal", "sso", "sso-oidc"}
API_GATEWAY_VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ACTION_FORM = re.compile(r"^[a-z][a-z0-9-]*:[A-Za-z][A-Za-z0-9]*$")
EXAMPLE_REGION = "eu-west-1"  # API Gateway paths become resource ARNs in some region


class UnknownServiceError(ValueError):
    """An operations log names a service this module cannot map to IAM actions."""


@dataclass(frozen=True)
class Operation:
    """One AWS API call, as a line of an operations log records it."""

    service: str
    operation: str
    method: str = ""
    path: str = ""


def read_operations(path: str | Path) -> list[Operation]:
    """The calls recorded in the operations log at `path` (blank lines are skipped)."""
    operations = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        try:
            operations.append(
                Operation(
                    service=record["service"] or "",
                    operation=record["operation"] or "",
                    method=record.get("method") or "",
                    path=record.get("path") or "",
                )
            )
        except KeyError as missing:
            raise ValueError(f"{path}:{number} has no {missing} field") from None
    return operations


def iam_action(operation: Operation) -> str | None:
    """The IAM action that authorises `operation`, or None when IAM does not authorise it."""
    if not operation.service or operation.service in UNAUTHORISED_SERVICES:
        return None  # an unsigned request (no credential scope) needs no IAM permission
    prefix = IAM_PREFIXES.get(operation.service)
    if prefix is None:
        raise UnknownServiceError(
            f"no IAM prefix for service {operation.service!r} ({operation.operation}): "
            "add it to course_policy.IAM_PREFIXES"
        )
    if prefix == "apigateway":
        if operation.method.upper() not in API_GATEWAY_VERBS:
            raise ValueError(f"API Gateway call {operation.operation} has no HTTP method")
        return f"apigateway:{operation.method.upper()}"
    if not operation.operation:
        raise ValueError(f"a {operation.service} call to {operation.path} has no operation name")
    return RENAMED_ACTIONS.get(
        (operation.service, operation.operation), f"{prefix}:{operation.operation}"
    )


def required_actions(operations: Iterable[Operation]) -> dict[str, list[Operation]]:
    """Each IAM action the calls need, with the calls that need it."""
    needed: dict[str, list[Operation]] = {}
    for operation in operations:
        action = iam_action(operation)
        if action is not None:
            needed.setdefault(action, []).append(operation)
    return needed


def load_policy(path: str | Path = POLICY_PATH) -> dict:
    """The IAM policy document at `path`."""
    return json.loads(Path(path).read_text())


def load_implied(path: str | Path = IMPLIED_PATH) -> dict[str, str]:
    """The implied permissions: action -> why the course needs it."""
    entries = json.loads(Path(path).read_text())
    return {entry["action"]: entry["reason"] for entry in entries}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def policy_actions(policy: dict) -> set[str]:
    """Every action the policy's Allow statements name."""
    return {
        action
        for statement in _as_list(policy["Statement"])
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }


def _matches(pattern: str, value: str) -> bool:
    """IAM's wildcard match: `*` is any run of characters, `?` any one character."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def allows(policy: dict, action: str, resource: str) -> bool:
    """Whether an Allow statement names `action` and a Resource pattern matching `resource`.

    Conditions are not evaluated: this answers "could the policy allow it".
    """
    return any(
        statement["Effect"] == "Allow"
        and action in _as_list(statement["Action"])
        and any(_matches(pattern, resource) for pattern in _as_list(statement["Resource"]))
        for statement in _as_list(policy["Statement"])
    )


def api_gateway_resource(operation: Operation) -> str:
    """The resource ARN IAM checks for an API Gateway management call: its path, in a region."""
    return f"arn:aws:apigateway:{EXAMPLE_REGION}::{operation.path}"


def policy_size(policy: dict) -> int:
    """The policy's length as IAM counts it: characters other than whitespace."""
    return len(re.sub(r"\s", "", json.dumps(policy)))


def form_problems(policy: dict) -> list[str]:
    """Actions with a wildcard or not of the form `service:Action`; a policy too long for IAM."""
    problems = []
    for action in sorted(policy_actions(policy)):
        if "*" in action or "?" in action:
            problems.append(f"{action}: actions must not contain wildcards")
        elif not ACTION_FORM.match(action):
            problems.append(f"{action}: not of the form service:Action")
    if policy_size(policy) > MANAGED_POLICY_MAX_CHARACTERS:
        problems.append(
            f"the policy has {policy_size(policy)} characters; IAM allows "
            f"{MANAGED_POLICY_MAX_CHARACTERS} in a managed policy"
        )
    return problems


def missing_permissions(
    policy: dict, operations: Iterable[Operation], implied: dict[str, str]
) -> list[str]:
    """What the calls and the implied list need that the policy does not allow, one line each.

    For API Gateway, whose actions are HTTP verbs, each call's path must also
    match a Resource of a statement that allows its verb.
    """
    problems = []
    allowed = policy_actions(policy)
    for action, calls in sorted(required_actions(operations).items()):
        if action not in allowed:
            example = calls[0]
            problems.append(
                f"{action} missing (needed by {example.service} {example.operation}"
                f"{' ' + example.path if example.path else ''})"
            )
        elif action.startswith("apigateway:"):
            for call in calls:
                if not allows(policy, action, api_gateway_resource(call)):
                    problems.append(f"{action} on {call.path} is not covered by any Resource")
    for action in sorted(set(implied) - allowed):
        problems.append(f"{action} missing (implied: {implied[action]})")
    return problems


def unexplained_permissions(
    policy: dict, operations: Iterable[Operation], implied: dict[str, str]
) -> list[str]:
    """Actions the policy allows that neither a logged call nor the implied list needs."""
    needed = set(required_actions(operations)) | set(implied)
    return [
        f"{action} is allowed, but no logged call or implied reason needs it"
        for action in sorted(policy_actions(policy) - needed)
    ]


def policy_problems(
    policy: dict, operations: Iterable[Operation], implied: dict[str, str]
) -> list[str]:
    """Everything wrong with `policy` for these calls and implied permissions, one line each.

    `operations` must be every call the course makes (lessons and cleanup),
    or actions only those calls need are reported as unexplained.
    """
    operations = list(operations)
    return (
        form_problems(policy)
        + missing_permissions(policy, operations, implied)
        + unexplained_permissions(policy, operations, implied)
    )


def record_operations(session, path: str | Path) -> None:
    """Append every API call that clients of `session` make to the operations log at `path`.

    `session` is a boto3 Session; register before creating its clients, which
    copy the session's event hooks when they are made.
    """
    log = Path(path)
    log.parent.mkdir(parents=True, exist_ok=True)

    def write(model, params, **_):
        operation = Operation(
            service=model.service_model.signing_name,
            operation=model.name,
            method=model.http.get("method", ""),
            path=params.get("url_path", ""),
        )
        with log.open("a") as file:
            file.write(json.dumps(asdict(operation)) + "\n")

    session.events.register("before-call", write)
