"""Train the homework model: is this fabric swatch striped or dotted?

`make homework-model` runs this module. It draws the swatches (the pool images
the questions ask about, in `homework/images/`, and a training and validation
set that stays in memory), trains a small CNN and saves it as
`homework/homework-model.keras`. About a minute on two cores.

The model is deliberately unlike the lesson's: two classes with one sigmoid
output (the probability of "dots"), a 150 x 150 input and pixels scaled with
x / 255. Training uses label smoothing, so the outputs stay away from exactly
0 and 1 and a question about them needs the computation, not a guess.

Command line::

    python -m serverless_dl.homework.train [--epochs N] [--out PATH] [--images DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np

from serverless_dl.base.paths import HOMEWORK
from serverless_dl.data.dataset import load_image
from serverless_dl.homework.swatches import LABELS, generate_swatch, jpeg_bytes, write_pool

MODEL_PATH = HOMEWORK / "homework-model.keras"
POOL_DIR = HOMEWORK / "images"
INPUT_SIZE = 150
PER_LABEL = {"train": 300, "validation": 100}
EPOCHS = 10
BATCH_SIZE = 8  # small batches: more steps per epoch, which this tiny dataset needs
LABEL_SMOOTHING = 0.2
SEED = 42
MINIMUM_ACCURACY = 0.9


def load_split(split: str, per_label: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 150, 150, 3) scaled to 0..1 and labels (1 = dots), through JPEG as served."""
    images, labels = [], []
    for target, label in enumerate(LABELS):
        for index in range(per_label):
            data = jpeg_bytes(generate_swatch(label, split, index))
            images.append(load_image(io.BytesIO(data), INPUT_SIZE))
            labels.append(target)
    return np.stack(images).astype("float32") / 255.0, np.array(labels, dtype="float32")


def build_model():
    """A small CNN: four convolutions, global max pooling, one sigmoid unit."""
    import keras
    from keras import layers

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="swatch")
    x = inputs
    for filters in (8, 16, 32):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling2D()(x)  # "is there a dot anywhere?"
    outputs = layers.Dense(1, activation="sigmoid", name="dots")(x)
    return keras.Model(inputs, outputs, name="homework_swatches")


def train(epochs: int = EPOCHS, verbose: int = 2):
    """Train from scratch with fixed seeds; return the model and its validation accuracy."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train = load_split("train", PER_LABEL["train"])
    x_val, y_val = load_split("validation", PER_LABEL["validation"])
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(label_smoothing=LABEL_SMOOTHING),
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=BATCH_SIZE,
        verbose=verbose,
    )
    predictions = model.predict(x_val, verbose=0)[:, 0]
    accuracy = float(((predictions >= 0.5) == (y_val == 1)).mean())
    return model, accuracy


def save_without_optimizer(model, path: Path) -> None:
    """Save only the architecture and weights: a learner needs no optimizer state."""
    import keras

    inference = keras.Model.from_config(model.get_config())
    inference.set_weights(model.get_weights())
    path.parent.mkdir(parents=True, exist_ok=True)
    inference.save(path)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m serverless_dl.homework.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help=f"default {MODEL_PATH}")
    parser.add_argument("--images", type=Path, default=POOL_DIR, help=f"default {POOL_DIR}")
    args = parser.parse_args(argv)
    # tf.data logs a harmless "NodeDef mentions attribute" error per run; level 3 keeps it out.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from serverless_dl.base import environment  # noqa: F401 - quiets TensorFlow before its import

    paths = write_pool(args.images)
    print(f"wrote {len(paths)} images to {args.images}")
    model, accuracy = train(args.epochs)
    print(f"validation accuracy: {accuracy:.3f}")
    if accuracy < MINIMUM_ACCURACY:
        print(f"error: accuracy below {MINIMUM_ACCURACY}; the model was not saved", file=sys.stderr)
        return 1
    save_without_optimizer(model, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
