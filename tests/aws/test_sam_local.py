"""Lesson 08's SAM template: sam validate --lint, and what the local API may add to it.

The template must be clean and free of test-only settings. Its data path
(`sam build`, `sam local start-api`, POST /predict, "Missing Authentication
Token") runs in lesson 08, which nbval checks; it is not repeated here.
"""

import yaml

from serverless_dl.aws import sam_local
from serverless_dl.base.paths import DOCKER

TEMPLATE = DOCKER / "template.yaml"


class _SamTags(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub) as plain values."""


_SamTags.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def test_the_template_passes_sam_validate_lint(tmp_path):
    assert "is a valid SAM Template" in sam_local.validate(TEMPLATE, tmp_path)


def test_the_template_deploys_the_image_behind_a_keyed_and_throttled_api():
    text = TEMPLATE.read_text()
    resources = yaml.load(text, Loader=_SamTags)["Resources"]
    function = resources["ClothingFunction"]
    assert function["Properties"]["PackageType"] == "Image"
    assert function["Metadata"]["Dockerfile"] == "docker/Dockerfile"
    assert (DOCKER / function["Metadata"]["DockerContext"]).resolve() == DOCKER.parent
    event = function["Properties"]["Events"]["Predict"]["Properties"]
    assert (event["Path"], event["Method"]) == ("/predict", "post")
    auth = resources["ClothingApi"]["Properties"]["Auth"]
    assert auth["ApiKeyRequired"] is True
    assert {"RateLimit", "BurstLimit"} <= set(auth["UsagePlan"]["Throttle"])
    assert "ALLOW_LOOPBACK_URLS" not in text  # test-only; added to a built copy, never here


def test_the_loopback_setting_goes_only_into_the_local_copy(tmp_path):
    built = tmp_path / "template.yaml"
    built.write_text(yaml.safe_dump({"Resources": {
        "Fn": {"Type": "AWS::Serverless::Function",
               "Properties": {"PackageType": "Image", "ImageUri": "fn:latest"}},
        "Api": {"Type": "AWS::Serverless::Api", "Properties": {}},
    }}))  # fmt: skip
    copy = sam_local.local_test_template(built)
    variables = yaml.safe_load(copy.read_text())["Resources"]["Fn"]["Properties"]["Environment"]
    assert variables == {"Variables": {"ALLOW_LOOPBACK_URLS": "1"}}
    assert "ALLOW_LOOPBACK_URLS" not in built.read_text()
    assert sam_local.image_functions(built) == {"Fn": "fn:latest"}


def test_on_aws_the_stage_is_the_invoke_url_and_the_image_a_public_url(tmp_path):
    invoke_url = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod"
    stage = sam_local.open_stage(
        "course", invoke_url, tmp_path / "unused.yaml", "https://example.com/a.jpg", tmp_path
    )
    assert (stage.predict_url, stage.image_url) == (
        f"{invoke_url}/predict",
        "https://example.com/a.jpg",
    )
    assert stage.local_api is None
