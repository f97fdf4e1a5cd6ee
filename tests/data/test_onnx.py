"""ONNX Runtime, lesson 03's third TensorFlow-free runtime: file, handler, environment, image.

- `models/clothing-model.onnx` is what `make model` writes (converted again, compared byte
  for byte) and gives Keras's answers on the test set;
- the handler exported from lesson 03 (`docker/onnx/lambda_function.py`) classifies
  `images/pants.jpg` as `pants` under the real RIE in `.venvs/lambda-onnx`, which has no
  TensorFlow, and answers bad requests as the TFLite handler does;
- `docker/Dockerfile.onnx` is what a learner deploys, and its image, built on the
  python3.13 base image, says `pants` through its own emulator (needs Docker).
"""

import json
import subprocess

import numpy as np
import pytest

from serverless_dl.base.paths import DOCKER, MODELS
from serverless_dl.containers import docker_engine as harness
from serverless_dl.containers.function_images import ONNX_IMAGE, build_function_image, image_url
from serverless_dl.containers.lambda_base import start_function
from serverless_dl.data import onnx_model
from serverless_dl.data.dataset import ensure_dataset, load_split
from serverless_dl.function.client import predict
from serverless_dl.function.envs import aws_tool, run_in_lambda_env
from serverless_dl.function.handler_modules import load_function
from serverless_dl.function.lambda_local import ALLOW_LOOPBACK, local_function
from serverless_dl.lessons.export import ONNX_HANDLER_SCRIPT

ONNX_MODEL = MODELS / "clothing-model.onnx"
IMAGE_SOURCE = DOCKER / "image_source.py"
PROBE_IMAGE = "images/pants.jpg"
EXPECTED_CLASS = "pants"  # the label of images/pants.jpg
TOLERANCE = 1e-5  # float32 rounding, as lesson 03 holds the TFLite interpreters to


def test_make_model_reproduces_the_onnx_file(tmp_path):
    fresh = onnx_model.convert(onnx_model.KERAS_MODEL, tmp_path / ONNX_MODEL.name)
    assert fresh.read_bytes() == ONNX_MODEL.read_bytes(), "stale: run `make model`"


def test_onnx_runtime_gives_keras_answers_on_the_whole_test_set():
    keras = pytest.importorskip("keras")
    onnxruntime = pytest.importorskip("onnxruntime")
    images, _, _ = load_split(ensure_dataset(), "test", 96)
    batch = keras.applications.xception.preprocess_input(images.astype("float32"))
    reference = keras.models.load_model(onnx_model.KERAS_MODEL).predict(batch, verbose=0)
    session = onnxruntime.InferenceSession(str(ONNX_MODEL), providers=["CPUExecutionProvider"])
    scores = session.run(None, {session.get_inputs()[0].name: batch})[0]
    assert (scores.argmax(1) == reference.argmax(1)).all()
    assert float(np.abs(scores - reference).max()) <= TOLERANCE


def test_the_onnx_environment_has_onnx_runtime_and_no_tensorflow():
    code = (
        "import importlib.util, numpy, onnxruntime; "
        "print(importlib.util.find_spec('tensorflow') is None, numpy.__version__[0])"
    )
    run = run_in_lambda_env("onnx", ["-c", code])
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "2"]


def test_the_onnx_handler_says_pants_under_the_rie_in_its_own_environment():
    with (
        image_url(PROBE_IMAGE) as url,
        local_function(
            "onnx", ONNX_HANDLER_SCRIPT, ONNX_MODEL, image_source=IMAGE_SOURCE
        ) as function,
    ):
        answer = predict(url, function.url)
        assert "REPORT RequestId:" in function.logs()
    assert answer["prediction"] == EXPECTED_CLASS
    assert abs(sum(answer["scores"].values()) - 1) < 1e-4


def test_the_onnx_handler_answers_bad_requests_as_the_tflite_handler_does():
    function = load_function(ONNX_HANDLER_SCRIPT, IMAGE_SOURCE,
                             environment={"MODEL_PATH": str(ONNX_MODEL)}, name="onnx")  # fmt: skip
    assert function.lambda_handler({}, None)["error"]["status"] == 400
    proxy = {"httpMethod": "POST", "requestContext": {}, "body": "not json"}
    reply = function.lambda_handler(proxy, None)
    assert reply["statusCode"] == 400
    assert json.loads(reply["body"])["error"]["status"] == 400


def test_the_onnx_dockerfile_is_what_a_learner_deploys():
    text = ONNX_IMAGE.dockerfile.read_text()
    assert ONNX_IMAGE.base == "public.ecr.aws/lambda/python:3.13"
    assert "requirements/lambda-onnx.txt" in text
    assert "COPY models/clothing-model.onnx " in text
    assert "docker/onnx/lambda_function.py" in text
    assert 'CMD ["lambda_function.lambda_handler"]' in text
    for workaround in ("PIP_CERT", "ca-certificates", "pip.conf", "--network", "ALLOW_LOOPBACK"):
        assert workaround not in text, workaround
    hadolint = subprocess.run(
        [str(aws_tool("hadolint")), "--no-color", str(ONNX_IMAGE.dockerfile)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert hadolint.returncode == 0 and not hadolint.stdout.strip(), hadolint.stdout


@pytest.mark.docker
def test_the_onnx_image_on_python_3_13_says_pants_through_its_emulator(docker_engine):
    built = build_function_image(ONNX_IMAGE)
    assert 0 < built.added_bytes < built.size_bytes
    with image_url(PROBE_IMAGE) as url, start_function(built.tag, env=ALLOW_LOOPBACK) as function:
        answer = predict(url, function.url)
        assert "REPORT RequestId:" in function.logs()
    assert answer["prediction"] == EXPECTED_CLASS
    version = harness.docker(
        "run", "--rm", "--network", "none", "--entrypoint", "python", built.tag,
        "-c", "import sys; print('%d.%d' % sys.version_info[:2])",
    ).stdout  # fmt: skip
    assert version.strip() == "3.13"
