"""Lesson 10's pieces outside the notebook: the successor model, the image's model, the template.

The lesson itself (versions, aliases, the canary configuration, the policies,
the cleanup) runs under nbval in tests/lessons/test_notebooks.py; here are the files
it depends on. The successor's drift check repeats a short, seeded run of its
training and compares bytes and digests with the committed files (see
`serverless_dl.data.successor_model`); the full retrain is `make successor-model`.
"""

import hashlib
import json
import subprocess
import sys

import pytest
import yaml

from serverless_dl.base.paths import DOCKER, ROOT
from serverless_dl.data import successor_model
from serverless_dl.data.clothing import CLASSES, DEFAULT_COUNTS

TEMPLATE = DOCKER / "template.yaml"


class _SamTags(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !GetAtt) as plain values."""


_SamTags.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def test_the_record_names_the_committed_tflite_file_and_one_test_set():
    record = json.loads(successor_model.RECORD.read_text())
    tflite = successor_model.TFLITE_MODEL.read_bytes()
    assert record["model_version"] == hashlib.sha256(tflite).hexdigest()[:12]
    assert record["model_version"] != successor_model.model_version(
        (successor_model.LAST_WEEKS_MODEL.with_suffix(".tflite")).read_bytes()
    )
    # Both accuracies come from the 500 test images of lesson 00, never from another set.
    assert record["test_images"] == DEFAULT_COUNTS["test"] * len(CLASSES)
    assert record["train_images"] == (DEFAULT_COUNTS["train"] + successor_model.EXTRA_PER_CLASS
                                      ) * len(CLASSES)  # fmt: skip
    assert 0 < record["test_accuracy"] <= 1 and 0 < record["last_weeks_test_accuracy"] <= 1


def test_the_successor_has_last_weeks_architecture():
    keras = pytest.importorskip("keras")

    def layers(model):
        return [(type(layer).__name__, layer.output.shape, layer.count_params())
                for layer in model.layers]  # fmt: skip

    last_week = keras.models.load_model(successor_model.LAST_WEEKS_MODEL)
    successor = keras.models.load_model(successor_model.KERAS_MODEL)
    assert layers(successor) == layers(last_week) == layers(successor_model.make_model())


@pytest.mark.slow
def test_make_successor_model_check_finds_no_drift():
    """`python -m serverless_dl.data.successor_model --check`: conversion, digests, a retrain."""
    run = subprocess.run([sys.executable, "-m", "serverless_dl.data.successor_model", "--check"],
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "up to date" in run.stdout


def test_the_check_reports_a_tflite_file_that_is_not_the_conversion(tmp_path):
    """A drift check must be able to fail: a changed byte in a copy of the files is found."""
    pytest.importorskip("keras")
    for path in (successor_model.KERAS_MODEL, successor_model.TFLITE_MODEL,
                 successor_model.RECORD):  # fmt: skip
        (tmp_path / path.name).write_bytes(path.read_bytes())
    tampered = bytearray((tmp_path / successor_model.TFLITE_MODEL.name).read_bytes())
    tampered[-1] ^= 0xFF
    (tmp_path / successor_model.TFLITE_MODEL.name).write_bytes(bytes(tampered))
    problems = successor_model.committed_file_problems(tmp_path)
    assert any("is not the conversion" in problem for problem in problems), problems
    assert any("another model version" in problem for problem in problems), problems


def test_the_dockerfile_takes_the_model_as_a_build_argument():
    text = (DOCKER / "Dockerfile").read_text()
    assert "ARG MODEL=models/clothing-model.tflite" in text  # last week's model by default
    assert "COPY ${MODEL} ${LAMBDA_TASK_ROOT}/clothing-model.tflite" in text
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "!models/clothing-v2.tflite" in ignore  # the successor reaches the build context


def test_the_template_publishes_live_and_deploys_by_canary_with_a_rollback_alarm():
    resources = yaml.load(TEMPLATE.read_text(), Loader=_SamTags)["Resources"]
    function = resources["ClothingFunction"]["Properties"]
    assert function["AutoPublishAlias"] == "live"
    preference = function["DeploymentPreference"]
    assert preference["Type"].startswith("Canary")
    (alarm_name,) = preference["Alarms"]
    alarm = resources[alarm_name]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", "Errors")
    dimensions = {dimension["Name"]: dimension["Value"] for dimension in properties["Dimensions"]}
    assert dimensions["Resource"] == "${ClothingFunction}:live"
    assert dimensions["ExecutedVersion"] == "ClothingFunction.Version.Version"
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["Threshold"] == 0
