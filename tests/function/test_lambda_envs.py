"""The exported handler in both TensorFlow-free Lambda environments, through the real RIE."""

import pytest

from serverless_dl.base.paths import IMAGES
from serverless_dl.function.envs import LAMBDA_FLAVOURS, run_in_lambda_env
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.function.lambda_local import local_function

SAMPLES = sorted(path.stem for path in IMAGES.glob("*.jpg"))


@pytest.mark.parametrize("flavour", LAMBDA_FLAVOURS)
def test_tensorflow_cannot_be_imported(flavour):
    run = run_in_lambda_env(flavour, ["-c", "import tensorflow"])
    assert run.returncode != 0
    assert "No module named 'tensorflow'" in run.stderr


@pytest.mark.parametrize(
    ("flavour", "interpreter_module", "numpy_major"),
    [("classic", "tflite_runtime", "1"), ("modern", "ai_edge_litert", "2")],
)
def test_each_environment_has_its_own_interpreter(flavour, interpreter_module, numpy_major):
    code = f"import {interpreter_module}, numpy; print(numpy.__version__.split('.')[0])"
    run = run_in_lambda_env(flavour, ["-c", code])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == numpy_major


@pytest.fixture(scope="module")
def images_url():
    with serve_directory(IMAGES) as base_url:
        yield base_url


@pytest.fixture(scope="module", params=LAMBDA_FLAVOURS)
def function(request):
    with local_function(request.param) as served:
        yield served


def test_several_images_are_classified_correctly(function, images_url):
    assert len(SAMPLES) >= 5
    for label in SAMPLES:
        reply = function.invoke({"url": f"{images_url}/{label}.jpg"})
        assert reply.status == 200
        result = reply.json()
        assert result["prediction"] == label, result
        assert set(result["scores"]) >= {label}
        assert abs(sum(result["scores"].values()) - 1) < 1e-3


def test_a_missing_url_is_a_clear_error(function):
    result = function.invoke({}).json()
    assert result == {"error": {"status": 400, "message": "missing 'url'"}}


@pytest.mark.parametrize("url_path", ["/no-such-image.jpg", None])
def test_an_unreachable_url_is_a_clear_error(function, images_url, url_path):
    url = f"{images_url}{url_path}" if url_path else "http://127.0.0.1:9/pants.jpg"
    reply = function.invoke({"url": url})
    body = reply.json()
    assert body["error"]["status"] == 422
    assert "Traceback" not in reply.text and "stackTrace" not in reply.text


def test_the_model_was_loaded_once(function, images_url):
    for _ in range(3):
        function.invoke({"url": f"{images_url}/pants.jpg"})
    # One INIT per environment start, however many requests followed.
    assert function.logs().count("INIT REPORT") == 1
