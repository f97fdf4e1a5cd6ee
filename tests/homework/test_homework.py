"""The homework's images, model, options and personal questions (no Docker, no TensorFlow here).

The grader converts the homework model once, in a child process, and caches
the result under build/; everything else in these tests runs on LiteRT,
Pillow and NumPy in milliseconds.
"""

import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from PIL import Image

from serverless_dl.aws.pricing import cost_of
from serverless_dl.base.paths import HOMEWORK, LESSONS, MODELS, ROOT
from serverless_dl.bench.report import ONE_VCPU_MB, cost_per_million
from serverless_dl.data.clothing import CLASSES
from serverless_dl.function.rie import parse_reports
from serverless_dl.homework import gateway, swatches
from serverless_dl.homework.options import (
    LETTERS,
    OptionError,
    nice_step,
    numeric_options,
    valid_slots,
)
from serverless_dl.homework.page import update_page
from serverless_dl.homework.questions import (
    CONTAINER_QUESTION,
    EVENTS,
    MAX_POINTS,
    PIXEL_STEP,
    QUESTION_IDS,
    LearnerIdError,
    homework_for,
    id_ranges,
    normalise_learner_id,
)
from serverless_dl.homework.reference import (
    ReferencePipeline,
    ReferenceUnavailable,
    reference_pipeline,
    reference_tflite,
)

LEARNERS = [f"learner-{number:02d}" for number in range(40)]


@pytest.fixture(scope="module")
def pipeline() -> ReferencePipeline:
    return reference_pipeline()


# --- The images -----------------------------------------------------------------------------


def test_the_same_arguments_give_byte_identical_jpegs():
    for label in swatches.LABELS:
        first = swatches.jpeg_bytes(swatches.generate_swatch(label, "train", 3))
        again = swatches.jpeg_bytes(swatches.generate_swatch(label, "train", 3))
        assert first == again


def test_other_labels_splits_indices_and_seeds_give_other_images():
    def pixels(*args, **kwargs):
        return np.asarray(swatches.generate_swatch(*args, **kwargs))

    reference = pixels("dots", "train", 0)
    for other in (
        pixels("stripes", "train", 0),
        pixels("dots", "validation", 0),
        pixels("dots", "train", 1),
        pixels("dots", "train", 0, seed=swatches.DEFAULT_SEED + 1),
    ):
        assert not np.array_equal(reference, other)


def test_the_committed_pool_is_what_the_generator_draws():
    committed = sorted(path.name for path in (HOMEWORK / "images").iterdir())
    drawn = dict(swatches.pool_files())
    assert committed == sorted(drawn), "homework/images/ is stale: run `make homework-model`"
    for name, data in drawn.items():
        assert (HOMEWORK / "images" / name).read_bytes() == data, f"{name} is stale"


def test_the_pool_holds_both_classes_in_equal_numbers_and_nothing_from_training():
    entries = swatches.pool_entries()
    assert len(entries) == swatches.POOL_SIZE
    labels = [label for _, label, _ in entries]
    assert labels.count("dots") == labels.count("stripes")
    with Image.open(HOMEWORK / "images" / entries[0][0]) as image:
        assert image.size == (swatches.IMAGE_SIZE, swatches.IMAGE_SIZE)


def test_the_classes_are_not_garments():
    assert not set(swatches.LABELS) & set(CLASSES)


@pytest.mark.parametrize(
    "call",
    [
        lambda: swatches.swatch_rng("checks", "train", 0),
        lambda: swatches.swatch_rng("dots", "holdout", 0),
        lambda: swatches.swatch_rng("dots", "train", -1),
    ],
)
def test_bad_generator_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# --- The model ------------------------------------------------------------------------------


def test_the_homework_model_differs_from_the_lesson_model(pipeline):
    lesson = ReferencePipeline(MODELS / "clothing-model.tflite")
    assert pipeline.input_size != lesson.input_size
    output = pipeline.interpreter.get_output_details()[0]
    assert list(output["shape"]) == [1, 1]  # one sigmoid unit, not a score per class


def test_the_model_tells_stripes_from_dots_on_images_it_never_saw(pipeline, tmp_path):
    right = 0
    count = 25
    for target, label in enumerate(swatches.LABELS):
        for index in range(count):
            path = tmp_path / f"{label}-{index}.jpg"
            path.write_bytes(swatches.jpeg_bytes(swatches.generate_swatch(label, "test", index)))
            output = _predict(pipeline, path)
            assert 0.0 < output < 1.0
            right += int((output >= 0.5) == bool(target))
    assert right / (2 * count) >= 0.9


def _predict(pipeline, path):
    """The model's output for an image file outside the pool."""
    pipeline.interpreter.set_tensor(pipeline.input_index, _scaled(path, pipeline.input_size))
    pipeline.interpreter.invoke()
    return float(pipeline.interpreter.get_tensor(pipeline.output_index)[0][0])


def _scaled(path, size):
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB").resize((size, size), Image.NEAREST))
    return (pixels.astype(np.float32) / 255.0)[np.newaxis]


def test_a_missing_model_is_a_one_line_reason_not_a_traceback(tmp_path):
    with pytest.raises(ReferenceUnavailable, match="make homework-model"):
        reference_tflite(tmp_path / "homework-model.keras")


def test_the_grader_never_imports_tensorflow(pipeline, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("learner_id: alice\nanswers:\n  q1: A\n")
    script = (
        "import sys\n"
        "from serverless_dl.homework.grading import grade_file, format_grade\n"
        f"print(format_grade(grade_file({str(answers)!r})).splitlines()[-1])\n"
        "print('tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "False"


# --- Options --------------------------------------------------------------------------------


@given(
    correct=st.floats(0, 1),
    step=st.sampled_from([0.01, 0.02, 0.05, 13 / 255]),
    seed=st.integers(0, 2**64),
    offset=st.floats(-0.49, 0.49),
)
def test_exactly_one_option_is_closest_to_the_correct_value(correct, step, seed, offset):
    decimals = 4
    assume(valid_slots(correct, step, 0.0, 1.0))
    options, letter = numeric_options(correct, step, seed, decimals=decimals, lower=0, upper=1)
    values = options.values
    assert len(values) == len(LETTERS) == len(set(options.labels()))
    assert all(np.isclose(b - a, step) for a, b in zip(values, values[1:], strict=False))
    assert all(-1e-9 <= value <= 1 + 1e-9 for value in values)
    assert values[LETTERS.index(letter)] == correct
    # Anything within half a step (less display rounding) is closest to the right option ...
    nearby = correct + offset * (step - 2 * 10**-decimals)
    assert options.closest_letter(nearby) == letter
    # ... and every other option, as shown, is closest to itself.
    for index, shown in enumerate(options.labels()):
        assert options.closest_letter(float(shown)) == LETTERS[index]


@given(
    correct=st.integers(0, 10_000),
    seed=st.integers(0, 2**64),
    step=st.sampled_from([1, 2, 5, 20]),
)
def test_whole_number_options_stay_whole_and_non_negative(correct, seed, step):
    options, letter = numeric_options(correct, step, seed, decimals=0, lower=0)
    assert all(value >= 0 and float(value).is_integer() for value in options.values)
    assert options.closest_letter(correct) == letter


@given(correct=st.floats(2, 1e6), seed=st.integers(0, 2**64))  # model sizes in KiB
def test_sizes_keep_their_lattice_so_no_option_gives_itself_away(correct, seed):
    step = nice_step(0.12 * correct)
    assert 0.4 * 0.12 * correct * (1 - 1e-9) <= step <= 0.12 * correct * (1 + 1e-9)
    options, _ = numeric_options(correct, step, seed, decimals=1, lower=0)
    remainders = {round((value - correct) / step, 9) % 1 for value in options.values}
    assert remainders == {0.0}


def test_values_far_from_every_option_or_halfway_are_refused():
    options, _ = numeric_options(0.5, 0.01, 0, decimals=4, lower=0, upper=1)
    with pytest.raises(OptionError, match="not near any option"):
        options.closest_letter(options.values[-1] + 0.02)
    with pytest.raises(OptionError, match="halfway"):
        options.closest_letter((options.values[0] + options.values[1]) / 2)


def test_options_that_cannot_fit_are_an_internal_error():
    with pytest.raises(ValueError):
        numeric_options(0.5, 0.5, 0, decimals=2, lower=0, upper=1)
    with pytest.raises(ValueError):
        numeric_options(0.5, 0.001, 0, decimals=2)


# --- Personal questions ---------------------------------------------------------------------


def test_learner_ids_are_normalised_and_checked():
    assert normalise_learner_id("  Alice@Example.org ") == "alice@example.org"
    for bad in (None, "", "   ", 12345, "two words", "x" * 65, "ünïcode"):
        with pytest.raises(LearnerIdError):
            normalise_learner_id(bad)


def test_a_learner_always_gets_the_same_homework(pipeline):
    first = homework_for("Alice", pipeline)
    assert homework_for("alice ", pipeline) is first
    assert [q.id for q in first.questions.values()] == list(QUESTION_IDS)
    assert sum(q.points for q in first.questions.values()) == MAX_POINTS
    assert set(first.correct.values()) <= set(LETTERS)


PERSONAL = ("q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11")


def test_model_questions_are_the_same_for_everybody_and_the_rest_are_personal(pipeline):
    homeworks = [homework_for(learner, pipeline) for learner in LEARNERS]
    for qid in ("q1", "q2", "q3"):
        assert len({h.questions[qid].options for h in homeworks}) == 1
    pixels = {tuple(h.questions["q4"].details.values()) for h in homeworks}
    assert len(pixels) == len(LEARNERS)
    for qid in ("q5", "q7"):
        assert len({h.questions[qid].details["image"] for h in homeworks}) >= len(LEARNERS) // 4
    assert len({json.dumps(h.questions["q6"].details["event"]) for h in homeworks}) >= 6
    assert len({h.questions["q8"].details["report"] for h in homeworks}) == len(LEARNERS)
    assert len({h.questions["q9"].details["request"] for h in homeworks}) >= len(LEARNERS) // 2
    assert len({h.questions["q10"].details["sizing"] for h in homeworks}) == len(LEARNERS)
    for homework in homeworks:
        assert homework.questions["q5"].details != homework.questions["q7"].details


def test_copied_answers_mostly_miss_another_learners_personal_questions(pipeline):
    source = homework_for("alice", pipeline)
    matches = sum(
        homework_for(learner, pipeline).correct[qid] == source.correct[qid]
        for learner in LEARNERS
        for qid in PERSONAL
    )
    assert matches / (len(PERSONAL) * len(LEARNERS)) < 0.5  # chance is 1 in 4


def test_the_pixel_question_is_the_reference_pipelines_pixel(pipeline):
    for learner in LEARNERS[:10]:
        question = homework_for(learner, pipeline).questions["q4"]
        spot = question.details
        x = pipeline.preprocess(spot["image"])
        value = float(x[0, spot["row"], spot["column"], spot["channel"]])
        assert (
            question.options.closest_letter(value) == homework_for(learner, pipeline).correct["q4"]
        )


def test_common_preprocessing_mistakes_give_a_wrong_option(pipeline):
    for learner in LEARNERS[:10]:
        homework = homework_for(learner, pipeline)
        spot, options = homework.questions["q4"].details, homework.questions["q4"].options
        row, column, channel = spot["row"], spot["column"], spot["channel"]
        size = pipeline.input_size
        with Image.open(pipeline.image_path(spot["image"])) as image:
            rgb = image.convert("RGB")
        nearest = np.asarray(rgb.resize((size, size), Image.NEAREST))
        mistakes = [
            np.asarray(rgb)[row, column, channel],
            np.asarray(rgb.resize((size, size)))[row, column, channel],  # Pillow's default
            np.asarray(rgb.resize((size, size), Image.BILINEAR))[row, column, channel],
            nearest[column, row, channel],
        ]
        if channel != 1:
            mistakes.append(nearest[row, column, 2 - channel])
        for mistake in mistakes:
            try:
                assert options.closest_letter(mistake / 255) != homework.correct["q4"]
            except OptionError:
                pass  # not near any option: also not the right one
        assert spot["row"] < size and spot["column"] < size
        assert abs(PIXEL_STEP * 255 - round(PIXEL_STEP * 255)) < 1e-9


def test_the_outputs_asked_about_are_the_models(pipeline):
    homework = homework_for("alice", pipeline)
    for qid in ("q5", "q7"):
        question = homework.questions[qid]
        path = pipeline.image_path(question.details["image"])
        expected = _predict(pipeline, path)
        assert question.options.closest_letter(expected) == homework.correct[qid]


def test_the_guard_question_offers_four_different_answers_of_the_course_handler(pipeline):
    answers = [pipeline.handler_answer(event) for event in EVENTS]
    assert all(answer.split(":")[0] in {"400", "403"} for answer in answers), answers
    for learner in LEARNERS[:10]:
        homework = homework_for(learner, pipeline)
        question = homework.questions["q6"]
        labels = question.options.labels()
        assert len(set(labels)) == len(LETTERS)
        mine = pipeline.handler_answer(question.details["event"])
        assert labels[LETTERS.index(homework.correct["q6"])] == mine


def test_the_metadata_service_is_refused_in_all_its_disguises_as_in_lesson_05(pipeline):
    for host in ("169.254.169.254", "2852039166", "0251.0376.0251.0376"):
        answer = pipeline.handler_answer({"url": f"http://{host}/latest/meta-data/"})
        assert answer == "403: the URL points to a non-public address (169.254.169.254)"
    assert pipeline.handler_answer({}) == "400: missing 'url'"


def test_the_guard_question_never_asks_about_loopback_which_local_runs_allow(pipeline):
    urls = [event["url"] for event in EVENTS if isinstance(event, dict) and "url" in event]
    refused = [pipeline.handler_answer({"url": url}) for url in urls]
    assert not [answer for answer in refused if "127." in answer or "(::1)" in answer]


def test_rendered_questions_show_every_option_and_no_answer(pipeline):
    homework = homework_for("alice", pipeline)
    text = homework.render()
    for question in homework.questions.values():
        assert question.topic in text
        for label in question.options.labels():
            assert label in text
    assert "correct" not in text.lower()


# --- Later lessons: the bill, the API, memory ----------------------------------------------


def _wrong_or_far(options, value, correct):
    """True when `value` is closest to another option than `correct`, or to none."""
    try:
        return options.closest_letter(value) != correct
    except OptionError:
        return True


def test_the_report_line_parses_and_its_bill_is_the_pricing_modules(pipeline):
    for learner in LEARNERS:
        homework = homework_for(learner, pipeline)
        question, correct = homework.questions["q8"], homework.correct["q8"]
        bill = question.details["bill"]
        (report,) = parse_reports(question.details["report"])
        assert report["Billed Duration"] == bill.billed_ms == math.ceil(report["Duration"])
        assert report["Max Memory Used"] < report["Memory Size"] == bill.memory_mb
        estimate = cost_of(bill.requests, bill.billed_ms, bill.memory_mb, bill.architecture)
        assert question.options.values[LETTERS.index(correct)] == estimate.total_usd
        assert f"{bill.requests:,}" in question.text and bill.architecture in question.text


def test_the_usual_billing_mistakes_pick_a_wrong_option(pipeline):
    for learner in LEARNERS:
        homework = homework_for(learner, pipeline)
        question, correct = homework.questions["q8"], homework.correct["q8"]
        bill = question.details["bill"]
        other = "arm64" if bill.architecture == "x86_64" else "x86_64"
        right = cost_of(bill.requests, bill.billed_ms, bill.memory_mb, bill.architecture)
        mistakes = [
            right.duration_usd,  # no request charge
            right.requests_usd + right.duration_usd * bill.max_memory_used_mb / bill.memory_mb,
            cost_of(bill.requests, bill.billed_ms, bill.memory_mb, other).total_usd,
        ]
        assert all(_wrong_or_far(question.options, m, correct) for m in mistakes), learner


def test_the_memory_question_is_lesson_09s_estimate_and_its_mistakes_miss(pipeline):
    for learner in LEARNERS:
        homework = homework_for(learner, pipeline)
        question, correct = homework.questions["q10"], homework.correct["q10"]
        sizing = question.details["sizing"]
        right = cost_per_million(sizing.measured_ms, sizing.memory_mb)
        assert question.options.values[LETTERS.index(correct)] == right
        # The other side of 1,769 MB's rule: no stretch below it, a shrink above it.
        below = sizing.memory_mb < ONE_VCPU_MB
        wrong_ms = sizing.measured_ms * (1 if below else ONE_VCPU_MB / sizing.memory_mb)
        mistakes = [
            cost_of(1_000_000, math.ceil(wrong_ms), sizing.memory_mb).total_usd,
            right - 0.20,  # no request charge
        ]
        assert all(_wrong_or_far(question.options, m, correct) for m in mistakes), learner


def test_the_composed_bill_is_two_invocations_and_its_mistakes_miss(pipeline):
    for learner in LEARNERS:
        homework = homework_for(learner, pipeline)
        question, correct = homework.questions["q11"], homework.correct["q11"]
        bill = question.details["composed"]
        backbone = cost_of(bill.requests, bill.backbone_ms, bill.backbone_mb)
        head = cost_of(bill.requests, bill.head_ms, bill.head_mb)
        right = round(backbone.total_usd + head.total_usd, 2)
        assert round(question.options.values[LETTERS.index(correct)], 2) == right
        assert bill.head_mb < bill.backbone_mb
        mistakes = [
            backbone.total_usd + head.duration_usd,  # one request per prediction
            backbone.total_usd + cost_of(bill.requests, bill.head_ms, bill.backbone_mb).total_usd,
        ]
        assert all(_wrong_or_far(question.options, m, correct) for m in mistakes), learner
    assert len({homework_for(learner, pipeline).questions["q11"].details["composed"]
                for learner in LEARNERS}) == len(LEARNERS)  # fmt: skip


def test_the_api_is_the_one_lesson_08_builds():
    api = gateway.lesson_api()
    assert (api.stage, api.method, api.path) == ("prod", "POST", "/predict")
    assert (api.rate_limit, api.burst_limit, api.quota) == (5, 10, 10_000)
    lesson = " ".join((LESSONS / "08-api-gateway.md").read_text().split())  # lines rewrap
    assert gateway.FORBIDDEN in lesson and gateway.MISSING_TOKEN in lesson


@pytest.mark.parametrize(
    ("method", "path", "key", "count", "at_once", "expected"),
    [
        ("POST", "/prod/predict", gateway.NO_KEY, 1, 1, gateway.FORBIDDEN),
        ("POST", "/prod/predict", gateway.UNKNOWN_KEY, 1, 1, gateway.FORBIDDEN),
        ("GET", "/prod/predict", gateway.VALID_KEY, 1, 1, gateway.MISSING_TOKEN),
        ("GET", "/prod/predict", gateway.NO_KEY, 1, 1, gateway.MISSING_TOKEN),  # route first
        ("POST", "/prod/predicts", gateway.VALID_KEY, 1, 1, gateway.MISSING_TOKEN),
        ("POST", "/prod/predict", gateway.VALID_KEY, 10_001, 1, gateway.LIMIT_EXCEEDED),
        ("POST", "/prod/predict", gateway.VALID_KEY, 10_000, 1, gateway.FUNCTION_ANSWER),
        ("POST", "/prod/predict", gateway.VALID_KEY, 5, 11, gateway.TOO_MANY_REQUESTS),
        ("POST", "/prod/predict", gateway.VALID_KEY, 5, 10, gateway.FUNCTION_ANSWER),
    ],
)
def test_api_gateway_checks_route_then_key_then_usage_plan(
    method, path, key, count, at_once, expected
):
    request = gateway.GatewayRequest(method, path, key, count, at_once)
    assert gateway.gateway_answer(request, gateway.lesson_api()) == expected


def test_every_api_gateway_answer_is_some_learners_and_the_options_show_it(pipeline):
    seen = set()
    for learner in LEARNERS:
        homework = homework_for(learner, pipeline)
        question = homework.questions["q9"]
        answer = gateway.gateway_answer(question.details["gateway_request"], gateway.lesson_api())
        assert question.options.labels()[LETTERS.index(homework.correct["q9"])] == answer
        assert len(set(question.options.labels())) == len(LETTERS)
        seen.add(answer)
    assert seen == set(gateway.ANSWERS)


def test_question_id_ranges_are_shortened():
    assert id_ranges(["q1", "q2", "q3", "q4", "q5", "q7", "q8", "q10"]) == "q1-q5, q7, q8, q10"
    assert id_ranges(["q2"]) == "q2"


# --- The questions page ---------------------------------------------------------------------


def test_the_questions_page_matches_the_code_and_the_model():
    assert update_page(check=True), "homework/README.md is stale: run `make homework-page`"


def test_the_page_and_the_starter_are_linked():
    readme = (ROOT / "README.md").read_text()
    assert "homework/README.md" in readme
    page = (HOMEWORK / "README.md").read_text()
    for name in ("homework.ipynb", "answers.yaml", "Dockerfile.base", "Dockerfile"):
        assert name in page and (HOMEWORK / name).is_file()


def test_the_starter_notebook_follows_the_lesson_layout():
    import nbformat

    notebook = nbformat.read(HOMEWORK / "homework.ipynb", as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert 'learner_id = ""' in tagged[0].source and "answers_file" in tagged[0].source
    assert "run_container = False" in tagged[0].source
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs for cell in code), "commit the starter without outputs"
    for qid in QUESTION_IDS:
        if qid != CONTAINER_QUESTION:  # answered by the recorded container run
            assert any(f'answers["{qid}"] = None' in cell.source for cell in code)
    assert any('answers["q7"] = record_container_run(' in cell.source for cell in code)
    assert notebook.cells[-1].source.startswith("## What we learned")


def test_the_homework_images_are_plain_jpegs_a_handler_accepts():
    for path in sorted((HOMEWORK / "images").iterdir())[:3]:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
