"""Lesson 09's web page, in real Chromium, against the real function behind `sam local start-api`.

The page is served on one 127.0.0.1 origin and the API on another, so every request
is cross-origin and the browser enforces CORS for real. Each variant of the function
(the plain handler and the FastAPI app) is built and served once for the session and
passes the same flows. Docker and the browser are mandatory when CI=true.
"""

import base64
import json
import re
import subprocess

import pytest
import requests
import yaml
from handler_harness import MODEL, proxy_event

from serverless_dl.aws import sam_local
from serverless_dl.base.paths import BUILD, DOCKER, IMAGES, ROOT
from serverless_dl.function.handler_modules import load_function
from serverless_dl.web.web_page import (
    SCREENSHOTS,
    TEMPLATES,
    VIEWPORTS,
    WEB,
    Outcome,
    classify_in_page,
    config_js,
    png_size,
    serve_page,
    web_stack,
)


class _SamTags(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub) as plain values."""


_SamTags.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def template(variant):
    return yaml.load(TEMPLATES[variant].read_text(), Loader=_SamTags)


# --- without Docker ---------------------------------------------------------------


def test_the_page_inserts_what_it_is_sent_as_text_only():
    lines = (WEB / "app.js").read_text().splitlines()
    script = "\n".join(line for line in lines if not line.strip().startswith("//"))  # code only
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "textContent" in script


def test_every_control_has_a_label_and_the_page_fits_a_phone():
    page = (WEB / "index.html").read_text()
    controls = re.findall(r'<input id="([\w-]+)"', page)
    assert {"file-input", "url-input", "send-binary", "send-base64"} <= set(controls)
    for control in controls:
        assert f'for="{control}"' in page, control
    # The two ways to send a photo are one group with a name of its own, binary by default.
    assert "<legend>" in page and re.search(r'id="send-binary"[^>]*checked', page)
    assert 'name="viewport" content="width=device-width' in page
    assert 'role="alert"' in page and 'aria-live="polite"' in page


@pytest.mark.parametrize("variant", list(TEMPLATES))
def test_the_api_allows_the_page_origin_only_and_passes_images_as_binary(variant):
    api = template(variant)["Resources"]["ClothingApi"]["Properties"]
    assert api["BinaryMediaTypes"] == ["image~1jpeg", "image~1png", "image~1webp"]
    assert api["Cors"]["AllowOrigin"] == "'${PageOrigin}'"
    assert api["Auth"]["AddApiKeyRequiredToCorsPreflight"] is False
    assert "*" not in template(variant)["Parameters"]["PageOrigin"]["Default"]
    variables = template(variant)["Resources"]["ClothingFunction"]["Properties"]["Environment"]
    assert variables["Variables"]["ALLOWED_ORIGIN"] == "PageOrigin"


def test_the_fastapi_template_declares_the_same_api_as_the_plain_one():
    plain, fastapi = template("plain"), template("fastapi")
    assert fastapi["Parameters"] == plain["Parameters"]
    assert fastapi["Resources"]["ClothingApi"] == plain["Resources"]["ClothingApi"]
    assert fastapi["Resources"]["ClothingFunction"]["Metadata"]["Dockerfile"] == (
        "docker/fastapi/Dockerfile"
    )
    assert (TEMPLATES["fastapi"].parent / "../..").resolve() == DOCKER.parent


def test_the_fastapi_dockerfile_is_what_a_learner_deploys():
    from serverless_dl.function.envs import aws_tool

    dockerfile = DOCKER / "fastapi" / "Dockerfile"
    text = dockerfile.read_text()
    assert "FROM public.ecr.aws/lambda/python:3.11" in text and 'CMD ["app.handler"]' in text
    for workaround in ("PIP_CERT", "ca-certificates", "pip.conf", "--network", "ALLOW_LOOPBACK"):
        assert workaround not in text, workaround
    lint = subprocess.run([str(aws_tool("hadolint")), "--no-color", str(dockerfile)],
                          capture_output=True, text=True)  # fmt: skip
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr


def test_the_fastapi_requirements_pin_the_framework_and_the_adapter():
    pins = (ROOT / "requirements" / "lambda-fastapi.txt").read_text()
    assert "fastapi==" in pins and "mangum==" in pins and "tensorflow" not in pins


def test_the_fastapi_template_passes_sam_validate_lint(tmp_path):
    assert "is a valid SAM Template" in sam_local.validate(TEMPLATES["fastapi"], tmp_path)


@pytest.mark.parametrize("origin", ["https://page.example", None])
def test_the_handler_names_the_allowed_origin_in_its_http_answers(origin):
    function = load_function(environment={"MODEL_PATH": str(MODEL), "ALLOWED_ORIGIN": origin})
    answer = function.lambda_handler(proxy_event(1, b"not an image", content_type="image/jpeg"),
                                     None)  # fmt: skip
    assert answer["statusCode"] == 415
    assert answer["headers"].get("Access-Control-Allow-Origin") == origin


def test_the_page_config_points_at_the_api():
    text = config_js("http://127.0.0.1:3000/predict", "key-1")
    assert '"predictUrl": "http://127.0.0.1:3000/predict"' in text and '"apiKey": "key-1"' in text


@pytest.mark.parametrize("name", list(VIEWPORTS))
def test_each_screenshot_is_committed_at_its_viewport_size(name):
    path = SCREENSHOTS / f"page-{name}.png"
    assert path.is_file(), f"{path} is missing: run `make web-screenshot`"
    assert png_size(path) == VIEWPORTS[name]


# --- the page in Chromium, the function behind sam local start-api ---------------------


@pytest.fixture(scope="session", params=list(TEMPLATES))
def stack(request, docker_engine):
    """One variant's API (built once, one `sam local start-api`) and the page for it."""
    with web_stack(request.param, BUILD / "test-web") as stack:
        yield stack


@pytest.fixture
def watched(chromium_browser):
    from serverless_dl.web.browser import watched_page

    page, watch = watched_page(chromium_browser)
    yield page, watch
    page.close()


def test_uploading_pants_shows_pants_and_every_score(stack, watched):
    page, watch = watched
    outcome = classify_in_page(page, stack.page_origin, file=IMAGES / "pants.jpg")
    assert outcome == Outcome("prediction", "pants")
    assert page.locator("#scores li").count() == 10
    assert page.get_attribute("#preview", "src").startswith("blob:")
    assert watch.errors == [] and watch.foreign_requests() == []


def test_pants_sent_as_base64_inside_json_shows_pants(stack, watched):
    page, watch = watched
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request))
    outcome = classify_in_page(page, stack.page_origin, file=IMAGES / "pants.jpg", send_as="base64")
    assert outcome == Outcome("prediction", "pants")
    [post] = posts
    assert post.headers["content-type"] == "application/json"
    photo = (IMAGES / "pants.jpg").read_bytes()
    assert json.loads(post.post_data) == {"image": base64.b64encode(photo).decode("ascii")}
    assert page.get_attribute("#preview", "src").startswith("blob:")
    assert watch.errors == [] and watch.foreign_requests() == []


def test_each_variant_refuses_a_bad_base64_image_with_the_same_error(stack):
    photo = base64.b64encode((IMAGES / "pants.jpg").read_bytes()).decode("ascii")
    notes = base64.b64encode(b"notes").decode("ascii")
    for document, status, message in [
        ({"image": "pants.jpg"}, 400, "'image' is not valid base64"),
        ({"image": 42}, 400, "'image' must be a non-empty string of base64"),
        ({"image": photo, "url": "http://x/"}, 400, "send either 'url' or 'image', not both"),
        ({"image": notes}, 415, "the data is not a JPEG, PNG or WebP image"),
    ]:
        answer = requests.post(stack.predict_url, json=document, timeout=60)
        assert answer.status_code == status, answer.text
        assert answer.json() == {"error": {"status": status, "message": message}}


def test_an_image_url_shows_its_class(stack, watched):
    page, watch = watched
    outcome = classify_in_page(page, stack.page_origin, url=stack.api.url_for("images/shoes.jpg"))
    assert outcome == Outcome("prediction", "shoes")
    assert watch.errors == []


def test_a_text_file_sent_as_an_image_shows_the_api_refusal(stack, watched, tmp_path):
    page, watch = watched
    fake = tmp_path / "notes.jpg"  # a text file with a photo's name: the browser says image/jpeg
    fake.write_text("shopping list: socks, a hat\n")
    outcome = classify_in_page(page, stack.page_origin, file=fake)
    assert outcome == Outcome(
        "error", "The image could not be classified (HTTP 415): "
        "the data is not a JPEG, PNG or WebP image")  # fmt: skip
    # Chromium reports every 4xx answer on the console; nothing else may appear there.
    assert [error for error in watch.errors if "status of 415" not in error] == []


def test_a_text_file_is_refused_before_it_is_sent(stack, watched, tmp_path):
    page, watch = watched
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    outcome = classify_in_page(page, stack.page_origin, file=notes)
    assert outcome.kind == "error" and "notes.txt is not an image (text/plain)" in outcome.text
    assert not any("/predict" in url for url in watch.requests)


def test_markup_in_an_error_message_is_shown_as_text(stack, watched):
    page, watch = watched
    markup = "<img src=x onerror=window.injected=1>"
    outcome = classify_in_page(page, stack.page_origin, url=f"http://{markup}/a.jpg")
    assert outcome.kind == "error" and markup in outcome.text  # the API echoed the host name
    assert page.locator("#error img").count() == 0
    assert page.evaluate("window.injected") is None
    assert [error for error in watch.errors if "status of 422" not in error] == []


def test_a_page_on_another_origin_is_refused_at_the_preflight(stack, watched):
    page, watch = watched
    with serve_page(stack.predict_url) as other_origin:
        assert other_origin != stack.page_origin
        outcome = classify_in_page(page, other_origin, file=IMAGES / "pants.jpg")
    assert outcome.kind == "error" and "CORS" in outcome.text
    assert any("blocked by CORS policy" in error and "preflight" in error for error in watch.errors)
    # The API's own answer to that preflight names the page's origin, not the other one.
    preflight = requests.options(stack.predict_url, timeout=30, headers={
        "Origin": other_origin, "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert preflight.headers["Access-Control-Allow-Origin"] == stack.page_origin
