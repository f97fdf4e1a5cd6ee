"""Lesson 12: one core, thin adapters for other clouds, and the same answers from all of them.

- `stage()` assembles each adapter with an exact copy of the core; the adapters hold no
  model code of their own, and their requirement files pin the core's packages as the
  Lambda environment does.
- Each adapter runs the way its provider runs it, as far as this machine allows: the
  Functions Framework server (`functions-framework --target predict`) and the Cloud Run
  container (its own CMD, gunicorn on $PORT, in the course's Docker engine) over HTTP on
  127.0.0.1; the Azure function called with `azure.functions.HttpRequest` objects built
  from each request's method, URL, headers and raw body (the Functions host is not run).
- The whole hostile table of `test_handler_hostile` runs once through each adapter as the
  HTTP request a client would send; for every case the adapter answers the status and
  error document that the Lambda handler answers for the same request through API
  Gateway (an HTTP API proxy event), and that answer is the table's. A bug is a plain 500.
- `clouds/providers.json`: every documented figure has its source and the date read.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path

import pytest
from adapter_conditions import HEADER, SECRET
from handler_harness import CONFIGURATIONS, case_conditions, load_configured, proxy_event
from test_handler_hostile import CASES, skip_without_certificate
from test_requirements import pins

from serverless_dl.attacks.hostile_servers import hostile_site
from serverless_dl.base.paths import IMAGES, MODELS, REQUIREMENTS, ROOT, TESTS
from serverless_dl.clouds import other_clouds
from serverless_dl.clouds.other_clouds import (
    ADAPTERS,
    CLOUDS,
    CORE_FILES,
    azure_function,
    build_cloud_run_image,
    cloud_run_container,
    cost_per_million,
    functions_framework_server,
    json_request,
    providers,
    stage,
)  # fmt: skip

# Events only API Gateway can build: no HTTP request has a body that is not a string,
# or one marked base64 that is not base64 (a client sends bytes; the gateway encodes them).
NOT_HTTP = {"proxy-v2-body-not-a-string", "proxy-v2-invalid-base64"}
HTTP_CASES = [case for case in CASES if case.id not in NOT_HTTP]
TEST_IMAGE = "clothing-model:cloud-run-test"
BODY_TOO_LARGE = "the request body is larger than"
MODEL_VERSION = hashlib.sha256((MODELS / "clothing-model.tflite").read_bytes()).hexdigest()[:12]


def http_request(event, proxied: bool) -> tuple[bytes, dict[str, str]] | None:
    """The body and headers a client sends for a table event, or None if none can."""
    if not proxied:
        return json_request(event)
    body = event.get("body")
    if body is not None and not isinstance(body, str):
        return None
    raw = (body or "").encode("utf-8", errors="surrogatepass")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body or "", validate=True)
        except ValueError:
            return None
    content_type = next(value for name, value in event["headers"].items()
                        if name.lower() == "content-type")
    return raw, {"Content-Type": content_type}


# --- Staging and the files a learner deploys.


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_stage_puts_the_adapter_beside_an_exact_copy_of_the_core(adapter, tmp_path):
    staged = stage(adapter, tmp_path / adapter)
    own = {path.name for path in (CLOUDS / adapter).iterdir() if path.is_file()}
    assert {path.name for path in staged.iterdir()} == (
        own - {"local.settings.json"} | {path.name for path in CORE_FILES})
    for core in CORE_FILES:
        assert (staged / core.name).read_bytes() == core.read_bytes(), core.name


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_adapters_are_thin(adapter):
    [code] = [path for path in (CLOUDS / adapter).glob("*.py")]
    text = code.read_text()
    assert "from lambda_function import answer" in text
    assert "Interpreter" not in text and "def classify" not in text, "model code is the core's"
    assert len(text.splitlines()) < 60


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_each_adapter_pins_the_core_packages_as_the_lambda_environment_does(adapter):
    core = pins((REQUIREMENTS / "lambda-modern.txt").read_text().splitlines())
    deployed = pins((CLOUDS / adapter / "requirements.txt").read_text().splitlines())
    local = pins((REQUIREMENTS / "clouds.txt").read_text().splitlines())
    assert {name: deployed.get(name) for name in core} == core
    assert all(local.get(name, version) == version for name, version in deployed.items())


def test_the_cloud_run_dockerfile_is_the_one_a_learner_deploys():
    text = (CLOUDS / "cloud-run" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert "PIP_CERT" not in text and "ca-certificates" not in text  # the stand-in's business
    assert "${PORT" in text


def test_the_azure_settings_example_is_valid_json_for_the_python_worker():
    settings = json.loads((CLOUDS / "azure-functions" / "local.settings.json.example").read_text())
    assert settings["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert json.loads((CLOUDS / "azure-functions" / "host.json").read_text())["version"] == "2.0"


# --- The documented figures.


def test_every_documented_figure_has_a_source_and_the_date_it_was_read():
    listed = providers()["providers"]
    assert [provider["id"] for provider in listed] == [
        "aws-lambda", "cloud-run-functions", "cloud-run", "azure-functions"]
    for provider in listed:
        entries = [*provider["figures"].values(), provider["price"]]
        assert set(provider["figures"]) == {"memory", "timeout", "request_size", "package_limit",
                                            "concurrency_per_instance", "cold_start_mitigations"}
        for entry in entries:
            assert entry["source"].startswith("https://"), entry
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["read"]), entry


def test_cost_rounds_duration_up_to_the_billing_granularity():
    price = {"billing_granularity_ms": 100, "memory_gb": 1.0, "usd_per_gb_second": 1e-5,
             "usd_per_million_requests": 0.4}
    assert cost_per_million(price, 101) == cost_per_million(price, 200)
    assert cost_per_million(price, 100) < cost_per_million(price, 101)
    assert cost_per_million(price, 0) == pytest.approx(0.4)  # only the request fee


# --- The adapters, running.


@pytest.fixture(scope="module")
def site():
    with hostile_site() as running:
        yield running


@pytest.fixture(scope="module", params=ADAPTERS)
def adapter(request, site, tmp_path_factory):
    """One adapter, served as its provider serves it, with the test-conditions hook."""
    staged = stage(request.param, tmp_path_factory.mktemp(request.param))
    src = ROOT / "src"
    helpers = f"{TESTS / 'clouds'}:{TESTS / 'handler'}"  # adapter_conditions and what it imports
    if request.param == "google-functions":
        path = f"{staged}:{helpers}:{src}"
        with functions_framework_server(staged, source=TESTS / "clouds" / "adapter_conditions.py",
                                        environment={"PYTHONPATH": path}) as server:
            yield server
    elif request.param == "cloud-run":
        request.getfixturevalue("docker_engine")
        build_cloud_run_image(staged, TEST_IMAGE)
        mounts = [TESTS, src] + ([site.certificate.parent] if site.certificate else [])
        options = tuple(part for folder in mounts for part in ("-v", f"{folder}:{folder}:ro"))
        conditions = TESTS / "clouds" / "adapter_conditions.py"
        environment = {"PYTHONPATH": f"{helpers}:{src}",
                       "GUNICORN_CMD_ARGS": f"--config {conditions}"}
        with cloud_run_container(TEST_IMAGE, environment=environment, options=options) as server:
            yield server
    else:
        with azure_function(staged, hook="adapter_conditions:from_headers",
                            pythonpath=(TESTS / "clouds", TESTS / "handler")) as function:
            yield function


@pytest.fixture(scope="module")
def lambda_answers(site):
    """The Lambda handler's answer to each case's HTTP request, through an API Gateway event."""
    handlers = {name: load_configured(name) for name in CONFIGURATIONS}
    answers = {}

    def answer(case):
        if case.id not in answers:
            event = case.event(site)
            body, headers = http_request(event, case.proxied)
            gateway_event = proxy_event(2, body, content_type=headers["Content-Type"],
                                        base64_encoded=True)
            function = handlers[case.handler]
            certificate = str(site.certificate) if case.trust_certificate else None
            context = type("Context", (), {"aws_request_id": "reference"})()
            with case_conditions(function, pretend=case.pretend, certificate=certificate):
                response = function.lambda_handler(gateway_event, context)
            answers[case.id] = (body, headers, response["statusCode"], json.loads(response["body"]))
        return answers[case.id]

    answer.body_limit = handlers["loopback"].source.MAX_BODY_CHARACTERS

    return answer


def conditions_header(case, site, **extra) -> dict[str, str]:
    spec = {"handler": case.handler, "pretend": case.pretend, **extra,
            "certificate": str(site.certificate) if case.trust_certificate else None}
    return {HEADER: json.dumps(spec)}


def test_only_the_gateway_only_events_have_no_http_request(site):
    for case in CASES:
        expressible = http_request(case.event(site), case.proxied) is not None
        assert expressible == (case.id not in NOT_HTTP), case.id


@pytest.mark.parametrize("case", HTTP_CASES, ids=[case.id for case in HTTP_CASES])
def test_hostile_case_answers_as_the_lambda_handler_does(case, site, adapter, lambda_answers):
    skip_without_certificate(case, site)
    body, headers, status, document = lambda_answers(case)
    assert status == case.status, document  # the table holds for the HTTP request too
    # A direct event too large for one HTTP body is refused as a body, before it is read.
    too_large = len(base64.b64encode(body)) > lambda_answers.body_limit
    message = BODY_TOO_LARGE if too_large else case.message
    if message:
        assert message in document["error"]["message"], document
    reply = adapter.post(body, {**headers, **conditions_header(case, site)}, timeout=60)
    assert reply.status == status, reply.body[:300]
    assert reply.content_type.startswith("application/json"), reply.headers
    assert b"Traceback" not in reply.body
    answer = reply.json()
    if status == 200:
        assert answer["prediction"] == document["prediction"], answer
        assert answer["model_version"] == document["model_version"] == MODEL_VERSION
        assert answer["score"] == pytest.approx(document["score"], abs=1e-5)
    else:
        assert answer == document


def test_pants_through_the_adapter_as_a_url_and_as_an_image_body(adapter, site):
    by_url = adapter.post(*json_request({"url": f"{site.files}/pants.jpg"}))
    by_body = adapter.post((IMAGES / "pants.jpg").read_bytes(), {"Content-Type": "image/jpeg"})
    for reply in (by_url, by_body):
        assert reply.status == 200, reply.body[:300]
        assert reply.json()["prediction"] == "pants"


def test_a_bug_answers_a_plain_500_and_leaves_the_details_in_the_log(adapter, site):
    body, headers = json_request({"url": f"{site.files}/pants.jpg"})
    spec = {"handler": "loopback", "broken": True}
    reply = adapter.post(body, {**headers, HEADER: json.dumps(spec)})
    assert reply.status == 500
    assert reply.json() == {"error": {"status": 500, "message": "internal error"}}
    assert SECRET not in reply.body.decode()
    deadline = time.monotonic() + 10  # a container's log reaches `docker logs` a little later
    while SECRET not in adapter.logs() and time.monotonic() < deadline:
        time.sleep(0.1)
    [line] = [line for line in adapter.logs().splitlines() if SECRET in line]
    record = json.loads(line[line.index("{"):])
    assert record["status"] == 500 and record["traceback"].startswith("Traceback")


def test_stage_refuses_an_unknown_adapter():
    with pytest.raises(other_clouds.AdapterError, match="no adapter 'heroku'"):
        stage("heroku", Path("/nonexistent"))
