"""Lesson 07's template and its data path: sam validate --lint, sam build, sam local start-api.

The template must be clean and free of test-only settings; served by the real
API Gateway emulator of the SAM CLI, POST /predict must classify an image and
unknown routes must get API Gateway's "Missing Authentication Token".
"""

import pytest
import requests
import yaml

from serverless_dl import sam_local
from serverless_dl.docker_engine import docker
from serverless_dl.paths import DOCKER

TEMPLATE = DOCKER / "template.yaml"
EXPECTED_CLASS = "pants"  # the label of images/pants.jpg, whatever the model's scores
MISSING_TOKEN = {"message": "Missing Authentication Token"}


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


@pytest.mark.docker
def test_the_lesson_07_url_answers_post_predict(tmp_path, function_images):
    built = sam_local.build(TEMPLATE, tmp_path)
    assert sam_local.image_functions(built) == {"ClothingFunction": "clothingfunction:python3.11"}
    with sam_local.LocalApi(built, tmp_path, DOCKER.parent / "images") as api:
        predict_url = f"{api.url}/predict"
        image_url = api.url_for("images/pants.jpg")
        reply = requests.post(predict_url, json={"url": image_url}, timeout=120)
        assert reply.status_code == 200, api.logs()[-2000:]
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json()["prediction"] == EXPECTED_CLASS
        assert requests.get(predict_url, timeout=60).json() == MISSING_TOKEN
        wrong_path = requests.post(f"{api.url}/predictions", json={}, timeout=60)
        assert (wrong_path.status_code, wrong_path.json()) == (403, MISSING_TOKEN)
        container = api.function_container
    assert api.function_container is None and api.sidecar is None
    assert docker("inspect", container, check=False).returncode != 0  # sam removed it
