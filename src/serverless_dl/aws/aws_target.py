"""Where the AWS lessons' commands go: your AWS account, or the local account, behind one switch.

The switch is the lesson parameter `aws_profile`; `use_account()` reads it
once, near the top of lessons 07, 08, 10 and 11, and sets this process's environment,
which the AWS CLI, boto3, Docker and every `%%bash` cell then read:

- `aws_profile = ""` (the default): **the local account**
  (`serverless_dl.aws.local_account`), started if none runs in `aws_local_dir`:
  `AWS_ENDPOINT_URL` (its endpoint: moto, with container-image invocations
  run by the real RIE), dummy credentials, `AWS_DEFAULT_REGION`,
  `DOCKER_HOST`, `DOCKER_CONFIG` (Docker's login to the local registry stays
  in the account's folder), `REGISTRY` (the local registry, where images are
  pushed) and `ACCOUNT_ID`.
- `aws_profile = "my-profile"`: **your account**: `AWS_PROFILE`,
  `AWS_DEFAULT_REGION`, `DOCKER_HOST`, `ACCOUNT_ID` (from
  `aws sts get-caller-identity`) and `REGISTRY`, your account's ECR registry
  `<account>.dkr.ecr.<region>.amazonaws.com`. Anything that would redirect
  or override the profile (an endpoint, static keys) is removed. The same
  commands then create real resources, which cost money.

Both put `.venvs/aws/bin` (the `aws` and `sam` commands) first on the `PATH`.
The commands below the settings are identical for both.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import dataclass

from serverless_dl.aws.local_account import (
    LOCAL_CREDENTIALS,
    LocalAccount,
    LocalAccountError,
    ensure_account,
)
from serverless_dl.containers import docker_engine
from serverless_dl.containers.function_images import image_url
from serverless_dl.function.envs import venv_bin
from serverless_dl.function.sources import is_url

# Every AWS variable the switch may set or must clear.
_AWS_VARIABLES = (
    "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DOCKER_CONFIG",
)  # fmt: skip
# Files served to local functions stay served while the kernel lives (across cells).
_served_images = contextlib.ExitStack()
atexit.register(_served_images.close)


class AwsTargetError(RuntimeError):
    """A lesson parameter is unusable or the account cannot be reached; one line says why."""


@dataclass
class AccountSettings:
    """The environment `use_account` set, in the order it prints it."""

    variables: dict[str, str]
    local_account: LocalAccount | None

    @property
    def local(self) -> bool:
        """True for the local account, false for an AWS account."""
        return self.local_account is not None

    def exports(self) -> str:
        """The settings as shell `export` lines, which also work in a terminal."""
        lines = []
        for name, value in self.variables.items():
            shown = f"{value}:$PATH" if name == "PATH" else value
            lines.append(f"export {name}={shown}")
        return "\n".join(lines)


def valid_region(region: str) -> str:
    """`region` if it looks like an AWS region name (eu-west-1), else a one-line error."""
    if not isinstance(region, str):
        raise AwsTargetError(f"aws_region must be a string such as eu-west-1, not {region!r}")
    *words, number = region.strip().split("-")
    if len(words) < 2 or not number.isdecimal() or not all(word.isalpha() for word in words):
        raise AwsTargetError(f"aws_region {region!r} is not a region name such as eu-west-1")
    return region.strip()


def _caller_account() -> str:
    """The account id the current credentials act on (`aws sts get-caller-identity`)."""
    import boto3
    import botocore.exceptions

    boto3.DEFAULT_SESSION = None  # read the variables just set, not a cached session
    try:
        return boto3.client("sts").get_caller_identity()["Account"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AwsTargetError(f"aws sts get-caller-identity failed: {message}") from None


def use_account(aws_profile: str, aws_region: str, aws_local_dir: str) -> AccountSettings:
    """Point the AWS CLI, boto3 and Docker of this process (and its children) at the account.

    `aws_profile` empty: the local account in `aws_local_dir`, started if
    none runs there. Otherwise the AWS account of that profile, in
    `aws_region`. Returns what was set (see the module's doc).
    """
    if not isinstance(aws_profile, str):
        raise AwsTargetError(f"aws_profile must be a string (empty for the local account), "
                             f"not {aws_profile!r}")  # fmt: skip
    region, profile = valid_region(aws_region), aws_profile.strip()
    local_account = None
    if not profile:
        try:
            local_account, _ = ensure_account(aws_local_dir)
        except LocalAccountError as error:
            raise AwsTargetError(str(error)) from None
    engine = docker_engine.ensure_engine()
    for name in _AWS_VARIABLES:
        os.environ.pop(name, None)
    variables: dict[str, str] = {}
    if local_account is not None:
        variables["AWS_ENDPOINT_URL"] = local_account.endpoint_url
        variables.update(LOCAL_CREDENTIALS)
    else:
        variables["AWS_PROFILE"] = profile
    variables["AWS_DEFAULT_REGION"] = region
    variables["DOCKER_HOST"] = engine.host
    if local_account is not None:
        variables["DOCKER_CONFIG"] = str(local_account.docker_config)
    tools = variables["PATH"] = str(venv_bin("aws"))
    os.environ.update({name: value for name, value in variables.items() if name != "PATH"})
    path = [folder for folder in os.environ.get("PATH", "").split(os.pathsep) if folder != tools]
    os.environ["PATH"] = os.pathsep.join([tools, *path])
    account_id = variables["ACCOUNT_ID"] = os.environ["ACCOUNT_ID"] = _caller_account()
    if local_account is not None:
        registry = local_account.registry
    else:
        registry = f"{account_id}.dkr.ecr.{region}.amazonaws.com"
    variables["REGISTRY"] = os.environ["REGISTRY"] = registry
    return AccountSettings(variables=variables, local_account=local_account)


def function_image_url(image: str, aws_profile: str) -> str:
    """The URL the deployed function fetches `image` from, for the event you send it.

    An http(s) URL is used as it is. For the local account, a file is served
    on 127.0.0.1 while this process lives (the function's container shares
    the host's network). On AWS the function cannot see your files, so
    `image` must be a public URL.
    """
    if aws_profile and not is_url(image):
        raise AwsTargetError(
            f"on AWS the function fetches the image itself: set `image` to a public "
            f"http(s) URL, not {image!r}"
        )
    try:
        return _served_images.enter_context(image_url(image))
    except FileNotFoundError as error:
        raise AwsTargetError(str(error)) from None
