"""The account switch of lessons 07 and 08: one-line errors, and the settings for an AWS profile.

The local account itself is tested in test_local_account.py; here nothing
starts: a bad parameter must fail before anything runs, and a profile must
leave nothing that would redirect or override it.
"""

import os

import pytest

from serverless_dl.aws import aws_target
from serverless_dl.aws.aws_target import AwsTargetError, function_image_url, use_account
from serverless_dl.aws.local_account import find_account
from serverless_dl.containers.docker_engine import Engine


@pytest.fixture
def environment():
    """`os.environ`, restored after the test: `use_account` sets and clears variables in it."""
    saved = dict(os.environ)
    yield os.environ
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize(
    ("profile", "region", "local_dir", "message"),
    [("", "ireland", "x", "not a region name"), ("", "eu-west", "x", "not a region name"),
     ("", None, "x", "aws_region must be a string"), (None, "eu-west-1", "x", "aws_profile must"),
     ("", "eu-west-1", "", "aws_local_dir must name a folder"),
     ("", "eu-west-1", "A_FILE", "is a file, not a folder")],
)  # fmt: skip
def test_bad_parameters_are_one_line_errors_and_start_nothing(
    tmp_path, environment, profile, region, local_dir, message
):
    (tmp_path / "A_FILE").write_text("")
    folder = str(tmp_path / local_dir) if local_dir else local_dir
    with pytest.raises(AwsTargetError, match=message) as error:
        use_account(profile, region, folder)
    assert "\n" not in str(error.value)
    assert find_account(tmp_path / "x") is None


def test_a_profile_sets_the_profile_and_clears_what_would_override_it(
    tmp_path, monkeypatch, environment
):
    environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"  # must not redirect real calls
    environment["AWS_ACCESS_KEY_ID"] = "would-override-the-profile"
    environment["DOCKER_CONFIG"] = str(tmp_path / "local-login")
    monkeypatch.setattr(aws_target.docker_engine, "ensure_engine",
                        lambda: Engine(host="unix:///run/test.sock"))  # fmt: skip
    monkeypatch.setattr(aws_target, "_caller_account", lambda: "111122223333")
    settings = use_account("course", "us-east-1", str(tmp_path / "unused"))
    assert not settings.local
    assert os.environ["AWS_PROFILE"] == "course" and os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "DOCKER_CONFIG"):
        assert name not in os.environ, name
    assert os.environ["REGISTRY"] == "111122223333.dkr.ecr.us-east-1.amazonaws.com"
    assert os.environ["PATH"].split(os.pathsep)[0].endswith(".venvs/aws/bin")
    assert settings.exports().splitlines() == [
        "export AWS_PROFILE=course",
        "export AWS_DEFAULT_REGION=us-east-1",
        "export DOCKER_HOST=unix:///run/test.sock",
        f"export PATH={os.environ['PATH'].split(os.pathsep)[0]}:$PATH",
        "export ACCOUNT_ID=111122223333",
        "export REGISTRY=111122223333.dkr.ecr.us-east-1.amazonaws.com",
    ]
    assert not (tmp_path / "unused").exists()  # no local account for a profile


def test_on_aws_the_function_needs_a_public_image_url():
    with pytest.raises(AwsTargetError, match="public http") as error:
        function_image_url("images/pants.jpg", "course")
    assert "\n" not in str(error.value)
    assert function_image_url("https://example.com/a.jpg", "course") == "https://example.com/a.jpg"
    with pytest.raises(AwsTargetError, match="neither an http"):
        function_image_url("images/no-such-image.jpg", "")
