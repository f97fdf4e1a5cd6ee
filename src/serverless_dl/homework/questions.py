"""The homework questions, personalised per learner, with options computed from the answers.

Eleven multiple-choice questions, one or two per lesson from 02 to 09 and one on
lesson 11 (the cost of a model composed of two functions), each on a
value that is the same on any machine with the pinned versions: q1-q3 are
about the model and the same for everybody; the others ask about an image, a
pixel, an event, a REPORT line, a request or a memory size that follow from
the learner's id, so answers cannot be copied from someone else.

Every choice comes from a SHA-256 hash of the learner id and the purpose
(`_draw`), not from a random generator whose stream could change between
library versions: the same id gives the same homework forever.

Every correct value is computed by the course's own code: the model answers
by `ReferencePipeline`, the handler's answers by the course's guarded handler,
costs by `serverless_dl.aws.pricing`, API Gateway's answers from lesson 08's
template (`gateway`). Nothing here is typed in by hand except the questions.
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

from serverless_dl.homework import costs, gateway
from serverless_dl.homework.options import (
    LETTERS,
    NumericOptions,
    nice_step,
    numeric_options,
)
from serverless_dl.homework.reference import ReferencePipeline, reference_pipeline
from serverless_dl.homework.swatches import pool_entries

SALT = "serverless-dl-homework/v1"
QUESTION_IDS = tuple(f"q{number}" for number in range(1, 12))
CONTAINER_QUESTION = "q7"  # its value comes from the learner's own container run
POINTS = dict.fromkeys(QUESTION_IDS, 1)
MAX_POINTS = sum(POINTS.values())
CHANNELS = ("red", "green", "blue")
PIXEL_STEP = 13 / 255  # a multiple of 1/255, so every pixel option is a possible pixel value
OUTPUT_STEP = 0.01
MISTAKE_MARGIN = 0.75  # a common mistake must land at least this many steps from the answer
PIXEL_ATTEMPTS = 5000
_LEARNER_ID = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")

# Events for q6. The course's guarded handler refuses each without any network traffic
# (IP literals need no DNS), so its answer is the same on every machine. No loopback
# addresses: local runs allow them (ALLOW_LOOPBACK_URLS), deployments do not.
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
    {"url": "http://2852039166/latest/meta-data/"},
    {"url": "http://0251.0376.0251.0376/latest/meta-data/"},
    {"url": "http://[::ffff:169.254.169.254]/latest/meta-data/"},
    {"url": "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/"},
    {"url": "http://100.64.0.1/swatch.jpg"},
    {"url": "gopher://10.0.0.8:70/_stats"},
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
    "q6": "The guarded handler's answer",
    "q7": "Your function in a container",
    "q8": "The bill from a REPORT line",
    "q9": "API Gateway's answer",
    "q10": "Memory, CPU and cost",
    "q11": "The bill of a composed model",
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
    "q6": "A caller sends the event below to the course's guarded handler "
    "(docker/lambda_function.py with lesson 05's docker/image_source.py). Which answer (HTTP "
    "status and error message) does it give? Work it out from lesson 05's guards, or send it "
    "the event; your own function, which uses the same guards, gives the same answer.",
    "q7": "Write your handler in the homework notebook's cells tagged export (the skeleton's "
    "TODOs), export it to homework/lambda_function.py, build the homework base image "
    "(homework/Dockerfile.base, with your converted model) and your function image FROM it "
    "(homework/Dockerfile, its TODOs done), run it through its Runtime Interface Emulator and "
    'invoke it with {{"url": ...}} pointing at {image}. Which score does your function '
    "return (the model's output, the probability of dots)?",
    "q8": "Your function logged the REPORT line below for one warm request. What do {requests:,} "
    "such requests cost, in US dollars, on {architecture} at Lambda's on-demand prices in "
    "src/serverless_dl/aws/pricing.py (us-east-1, no free tier)? Lambda bills every request, plus "
    "the billed duration times the configured memory in GB-seconds.",
    "q9": "Your API is lesson 08's (docker/template.yaml): {api}. What does the caller get "
    "back for the request below?",
    "q10": "A prediction takes {measured_ms:.1f} ms on one full vCPU, measured as in lesson 13. "
    "Lambda gives a function CPU in proportion to its memory, a full vCPU at {one_vcpu_mb:,} MB, "
    "and bills each request's duration rounded up to the next millisecond. What do a million "
    "warm predictions cost, in US dollars, with {memory_mb:,} MB of memory (x86_64, the prices "
    "in src/serverless_dl/aws/pricing.py, no free tier)?",
    "q11": "As in lesson 11, your model is two functions on x86_64: the caller sends each image "
    "to a backbone function ({backbone_mb:,} MB, {backbone_ms} ms billed) and its answer to a "
    "head function ({head_mb:,} MB, {head_ms} ms billed). What do {requests:,} composed "
    "predictions cost, in US dollars, at the prices in src/serverless_dl/aws/pricing.py "
    "(us-east-1, no free tier)?",
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
    "q6": "follow the event through lesson 05's checks in order (event shape, URL text, scheme, "
    "host, resolved address); the first check that fails gives the answer",
    "q7": "your container's score for your q7 image, recorded by the q7 cells with "
    "run_container = True; preprocess as in q4 inside the handler",
    "q8": "requests x price per request + requests x Billed Duration in seconds x Memory Size "
    "in GB (MB / 1024) x price per GB-second of that architecture; pricing.cost_of does it",
    "q9": "API Gateway checks the route (method, stage, path) first, then the API key, then "
    "the usage plan's quota and throttle; only then does it call the function",
    "q10": "below the memory of a full vCPU the duration grows by that memory / yours, above "
    "it stays as measured; round up to whole ms, then add the request charge",
    "q11": "a composed prediction is two invocations: two request charges, and each function's "
    "billed duration at its own memory; pricing.cost_of for each, then add",
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
    """Four answers given as text (q6, q9), in alphabetical order; `kind` says whose answers."""

    values: tuple[str, ...]
    kind: str

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
        if "report" in self.details:
            lines.append(f"  {self.details['report']}")
        if "request" in self.details:
            request = f"request: {self.details['request']}"
            lines += textwrap.wrap(request, width, initial_indent="  ", subsequent_indent="    ")
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
        numeric = [qid for qid, question in self.questions.items() if question.numeric]
        header = (
            f"Homework for learner {self.learner_id!r}: {len(self.questions)} questions, "
            f"{MAX_POINTS} points. Answer each in homework/answers.yaml with the letter of "
            f"the closest option (A-D), or with the value you computed for {id_ranges(numeric)}."
        )
        body = [textwrap.fill(header, 88)]
        body += [question.render() for question in self.questions.values()]
        return "\n\n".join(body)


def id_ranges(ids: list[str]) -> str:
    """Question ids with runs shortened: q1, q2, q3, q5 -> `q1-q3, q5`."""
    numbers = [int(qid[1:]) for qid in ids]
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    parts = [
        f"q{run[0]}-q{run[-1]}" if len(run) > 2 else ", ".join(f"q{n}" for n in run) for run in runs
    ]
    return ", ".join(parts)


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


def choice_options(
    learner_id: str, qid: str, answers: list[str], mine: int, kind: str
) -> tuple[ChoiceOptions, str]:
    """The answer `answers[mine]` and three different others, drawn for the learner; its letter."""
    others = sorted(
        (i for i in range(len(answers)) if i != mine),
        key=lambda i: _draw(learner_id, f"{qid}-order", i),
    )
    chosen = [answers[mine]]
    for index in others:
        if answers[index] not in chosen:
            chosen.append(answers[index])
        if len(chosen) == len(LETTERS):
            break
    values = tuple(sorted(chosen))
    return ChoiceOptions(values, kind), LETTERS[values.index(answers[mine])]


def _guarded_handler_question(learner_id: str, pipeline: ReferencePipeline) -> tuple[Question, str]:
    answers = list(_event_answers(pipeline))
    mine = _draw(learner_id, "q6-event") % len(EVENTS)
    options, letter = choice_options(
        learner_id, "q6", answers, mine, "answers of the course's guarded handler"
    )
    details = {"event": EVENTS[mine]}
    return Question("q6", TOPICS["q6"], TEXTS["q6"], options, HINTS["q6"], details), letter


def _gateway_question(learner_id: str) -> tuple[Question, str]:
    api = gateway.lesson_api()
    request = gateway.gateway_request(functools.partial(_draw, learner_id), api)
    answers = [*gateway.ANSWERS, *gateway.DISTRACTORS]
    mine = answers.index(gateway.gateway_answer(request, api))
    options, letter = choice_options(learner_id, "q9", answers, mine, "answers of API Gateway")
    text = TEXTS["q9"].format(api=api.describe())
    details = {"request": request.describe(api), "gateway_request": request}
    return Question("q9", TOPICS["q9"], text, options, HINTS["q9"], details), letter


def _money_question(
    learner_id: str, qid: str, answer: float, text: str, details: dict
) -> tuple[Question, str]:
    seed = _draw(learner_id, f"{qid}-slot")
    step = costs.money_step(answer)
    options, letter = numeric_options(answer, step, seed, decimals=2, lower=0.0, unit="USD")
    return Question(qid, TOPICS[qid], text, options, HINTS[qid], details), letter


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
    in_container = rest[_draw(learner_id, "q7-image") % len(rest)]
    # Personal, on values between 0 and 1: (what is asked about, answer, step).
    personal = {
        "q4": (pixel, pixel_value / 255, PIXEL_STEP),
        "q5": ({"image": by_url}, pipeline.predict(by_url), OUTPUT_STEP),
        "q7": ({"image": in_container}, pipeline.predict(in_container), OUTPUT_STEP),
    }
    for qid, (details, answer, step) in personal.items():
        seed = _draw(learner_id, f"{qid}-slot")
        options, correct[qid] = numeric_options(
            answer, step, seed, decimals=4, lower=0.0, upper=1.0
        )
        text = TEXTS[qid].format(**details, channel_name=CHANNELS[details.get("channel", 0)])
        questions[qid] = Question(qid, TOPICS[qid], text, options, HINTS[qid], details)
    questions["q6"], correct["q6"] = _guarded_handler_question(learner_id, pipeline)
    questions["q9"], correct["q9"] = _gateway_question(learner_id)
    draw = functools.partial(_draw, learner_id)
    bill = costs.report_bill(draw)
    text = TEXTS["q8"].format(requests=bill.requests, architecture=bill.architecture)
    details = {"report": bill.line, "bill": bill}
    questions["q8"], correct["q8"] = _money_question(learner_id, "q8", bill.cost(), text, details)
    sizing = costs.memory_sizing(draw)
    text = TEXTS["q10"].format(
        measured_ms=sizing.measured_ms, memory_mb=sizing.memory_mb, one_vcpu_mb=costs.ONE_VCPU_MB
    )
    details = {"sizing": sizing}
    questions["q10"], correct["q10"] = _money_question(
        learner_id, "q10", sizing.cost(), text, details
    )
    composed = costs.composed_bill(draw)
    text = TEXTS["q11"].format(**vars(composed))
    questions["q11"], correct["q11"] = _money_question(
        learner_id, "q11", composed.cost(), text, {"composed": composed}
    )
    ordered = {qid: questions[qid] for qid in QUESTION_IDS}
    return Homework(learner_id, ordered, {qid: correct[qid] for qid in QUESTION_IDS})
