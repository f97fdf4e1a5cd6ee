"""Delete everything the course created in an AWS account, and nothing else: `make aws-clean`.

Lessons 07 and 08 leave resources that cost money while they exist (ECR bills
image storage per GB-month) or cost nothing until someone calls them (the API,
the function). This module finds the course's resources and deletes them in
an order that works, from the outside in, so that nothing is deleted while
something else of the course still points at it:

1. API Gateway usage plans, after detaching their API stages (API Gateway
   refuses to delete a plan that still has stages);
2. API Gateway API keys;
3. REST APIs, with their resources, methods, deployments and stages; a usage
   plan that is not the course's but refers to one of their stages loses that
   link (only the link: the plan stays);
4. the event source mappings of the course's functions, which outlive a
   deleted function;
5. Lambda functions, with all their versions, aliases and resource-policy
   permissions (one DeleteFunction removes them all);
6. the functions' log groups `/aws/lambda/<function>`, after the functions,
   which would otherwise write new ones;
7. the ECR repository, after its images;
8. the execution role and the tester role of lesson 10, after detaching their
   managed policies and deleting their inline ones (IAM refuses to delete a
   role that still has policies).

A resource is the course's if it carries the tag `course=serverless-deep-learning`
(ECR repositories, Lambda functions, REST APIs, API keys and usage plans can
be tagged) or has exactly the course's name (`clothing-model`,
`clothing-model-api`, the roles `clothing-model-lambda` and `clothing-model-tester`,
the log groups of the course's functions). Nothing is matched by prefix or wildcard. Resources that
a CloudFormation stack owns (`sam deploy` of `docker/template.yaml`) are left
to `sam delete`, which keeps the stack consistent.

Running it twice is safe: the second run finds nothing and says so. Every run
ends by listing what is left of the course's resources, kind by kind.

Usage::

    python -m serverless_dl.aws.aws_clean [--profile NAME] [--region REGION] [--dry-run]
    make aws-clean AWS_PROFILE=my-profile [AWS_REGION=eu-west-1] [DRY_RUN=1]

It acts on the AWS environment it is given (`AWS_PROFILE`, `AWS_DEFAULT_REGION`,
`AWS_ENDPOINT_URL`, or the options) and names the account and region first.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from serverless_dl.aws.deploy import (
    API_NAME,
    COURSE_TAG_KEY,
    COURSE_TAG_VALUE,
    FUNCTION_NAME,
    REPOSITORY_NAME,
    ROLE_NAME,
    TESTER_ROLE_NAME,
    detach_usage_plan_stages,
)
from serverless_dl.base.cli import OneLineErrorParser

LOG_GROUP_PREFIX = "/aws/lambda/"
STACK_TAG = "aws:cloudformation:stack-name"
ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
NOT_FOUND_CODES = {
    "NotFoundException",
    "ResourceNotFoundException",
    "RepositoryNotFoundException",
    "NoSuchEntity",
    "ImageNotFoundException",
}
# API Gateway allows one DeleteRestApi call every 30 seconds and one UpdateUsagePlan every
# 20 seconds per account, and answers faster calls with TooManyRequestsException. Standard
# retries back off randomly, up to 20 s a time; twenty attempts reliably outlast both quotas.
API_GATEWAY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 20})
ECR_BATCH_DELETE_LIMIT = 100


class CleanupError(RuntimeError):
    """The cleanup cannot start or go on; the message says why in one line."""


@dataclass(frozen=True)
class Kind:
    """A kind of resource the course creates, named for printing."""

    service: str
    singular: str
    plural: str


USAGE_PLAN = Kind("API Gateway", "usage plan", "usage plans")
API_KEY = Kind("API Gateway", "API key", "API keys")
REST_API = Kind("API Gateway", "REST API", "REST APIs")
EVENT_SOURCE_MAPPING = Kind("Lambda", "event source mapping", "event source mappings")
FUNCTION = Kind("Lambda", "function", "functions")
LOG_GROUP = Kind("CloudWatch Logs", "log group", "log groups")
REPOSITORY = Kind("ECR", "repository", "repositories")
ROLE = Kind("IAM", "role", "roles")
DELETION_ORDER = (
    USAGE_PLAN,
    API_KEY,
    REST_API,
    EVENT_SOURCE_MAPPING,
    FUNCTION,
    LOG_GROUP,
    REPOSITORY,
    ROLE,
)


@dataclass
class Resource:
    """One resource of the course: what it is, how it was recognised, what goes with it."""

    kind: Kind
    name: str
    identifier: str  # what the delete call takes: an id, a name or a UUID
    found_by: str  # "tag" or "name"
    contents: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The resource in a few words: kind, name, id, and what is deleted with it."""
        identifier = f" ({self.identifier})" if self.identifier != self.name else ""
        contents = f", with {', '.join(self.contents)}" if self.contents else ""
        return f"{self.kind.service} {self.kind.singular} {self.name}{identifier}{contents}"


@dataclass
class Inventory:
    """The course's resources found in one account and region, by kind, and notes on the search."""

    resources: dict[Kind, list[Resource]]
    notes: list[str]

    @property
    def count(self) -> int:
        """How many resources were found."""
        return sum(len(found) for found in self.resources.values())


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _denied(error: ClientError) -> bool:
    return _code(error) in ACCESS_DENIED_CODES


def _not_found(error: ClientError) -> bool:
    return _code(error) in NOT_FOUND_CODES


def one_line(error: Exception) -> str:
    """An AWS error as one line: its code and message."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "")
        return f"{operation}: {details.get('Code', '')}: {details.get('Message', '')}".strip()
    return " ".join(str(error).split())


def _course_match(name: str, tags: dict, course_name: str) -> str | None:
    """'tag' or 'name' if the resource is the course's, else None."""
    if tags.get(COURSE_TAG_KEY) == COURSE_TAG_VALUE:
        return "tag"
    if name == course_name:
        return "name"
    return None


def _stack_note(kind: Kind, name: str, tags: dict) -> str | None:
    stack = tags.get(STACK_TAG)
    if stack is None:
        return None
    return (
        f"{kind.service} {kind.singular} {name} belongs to CloudFormation stack {stack}; "
        f"delete it with `sam delete --stack-name {stack}`"
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class CourseAccount:
    """The course's resources in the account and region of a boto3 session: find and delete."""

    def __init__(self, session: boto3.Session):
        self.apigateway = session.client("apigateway", config=API_GATEWAY_CONFIG)
        self.lambda_client = session.client("lambda")
        self.logs = session.client("logs")
        self.ecr = session.client("ecr")
        self.iam = session.client("iam")

    # --- finding ----------------------------------------------------------------

    def find(self) -> Inventory:
        """Every resource of the course, by kind, plus notes on what could not be searched."""
        notes: list[str] = []
        functions = self._functions(notes)
        resources = {
            USAGE_PLAN: self._api_gateway_items("get_usage_plans", USAGE_PLAN, notes),
            API_KEY: self._api_gateway_items("get_api_keys", API_KEY, notes),
            REST_API: self._api_gateway_items("get_rest_apis", REST_API, notes),
            EVENT_SOURCE_MAPPING: self._event_source_mappings(functions),
            FUNCTION: functions,
            LOG_GROUP: self._log_groups(functions),
            REPOSITORY: self._repositories(notes),
            ROLE: self._roles(),
        }
        return Inventory(resources=resources, notes=notes)

    def _api_gateway_items(self, listing: str, kind: Kind, notes: list[str]) -> list[Resource]:
        """Usage plans, API keys or REST APIs of the course (API Gateway lists their tags)."""
        found = []
        for page in self.apigateway.get_paginator(listing).paginate():
            for item in page["items"]:
                tags = item.get("tags") or {}
                how = _course_match(item["name"], tags, API_NAME)
                if how is None:
                    continue
                note = _stack_note(kind, item["name"], tags)
                if note:
                    notes.append(note)
                    continue
                resource = Resource(kind, item["name"], item["id"], how)
                if kind is USAGE_PLAN:
                    resource.contents = [
                        f"stage {stage['apiId']}:{stage['stage']}"
                        for stage in item.get("apiStages", [])
                    ]
                elif kind is REST_API:
                    stages = self.apigateway.get_stages(restApiId=item["id"])["item"]
                    resource.contents = [f"stage {stage['stageName']}" for stage in stages]
                found.append(resource)
        return found

    def _functions(self, notes: list[str]) -> list[Resource]:
        """Lambda functions of the course, with their published versions and aliases."""
        found, unreadable = [], 0
        for page in self.lambda_client.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                name = function["FunctionName"]
                try:
                    tags = self.lambda_client.list_tags(Resource=function["FunctionArn"])["Tags"]
                except ClientError as error:
                    if not _denied(error):
                        raise
                    if name != FUNCTION_NAME:  # the course policy may read only its own tags
                        unreadable += 1
                        continue
                    tags = {}
                how = _course_match(name, tags, FUNCTION_NAME)
                if how is None:
                    continue
                note = _stack_note(FUNCTION, name, tags)
                if note:
                    notes.append(note)
                    continue
                found.append(Resource(FUNCTION, name, name, how, self._function_parts(name)))
        if unreadable:
            notes.append(
                f"{_plural(unreadable, 'other Lambda function')} whose tags you may "
                "not read were left alone"
            )
        return found

    def _function_parts(self, name: str) -> list[str]:
        """The published versions and aliases that DeleteFunction removes with `name`."""
        versions = [
            version["Version"]
            for page in self.lambda_client.get_paginator("list_versions_by_function").paginate(
                FunctionName=name
            )
            for version in page["Versions"]
            if version["Version"] != "$LATEST"
        ]
        aliases = [
            alias["Name"]
            for page in self.lambda_client.get_paginator("list_aliases").paginate(FunctionName=name)
            for alias in page["Aliases"]
        ]
        parts = [f"version {version}" for version in versions]
        return parts + [f"alias {alias}" for alias in aliases]

    def _event_source_mappings(self, functions: list[Resource]) -> list[Resource]:
        """Event source mappings that invoke the course's functions (or its function's name)."""
        found = []
        for name in sorted({function.name for function in functions} | {FUNCTION_NAME}):
            try:
                pages = list(
                    self.lambda_client.get_paginator("list_event_source_mappings").paginate(
                        FunctionName=name
                    )
                )
            except ClientError as error:
                if _not_found(error):
                    continue
                raise
            for page in pages:
                for mapping in page["EventSourceMappings"]:
                    if mapping.get("State") == "Deleting":
                        # Deleted already: AWS lists it in this state for a while (moto
                        # forgets it at once).
                        continue
                    source = mapping.get("EventSourceArn", "an event source").split(":")[-1]
                    found.append(
                        Resource(
                            EVENT_SOURCE_MAPPING, f"{source} -> {name}", mapping["UUID"], "name"
                        )
                    )
        return found

    def _log_groups(self, functions: list[Resource]) -> list[Resource]:
        """The log groups Lambda created for the course's functions, by their exact names."""
        found = []
        names = {function.name for function in functions} | {FUNCTION_NAME}
        for group_name in sorted(LOG_GROUP_PREFIX + name for name in names):
            paginator = self.logs.get_paginator("describe_log_groups")
            for page in paginator.paginate(logGroupNamePrefix=group_name):
                for group in page["logGroups"]:
                    if group["logGroupName"] == group_name:  # the prefix also matches look-alikes
                        stored = f"{group.get('storedBytes', 0) / 1e6:.1f} MB stored"
                        found.append(Resource(LOG_GROUP, group_name, group_name, "name", [stored]))
        return found

    def _repositories(self, notes: list[str]) -> list[Resource]:
        """ECR repositories of the course, found by tag when listing is allowed, else by name."""
        candidates: dict[str, dict] = {}
        try:
            for page in self.ecr.get_paginator("describe_repositories").paginate():
                for repository in page["repositories"]:
                    candidates[repository["repositoryName"]] = repository
        except ClientError as error:
            if not _denied(error):
                raise
            notes.append(
                f"you may not list every ECR repository, so only {REPOSITORY_NAME} "
                "was looked up, by name"
            )
            try:
                repositories = self.ecr.describe_repositories(repositoryNames=[REPOSITORY_NAME])
                candidates = {REPOSITORY_NAME: repositories["repositories"][0]}
            except self.ecr.exceptions.RepositoryNotFoundException:
                candidates = {}
        found = []
        for name, repository in sorted(candidates.items()):
            try:
                listed = self.ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])
                tags = {tag["Key"]: tag["Value"] for tag in listed.get("tags", [])}
            except ClientError as error:
                if not _denied(error):
                    raise
                if name != REPOSITORY_NAME:  # the course policy may read only its own tags
                    continue
                tags = {}
            how = _course_match(name, tags, REPOSITORY_NAME)
            if how is None:
                continue
            note = _stack_note(REPOSITORY, name, tags)
            if note:
                notes.append(note)
                continue
            images = len(self._image_ids(name))
            found.append(Resource(REPOSITORY, name, name, how, [_plural(images, "image")]))
        return found

    def _image_ids(self, repository: str) -> list[dict]:
        return [
            image
            for page in self.ecr.get_paginator("list_images").paginate(repositoryName=repository)
            for image in page["imageIds"]
        ]

    def _roles(self) -> list[Resource]:
        """The course's roles (execution, tester), by their exact names, with their policies."""
        found = []
        for name in (ROLE_NAME, TESTER_ROLE_NAME):
            try:
                self.iam.get_role(RoleName=name)
            except self.iam.exceptions.NoSuchEntityException:
                continue
            attached = [policy["PolicyArn"].rsplit("/", 1)[-1] for policy in self._attached(name)]
            parts = [f"policy {policy}" for policy in attached] + [
                f"inline policy {policy}" for policy in self._inline(name)
            ]
            found.append(Resource(ROLE, name, name, "name", parts))
        return found

    def _attached(self, role: str) -> list[dict]:
        paginator = self.iam.get_paginator("list_attached_role_policies")
        return [
            policy
            for page in paginator.paginate(RoleName=role)
            for policy in page["AttachedPolicies"]
        ]

    def _inline(self, role: str) -> list[str]:
        paginator = self.iam.get_paginator("list_role_policies")
        return [name for page in paginator.paginate(RoleName=role) for name in page["PolicyNames"]]

    # --- deleting ---------------------------------------------------------------

    def delete(self, resource: Resource, say: Callable[[str], None]) -> None:
        """Delete `resource` and what must go first; say what was done, line by line."""
        deleters = {
            USAGE_PLAN: self._delete_usage_plan,
            API_KEY: self._delete_api_key,
            REST_API: self._delete_rest_api,
            EVENT_SOURCE_MAPPING: self._delete_event_source_mapping,
            FUNCTION: self._delete_function,
            LOG_GROUP: self._delete_log_group,
            REPOSITORY: self._delete_repository,
            ROLE: self._delete_role,
        }
        try:
            for line in deleters[resource.kind](resource):
                say(f"  {line}")
        except ClientError as error:
            if not _not_found(error):
                raise
            say(f"  already gone: {resource.describe()}")
            return
        say(f"  deleted {resource.describe()}")

    def _delete_usage_plan(self, resource: Resource) -> list[str]:
        # AWS refuses to delete a plan that still has API stages; moto does not.
        detach_usage_plan_stages(
            self.apigateway, self.apigateway.get_usage_plan(usagePlanId=resource.identifier)
        )
        self.apigateway.delete_usage_plan(usagePlanId=resource.identifier)
        return []

    def _delete_api_key(self, resource: Resource) -> list[str]:
        self.apigateway.delete_api_key(apiKey=resource.identifier)
        return []

    def _delete_event_source_mapping(self, resource: Resource) -> list[str]:
        self.lambda_client.delete_event_source_mapping(UUID=resource.identifier)
        return []

    def _delete_function(self, resource: Resource) -> list[str]:
        self.lambda_client.delete_function(FunctionName=resource.identifier)
        return []

    def _delete_log_group(self, resource: Resource) -> list[str]:
        self.logs.delete_log_group(logGroupName=resource.identifier)
        return []

    def _delete_rest_api(self, resource: Resource) -> list[str]:
        done = []
        for page in self.apigateway.get_paginator("get_usage_plans").paginate():
            for plan in page["items"]:
                stages = [
                    stage["stage"]
                    for stage in plan.get("apiStages", [])
                    if stage["apiId"] == resource.identifier
                ]
                if stages:
                    detach_usage_plan_stages(self.apigateway, plan, resource.identifier)
                    done.append(
                        f"detached stage {', '.join(stages)} of {resource.name} from usage "
                        f"plan {plan['name']} (not the course's; the plan stays)"
                    )
        self.apigateway.delete_rest_api(restApiId=resource.identifier)
        return done

    def _delete_repository(self, resource: Resource) -> list[str]:
        images = self._image_ids(resource.identifier)
        for start in range(0, len(images), ECR_BATCH_DELETE_LIMIT):
            reply = self.ecr.batch_delete_image(
                repositoryName=resource.identifier,
                imageIds=images[start : start + ECR_BATCH_DELETE_LIMIT],
            )
            failures = [
                failure
                for failure in reply.get("failures", [])
                if failure.get("failureCode") != "ImageNotFound"
            ]
            if failures:
                first = failures[0]
                raise CleanupError(
                    f"ECR kept an image of {resource.name}: "
                    f"{first.get('failureCode')}: {first.get('failureReason')}"
                )
        self.ecr.delete_repository(repositoryName=resource.identifier)
        return []

    def _delete_role(self, resource: Resource) -> list[str]:
        for policy in self._attached(resource.identifier):
            self.iam.detach_role_policy(RoleName=resource.identifier, PolicyArn=policy["PolicyArn"])
        for name in self._inline(resource.identifier):
            self.iam.delete_role_policy(RoleName=resource.identifier, PolicyName=name)
        self.iam.delete_role(RoleName=resource.identifier)
        return []


def open_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A boto3 session for `profile` and `region`, or for the environment's AWS settings.

    Raises `CleanupError` when the profile does not exist, or no region or no
    credentials can be found.
    """
    try:
        session = boto3.Session(profile_name=profile or None, region_name=region or None)
    except ProfileNotFound as error:
        name = error.kwargs.get("profile", profile)
        raise CleanupError(
            f"the AWS profile {name!r} does not exist: create it with "
            f"`aws configure sso --profile {name}` (or `aws configure --profile {name}`)"
        ) from None
    if not session.region_name:
        raise CleanupError(
            "no AWS region: pass --region eu-west-1 (make aws-clean AWS_REGION=eu-west-1) "
            "or set AWS_DEFAULT_REGION"
        )
    if session.get_credentials() is None:
        raise CleanupError(
            "no AWS credentials found: pass --profile NAME (make aws-clean AWS_PROFILE=NAME) "
            "or set AWS_PROFILE; lessons/deploy.md shows how to create a profile"
        )
    return session


def describe_target(session: boto3.Session) -> str:
    """One line naming the account, region and caller the session acts as.

    Raises `CleanupError` when the credentials do not work (expired SSO login,
    unknown key, unreachable endpoint).
    """
    sts = session.client("sts")
    profile = session.profile_name
    try:
        identity = sts.get_caller_identity()
    except (SSOTokenLoadError, UnauthorizedSSOTokenError, TokenRetrievalError):
        raise CleanupError(
            f"the SSO login of profile {profile!r} has expired or never happened: "
            f"run `aws sso login --profile {profile}`"
        ) from None
    except NoCredentialsError:
        raise CleanupError(
            "no AWS credentials found: pass --profile NAME or set AWS_PROFILE"
        ) from None
    except EndpointConnectionError as error:
        raise CleanupError(f"cannot reach AWS at {error.kwargs.get('endpoint_url')}") from None
    except (ClientError, BotoCoreError) as error:
        raise CleanupError(f"AWS did not accept the credentials: {one_line(error)}") from None
    where = f"AWS account {identity['Account']}, region {session.region_name}"
    how = [f"as {identity['Arn']}"]
    if profile and profile != "default":
        how.append(f"profile {profile}")
    if "amazonaws.com" not in sts.meta.endpoint_url:
        how.append(f"endpoint {sts.meta.endpoint_url}")
    return f"Cleaning up the course's resources in {where} ({', '.join(how)})"


def clean(
    session: boto3.Session, *, dry_run: bool = False, say: Callable[[str], None] = print
) -> int:
    """Find the course's resources, delete them in order, and list what is left.

    Returns how many resources could not be deleted (each is reported in one line).
    """
    account = CourseAccount(session)
    inventory = account.find()
    for note in inventory.notes:
        say(f"Note: {note}.")
    failures, deleted = 0, set()
    if inventory.count == 0:
        say("Nothing to delete: no resource of the course was found.")
    else:
        say(
            f"Found {_plural(inventory.count, 'resource')} of the course (tag "
            f"{COURSE_TAG_KEY}={COURSE_TAG_VALUE}, or the course's exact names):"
        )
        for kind in DELETION_ORDER:
            for resource in inventory.resources[kind]:
                say(f"  {resource.describe()} [by {resource.found_by}]")
    if dry_run:
        say("Dry run: nothing was deleted.")
    elif inventory.count:
        say("Deleting them from the outside in:")
        for kind in DELETION_ORDER:
            for resource in inventory.resources[kind]:
                try:
                    account.delete(resource, say)
                    deleted.add((kind, resource.identifier))
                except (ClientError, CleanupError) as error:
                    failures += 1
                    say(f"  could not delete {resource.describe()}: {one_line(error)}")
    left = inventory if dry_run or not inventory.count else account.find()
    say(
        f"What is left of the course's resources in region {session.region_name} "
        "(IAM: the whole account):"
    )
    for kind in DELETION_ORDER:
        names = [
            # IAM in particular is eventually consistent: a deleted role may be listed briefly.
            f"{resource.name} (just deleted; AWS may list it for a few more seconds)"
            if (kind, resource.identifier) in deleted
            else resource.name
            for resource in left.resources[kind]
        ]
        say(f"  {kind.service} {kind.plural}: {', '.join(names) or 'nothing left'}")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Command line: clean the account that the options or the environment name."""
    parser = OneLineErrorParser(
        prog="aws-clean",
        description="Delete every AWS resource the Serverless Deep Learning course created "
        "(tagged course=serverless-deep-learning, or with the course's exact names), in an "
        "order that works, and list what is left.",
    )
    parser.add_argument("--profile", help="AWS profile to use (default: AWS_PROFILE)")
    parser.add_argument("--region", help="AWS region to clean (default: AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
    )
    args = parser.parse_args(argv)
    try:
        session = open_session(args.profile, args.region)
        print(describe_target(session), flush=True)
        failures = clean(session, dry_run=args.dry_run)
    except CleanupError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    except (ClientError, BotoCoreError) as error:
        parser.exit(
            1,
            f"{parser.prog}: error: {one_line(error)} (the course policy, "
            "aws-account/course-policy.json, allows what the cleanup calls)\n",
        )
    if failures:
        print(
            f"{_plural(failures, 'resource')} could not be deleted; see the lines above.",
            file=sys.stderr,
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
