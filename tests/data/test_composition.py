"""Lesson 11: last week's model as a backbone and heads, and the two functions that serve them.

- The committed backbone and heads are what `make composition` writes (byte for byte).
- The cut loses nothing: backbone then head give the single model's scores on the whole
  test set, and the parameter counts add up.
- The fabric labels come from the generator's own choices.
- The two handlers, run in the Lambda environment's own Python (tflite-runtime, NumPy 1),
  answer as the single function does and refuse malformed features with a 400.
"""

import base64
import json
import subprocess
import textwrap

import numpy as np
import pytest

from serverless_dl.base.paths import DOCKER, IMAGES
from serverless_dl.data import composition
from serverless_dl.data.clothing import _BUILDERS, CLASSES, FABRIC_PATTERNS, Dice, fabric_pattern
from serverless_dl.data.dataset import load_image
from serverless_dl.function.envs import aws_tool, clean_environment, lambda_python


@pytest.fixture(scope="module")
def test_split():
    return composition.preprocessed_split("test")


def test_the_cut_keeps_every_parameter_and_leaves_a_small_head():
    keras = pytest.importorskip("keras")
    model = keras.models.load_model(composition.KERAS_MODEL)
    backbone, head = composition.split_model(model)
    features, classes = backbone.output.shape[1], head.output.shape[1]
    assert backbone.count_params() + head.count_params() == model.count_params()
    assert head.count_params() == (features + 1) * classes  # one dense layer
    assert (features, classes) == (128, len(CLASSES))
    record = json.loads(composition.HEAD_MODEL.with_suffix(".json").read_text())
    assert record == {"task": "garment", "labels": list(CLASSES),
                      "parameters": head.count_params()}  # fmt: skip


def test_backbone_then_head_gives_the_single_models_scores_on_the_whole_test_set(test_split):
    images, labels, _ = test_split
    single = composition.TFLiteModel(composition.SINGLE_MODEL)(images)
    features = composition.TFLiteModel(composition.BACKBONE_MODEL)(images)
    composed = composition.TFLiteModel(composition.HEAD_MODEL)(features)
    assert len(images) == 50 * len(CLASSES)
    assert (single.argmax(1) == composed.argmax(1)).all()
    difference = float(np.abs(single - composed).max())
    print(f"largest score difference between the two paths: {difference:.1g}")
    assert difference < 1e-5


def test_the_fabric_head_beats_always_answering_the_commonest_fabric(test_split):
    images, _, fabrics = test_split
    features = composition.TFLiteModel(composition.BACKBONE_MODEL)(images)
    scores = composition.TFLiteModel(composition.FABRIC_HEAD_MODEL)(features)
    accuracy = float((scores.argmax(1) == fabrics).mean())
    record = json.loads(composition.FABRIC_HEAD_MODEL.with_suffix(".json").read_text())
    assert record["labels"] == list(FABRIC_PATTERNS)
    assert accuracy == record["test_accuracy"]
    assert (
        accuracy > np.bincount(fabrics).max() / len(fabrics) == record["commonest_fabric_accuracy"]
    )


def test_fabric_labels_are_the_generators_choices():
    for label in CLASSES:
        allowed = _BUILDERS[label](Dice(np.random.default_rng(0))).patterns
        # A sample image is drawn "typical": the first fabric of its class.
        assert fabric_pattern(label, "samples", 0) == allowed[0]
        drawn = {fabric_pattern(label, "train", index) for index in range(40)}
        assert drawn <= set(allowed) and len(drawn) > 1, (label, drawn)
    assert fabric_pattern("shirt", "test", 3) == fabric_pattern("shirt", "test", 3)
    with pytest.raises(ValueError, match="unknown label"):
        fabric_pattern("scarf", "test", 0)


@pytest.mark.slow
def test_make_composition_reproduces_the_committed_files():
    stale = composition.out_of_date()
    assert stale == [], f"out of date: {stale}; run `make composition`"


# The two handlers in the python3.11 Lambda environment: the backbone answers a base64 photo,
# its answer goes to the head, then the head gets malformed events.
_FUNCTIONS_SCRIPT = textwrap.dedent("""
    import json, os, sys
    os.environ["MODEL_PATH"] = sys.argv[1]
    import features_function
    features = features_function.lambda_handler({"image": sys.argv[3]}, None)
    os.environ["MODEL_PATH"], os.environ["LABELS_PATH"] = sys.argv[2], sys.argv[2][:-7] + ".json"
    import head_function
    bad = [{"features": [1.0]}, {"features": [float("nan")] * 128}, {"features": ["1"] * 128},
           {"features": [True] * 128}, {"url": "x"}, "features"]
    answers = [head_function.lambda_handler(event, None) for event in [features, *bad]]
    print(json.dumps({"features": features, "answers": answers}))
""")


def run_functions(head_model):
    """(stdout lines, the backbone's answer, the head's answers) from the Lambda environment."""
    photo = base64.b64encode((IMAGES / "pants.jpg").read_bytes()).decode()
    run = subprocess.run(
        [str(lambda_python("classic")), "-c", _FUNCTIONS_SCRIPT,
         str(composition.BACKBONE_MODEL), str(head_model), photo],
        env=clean_environment({"PYTHONPATH": f"{DOCKER}:{DOCKER / 'composition'}"}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    result = json.loads(lines[-1])
    return lines[:-1], result["features"], result["answers"]


def test_the_functions_compose_to_the_single_models_answer_and_refuse_bad_features():
    logs, features, (answer, *refusals) = run_functions(composition.HEAD_MODEL)
    assert len(features["features"]) == 128 and len(features["model_version"]) == 12
    image = np.asarray(load_image(IMAGES / "pants.jpg", 96), np.float32)
    single = composition.TFLiteModel(composition.SINGLE_MODEL)(image[np.newaxis] / 127.5 - 1)[0]
    assert answer["prediction"] == CLASSES[int(single.argmax())] == "pants"
    assert (
        max(abs(answer["scores"][c] - float(s)) for c, s in zip(CLASSES, single, strict=True))
        < 1e-5
    )
    for refusal in refusals:
        assert refusal["error"]["status"] == 400 and "features" in refusal["error"]["message"]
    records = [json.loads(line) for line in logs]
    assert [record["outcome"] for record in records] == ["ok", "ok"] + ["rejected"] * 6
    assert records[0]["model_version"] == features["model_version"] != answer["model_version"]
    assert "prediction" not in records[0] and records[1]["prediction"] == "pants"


def test_the_fabric_head_runs_in_the_same_handler():
    _, _, (answer, *_) = run_functions(composition.FABRIC_HEAD_MODEL)
    assert answer["prediction"] in FABRIC_PATTERNS
    assert set(answer["scores"]) == set(FABRIC_PATTERNS)


@pytest.mark.parametrize("name", ["Dockerfile.features", "Dockerfile.head"])
def test_the_dockerfiles_are_what_a_learner_deploys_and_pass_hadolint(name):
    dockerfile = DOCKER / "composition" / name
    text = dockerfile.read_text()
    assert "\nFROM public.ecr.aws/lambda/python:3.11\n" in text
    assert not any(word in text for word in ("PIP_CERT", "--network", "ALLOW_LOOPBACK"))
    lint = subprocess.run([str(aws_tool("hadolint")), "--no-color", str(dockerfile)],
                          capture_output=True, text=True)  # fmt: skip
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout
