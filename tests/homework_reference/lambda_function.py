"""The reference solution's handler: lesson 04's hardened handler, adapted to the homework model.

Everything that guards the request (URL checks, SSRF, timeouts, sizes,
decoding, error answers) is lesson 04's, imported as `course_handler` (a
copy of docker/lambda_function.py). Only classification changes: the
homework model takes 150 x 150 pixels scaled with x / 255 (the input size is
read from the model) and has one sigmoid output, the probability of "dots".
The base image sets MODEL_PATH, so `course_handler` loads the homework model.
"""

import course_handler
import numpy as np
from course_handler import INPUT_HEIGHT, INPUT_INDEX, INPUT_WIDTH, OUTPUT_INDEX, interpreter
from PIL import Image

LABELS = ("stripes", "dots")


def preprocess(image):
    """A batch of one: nearest-neighbour resize to the model's input, then x / 255."""
    image = image.resize((int(INPUT_WIDTH), int(INPUT_HEIGHT)), Image.NEAREST)
    return (np.asarray(image, dtype="float32") / 255.0)[np.newaxis]


def classify(image):
    """The model's output for a Pillow image, and the label it stands for."""
    interpreter.set_tensor(INPUT_INDEX, preprocess(image))
    interpreter.invoke()
    score = float(interpreter.get_tensor(OUTPUT_INDEX)[0][0])
    return {"prediction": LABELS[int(score >= 0.5)], "score": score}


# The lesson's handler looks `classify` up when a request comes in: ours replaces its own.
course_handler.classify = classify
lambda_handler = course_handler.lambda_handler
