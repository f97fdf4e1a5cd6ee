"""The homework questions, personalised per learner, with options computed from the answers.

Seven multiple-choice questions in the spirit of the anchor course's
homework, each on a value that is the same on any machine with the pinned
versions: q1-q3 are about the model and the same for everybody; q4-q7 ask
about an image, a pixel, a channel and an event that follow from the
learner's id, so answers cannot be copied from someone else.

Every choice comes from a SHA-256 hash of the learner id and the purpose
(`_draw`), not from a random generator whose stream could change between
library versions: the same id gives the same homework forever.

Every correct value is computed by `ReferencePipeline`; nothing here is typed
in by hand except the questions themselves.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import textwrap
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from serverless_dl.homework.options import (
    LETTERS,
    NumericOptions,
    nice_step,
    numeric_options,
)
from serverless_dl.homework.reference import ReferencePipeline, reference_pipeline
from serverless_dl.homework.swatches import pool_entries

SALT = "serverless-dl-homework/v1"
QUESTION_IDS = ("q1", "q2", "q3", "q4", "q5", "q6", "q7")
POINTS = dict.fromkeys(QUESTION_IDS, 1)
MAX_POINTS = sum(POINTS.values())
CHANNELS = ("red", "green", "blue")
PIXEL_STEP = 13 / 255  # a multiple of 1/255, so every pixel option is a possible pixel value
OUTPUT_STEP = 0.01
MISTAKE_MARGIN = 0.75  # a common mistake must land at least this many steps from the answer
PIXEL_ATTEMPTS = 5000
_LEARNER_ID = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")

# Events for q7. The course's handler refuses each without any network traffic,
# so its answer is the same on every machine (no loopback: local runs allow it).
EVENTS = (
    {},
    {"url": ""},
    {"url": "ftp://images.example.com/swatch.jpg"},
    {"url": "file:///etc/passwd"},
    {"url": "http://learner:secret@images.example.com/swatch.jpg"},
    {"url": "http://images.example.com:99999/swatch.jpg"},
    {"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
    {"url": "http://10.0.0.8/swatch.jpg"},
    {"url": "http://192.168.1.20/swatch.jpg"},
    {"url": "http://0.0.0.0/swatch.jpg"},
    {"url": "http://[fd00::7]/swatch.jpg"},
    ["http://images.example.com/swatch.jpg"],
    {
        "httpMethod": "POST",
        "path": "/predict",
        "requestContext": {"stage": "prod"},
        "headers": {"Content-Type": "application/json"},
        "body": "swatch.jpg",
        "isBase64Encoded": False,
    },
    {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST"}},
        "body": "",
        "isBase64Encoded": False,
    },
)

TOPICS = {
    "q1": "Size of the TFLite model",
    "q2": "Output tensor index",
    "q3": "Target size",
    "q4": "A pixel after preprocessing",
    "q5": "Output for an image fetched by URL",
    "q6": "Your function in a container",
    "q7": "The handler's error response",
}

TEXTS = {
    "q1": "Convert homework/homework-model.keras to TensorFlow Lite with "
    "tf.lite.TFLiteConverter.from_keras_model, without optimizations (float32). What is the "
    "size of the .tflite file in KiB (1 KiB = 1024 bytes)?",
    "q2": "Load your .tflite file in a TFLite interpreter (LiteRT or tflite-runtime) and "
    "allocate its tensors. What is the index of the output tensor?",
    "q3": "Which input size does the model expect? Give the side of its square input, in pixels.",
    "q4": "Prepare {image} as the homework model expects: open it as RGB, resize it to the "
    "model's input size with nearest-neighbour interpolation (as keras.utils.load_img does), "
    "convert to float32, divide by 255 and add a batch axis. What is "
    "x[0, {row}, {column}, {channel}], the {channel_name} value of the pixel in row {row}, "
    "column {column}?",
    "q5": "Fetch {image} by URL (the starter notebook serves homework/images/ on 127.0.0.1), "
    "prepare it as in q4 and run your TFLite model on it. What is the model's output, the "
    "probability that the swatch is dotted?",
    "q6": "Build the homework base image (homework/Dockerfile.base, with your converted model), "
    "build your function image FROM it with your handler, run it through its Runtime Interface "
    'Emulator and invoke it with {{"url": ...}} pointing at {image}. Which model output does '
    "your function return?",
    "q7": "Invoke your function with the event below. Which answer (HTTP status and error "
    "message) does the course's hardened handler from lesson 04 give? Yours should give the "
    "same.",
}

HINTS = {
    "q1": "convert with tf.lite.TFLiteConverter.from_keras_model(model).convert() and divide "
    "the file's byte count by 1024",
    "q2": "load the .tflite file in an Interpreter, call allocate_tensors(), then read "
    "get_output_details()",
    "q3": "read the model's input shape (model.input_shape, or the interpreter's input details)",
    "q4": "resize with Image.NEAREST to the model's input size before dividing by 255; "
    "x[0, row, column, channel] with red=0, green=1, blue=2",
    "q5": "preprocess as in q4, then set_tensor, invoke and get_tensor(output index)[0][0]",
    "q6": 'invoke the container\'s emulator with {"url": ...}; run it with '
    "ALLOW_LOOPBACK_URLS=1 so it may fetch from 127.0.0.1",
    "q7": "send exactly the event shown; lesson 04's handler answers "
    '{"error": {"status": ..., "message": ...}}',
}


class LearnerIdError(ValueError):
    """A learner id that cannot be used; the message says why in one line."""


def normalise_learner_id(value) -> str:
    """The learner id as the homework uses it: trimmed and lower-case.

    Raises `LearnerIdError` for anything that is not a short piece of text
    made of letters, digits and `. _ @ + -`.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise LearnerIdError("learner_id is missing: write the id you were given")
    if not isinstance(value, str):
        # YAML reads 007 as the number 7: insisting on text keeps the id exactly as written.
        raise LearnerIdError(f'learner_id must be text; put it in quotes: learner_id: "{value}"')
    learner_id = value.strip().lower()
    if not _LEARNER_ID.fullmatch(learner_id):
        raise LearnerIdError(
            f"learner_id {value.strip()[:40]!r} may only contain letters, digits and . _ @ + - "
            "(at most 64 characters)"
        )
    return learner_id


def _draw(learner_id: str, purpose: str, attempt: int = 0) -> int:
    """A large integer that depends only on the learner id, the purpose and the attempt."""
    text = f"{SALT}|{learner_id}|{purpose}|{attempt}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class ChoiceOptions:
    """Four answers given as text (q7), in alphabetical order."""

    values: tuple[str, ...]

    def shown(self, index: int) -> str:
        """Option `index` as the learner sees it."""
        return self.values[index]

    def labels(self) -> list[str]:
        """Every option as shown, in letter order."""
        return list(self.values)


@dataclass(frozen=True)
class Question:
    """One personalised question: what to compute, the options, a hint for a wrong answer."""

    id: str
    topic: str
    text: str
    options: NumericOptions | ChoiceOptions
    hint: str
    details: dict = field(default_factory=dict)

    @property
    def points(self) -> int:
        """Points for a right answer."""
        return POINTS[self.id]

    @property
    def numeric(self) -> bool:
        """True if a number may be given instead of a letter (the closest option counts)."""
        return isinstance(self.options, NumericOptions)

    def render(self, width: int = 88) -> str:
        """The question as text: title, prompt and lettered options."""
        plural = "s" if self.points != 1 else ""
        lines = [f"{self.id} · {self.topic} ({self.points} point{plural})"]
        lines += textwrap.wrap(self.text, width, initial_indent="  ", subsequent_indent="  ")
        if "event" in self.details:
            lines.append(f"  event: {json.dumps(self.details['event'])}")
        labels = [
            f"{letter}) {label}"
            for letter, label in zip(LETTERS, self.options.labels(), strict=True)
        ]
        if self.numeric:
            unit = f"  ({self.options.unit})" if self.options.unit else ""
            lines.append("    " + "    ".join(labels) + unit)
        else:
            lines += [f"    {label}" for label in labels]
        return "\n".join(lines)


@dataclass(frozen=True)
class Homework:
    """A learner's questions and the letters of their correct options."""

    learner_id: str
    questions: dict[str, Question]
    correct: dict[str, str]

    def render(self) -> str:
        """All questions as text, with the rule for answering."""
        header = (
            f"Homework for learner {self.learner_id!r}: {len(self.questions)} questions, "
            f"{MAX_POINTS} points. Answer each in homework/answers.yaml with the letter of "
            "the closest option (A-D), or with the value you computed for q1-q6."
        )
        body = [textwrap.fill(header, 88)]
        body += [question.render() for question in self.questions.values()]
        return "\n\n".join(body)


def _pool_names() -> list[str]:
    return [name for name, _, _ in pool_entries()]


def _common_mistakes(pipeline: ReferencePipeline, name: str) -> dict[str, np.ndarray]:
    """The image as the usual preprocessing mistakes leave it (uint8, before / 255)."""
    size = pipeline.input_size
    with Image.open(pipeline.image_path(name)) as image:
        rgb = image.convert("RGB")
        return {
            "nearest": pipeline.pixels(name),
            "not resized": np.asarray(rgb),
            "bilinear": np.asarray(rgb.resize((size, size), Image.BILINEAR)),
            "bicubic": np.asarray(rgb.resize((size, size), Image.BICUBIC)),
        }


def pixel_variant(learner_id: str, pipeline: ReferencePipeline) -> tuple[dict, int]:
    """Image, row, column and channel for q4, and the pixel's value (0-255) there.

    They are chosen so that common mistakes give wrong options.

    Candidates come one after another from the learner's hash; the first one
    where skipping the resize, resizing bilinearly or bicubically, swapping
    row and column, or reading the channels as BGR all land at least
    `MISTAKE_MARGIN` steps away from the right value is taken.
    """
    names = _pool_names()
    name = names[_draw(learner_id, "q4-image") % len(names)]
    arrays = _common_mistakes(pipeline, name)
    nearest, size = arrays["nearest"], pipeline.input_size
    for attempt in range(PIXEL_ATTEMPTS):
        row = _draw(learner_id, "q4-row", attempt) % size
        column = _draw(learner_id, "q4-column", attempt) % size
        channel = _draw(learner_id, "q4-channel", attempt) % 3
        value = int(nearest[row, column, channel])
        mistakes = [arrays[key][row, column, channel] for key in arrays if key != "nearest"]
        mistakes.append(nearest[column, row, channel])
        if channel != 1:
            mistakes.append(nearest[row, column, 2 - channel])
        if all(abs(int(m) - value) / 255 >= MISTAKE_MARGIN * PIXEL_STEP for m in mistakes):
            return {"image": name, "row": row, "column": column, "channel": channel}, value
    raise RuntimeError(f"no discriminating pixel in {name} for {learner_id!r}")


@functools.lru_cache(maxsize=4)
def _event_answers(pipeline: ReferencePipeline) -> tuple[str, ...]:
    return tuple(pipeline.handler_answer(event) for event in EVENTS)


def _error_question(learner_id: str, pipeline: ReferencePipeline) -> tuple[Question, str]:
    answers = _event_answers(pipeline)
    mine = _draw(learner_id, "q7-event") % len(EVENTS)
    others = sorted(
        (i for i in range(len(EVENTS)) if i != mine),
        key=lambda i: _draw(learner_id, "q7-order", i),
    )
    chosen = [answers[mine]]
    for index in others:
        if answers[index] not in chosen:
            chosen.append(answers[index])
        if len(chosen) == len(LETTERS):
            break
    values = tuple(sorted(chosen))
    details = {"event": EVENTS[mine]}
    question = Question(
        "q7", TOPICS["q7"], TEXTS["q7"], ChoiceOptions(values), HINTS["q7"], details
    )
    return question, LETTERS[values.index(answers[mine])]


def homework_for(learner_id: str, pipeline: ReferencePipeline | None = None) -> Homework:
    """The homework of `learner_id` (normalised first), with its correct letters."""
    learner_id = normalise_learner_id(learner_id)
    return _homework(learner_id, pipeline or reference_pipeline())


@functools.lru_cache(maxsize=256)
def _homework(learner_id: str, pipeline: ReferencePipeline) -> Homework:
    questions, correct = {}, {}
    size_kib = pipeline.size_bytes / 1024
    # The same for every learner, options included: (answer, step, decimals, lowest, unit).
    shared = {
        "q1": (size_kib, nice_step(0.12 * size_kib), 1, 0.0, "KiB"),
        "q2": (pipeline.output_index, 1, 0, 0.0, ""),
        "q3": (pipeline.input_size, nice_step(0.15 * pipeline.input_size), 0, 1.0, "pixels"),
    }
    for qid, (answer, step, decimals, lowest, unit) in shared.items():
        seed = _draw("", f"{qid}-slot")
        options, correct[qid] = numeric_options(
            answer, step, seed, decimals=decimals, lower=lowest, unit=unit
        )
        questions[qid] = Question(qid, TOPICS[qid], TEXTS[qid], options, HINTS[qid])
    pixel, pixel_value = pixel_variant(learner_id, pipeline)
    names = _pool_names()
    by_url = names[_draw(learner_id, "q5-image") % len(names)]
    rest = [name for name in names if name != by_url]
    in_container = rest[_draw(learner_id, "q6-image") % len(rest)]
    # Personal, on values between 0 and 1: (what is asked about, answer, step).
    personal = {
        "q4": (pixel, pixel_value / 255, PIXEL_STEP),
        "q5": ({"image": by_url}, pipeline.predict(by_url), OUTPUT_STEP),
        "q6": ({"image": in_container}, pipeline.predict(in_container), OUTPUT_STEP),
    }
    for qid, (details, answer, step) in personal.items():
        seed = _draw(learner_id, f"{qid}-slot")
        options, correct[qid] = numeric_options(
            answer, step, seed, decimals=4, lower=0.0, upper=1.0
        )
        text = TEXTS[qid].format(**details, channel_name=CHANNELS[details.get("channel", 0)])
        questions[qid] = Question(qid, TOPICS[qid], text, options, HINTS[qid], details)
    questions["q7"], correct["q7"] = _error_question(learner_id, pipeline)
    return Homework(learner_id, questions, correct)
