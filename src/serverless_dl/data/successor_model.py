"""The successor of last week's model: the same network retrained on a richer dataset (lesson 10).

Retraining is how a model gets its next version. Here the network of lesson 00,
unchanged, is trained from scratch on twice the training images: last week's
5,000 plus 5,000 more that the generator draws with another seed (more shapes,
fabrics and backgrounds, never the test images). Both models are then scored on
the same test set, the 500 test images of lesson 00, which never changes.

It writes three files beside last week's model:

- `models/clothing-v2.keras`: the retrained model;
- `models/clothing-v2.tflite`: its float32 TFLite conversion, what the function serves;
- `models/clothing-v2.json`: the record of the run: the weights' digest, both
  models' test accuracy, the model version the handler will report (the first
  12 hex characters of the SHA-256 of the .tflite file) and the digest of a
  short run of the same code.

Training is seeded and uses deterministic ops, so on this machine type a
retrain gives the same weights bit for bit. A full retrain takes five to ten
minutes on two cores, too long for every test run, so `--check` does what
stays quick: it converts the committed Keras model again and compares bytes
with the committed .tflite file, compares the committed weights with the
recorded digest, and repeats the short run (two epochs on 100 images per class
of each source), whose weights must equal the recorded short-run digest. A
change to the network, the data, the seeds or the training code changes that
digest. On a CPU that rounds differently the digest may differ although
nothing changed; then the short run's test accuracy must be within 0.05 of
the recorded one, and the check says so.

Command line (`make successor-model`; the tests run `--check`)::

    python -m serverless_dl.data.successor_model           # retrain; write models/clothing-v2.*
    python -m serverless_dl.data.successor_model --check   # exit 1 if the committed files drifted
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from serverless_dl.base.paths import BUILD, MODELS
from serverless_dl.data.clothing import CLASSES, generate_dataset
from serverless_dl.data.conversion import tflite_bytes
from serverless_dl.data.dataset import ensure_dataset, load_split

LAST_WEEKS_MODEL = MODELS / "clothing-model.keras"
KERAS_MODEL = MODELS / "clothing-v2.keras"
TFLITE_MODEL = MODELS / "clothing-v2.tflite"
RECORD = MODELS / "clothing-v2.json"
EXTRA_DATASET = BUILD / "clothing-dataset-extra"

SIZE = 96
SEED = 1  # the training seed of last week's model
EXTRA_SEED = 2  # the generator's seed for the extra images: new pictures, same classes
EXTRA_PER_CLASS = 500
EPOCHS = 6
BATCH_SIZE = 16
SHORT_PER_CLASS = 100  # per class and source in the short run of --check
SHORT_EPOCHS = 2
# On a CPU that rounds differently, a short run's test accuracy may differ from the record
# by this much (25 of the 500 test images); a change to the training moves it further.
SHORT_RUN_TOLERANCE = 0.05


def model_version(tflite_bytes: bytes) -> str:
    """The model version the handler reports: 12 hex characters of the file's SHA-256."""
    return hashlib.sha256(tflite_bytes).hexdigest()[:12]


def make_model():
    """The network of lesson 00 (shown there in full): five convolutions, Dense(128), softmax."""
    import keras

    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = keras.layers.Conv2D(12, 5, strides=2, padding="same", activation="relu")(inputs)
    for filters in (24, 48, 96, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax")(x)
    return keras.Model(inputs, outputs, name="clothing_cnn")


def _preprocessed(dataset: Path, split: str, per_class: int | None = None):
    from keras.applications.xception import preprocess_input

    images, labels, _ = load_split(dataset, split, SIZE, per_class=per_class)
    return preprocess_input(images.astype("float32")), labels


def test_set():
    """The test images of lesson 00, preprocessed, and their labels: the one test set."""
    return _preprocessed(ensure_dataset(), "test")


def training_set(per_class: int | None, extra_dataset: Path):
    """Last week's training images plus the extra ones (`per_class` of each, None for all)."""
    import numpy as np

    extra_count = EXTRA_PER_CLASS if per_class is None else per_class
    extra = generate_dataset(extra_dataset, seed=EXTRA_SEED, counts={"train": extra_count})
    x_old, y_old = _preprocessed(ensure_dataset(), "train", per_class)
    x_new, y_new = _preprocessed(extra, "train", per_class)
    return np.concatenate([x_old, x_new]), np.concatenate([y_old, y_new])


def train(x_train, y_train, epochs: int):
    """Train the network from scratch, seeded and with deterministic ops, as lesson 00 does."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    model = make_model()
    steps = epochs * -(-len(x_train) // BATCH_SIZE)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, shuffle=True, verbose=0)
    return model


def accuracy(model, x_test, y_test) -> float:
    """Top-1 accuracy of a Keras model on the given images."""
    return float((model.predict(x_test, verbose=0).argmax(axis=1) == y_test).mean())


def short_run_digest() -> tuple[str, float]:
    """Weights digest and test accuracy of the short run that `--check` repeats."""
    from serverless_dl.data.fingerprint import weights_digest

    with tempfile.TemporaryDirectory() as folder:
        x_train, y_train = training_set(SHORT_PER_CLASS, Path(folder) / "extra")
    model = train(x_train, y_train, SHORT_EPOCHS)
    x_test, y_test = test_set()
    return weights_digest(model), accuracy(model, x_test, y_test)


def regenerate(models_dir: Path = MODELS, log=print) -> dict:
    """Retrain the successor in full, write its three files to `models_dir`; return the record."""
    import keras

    from serverless_dl.data.fingerprint import weights_digest

    short_digest, short_accuracy = short_run_digest()
    x_train, y_train = training_set(None, EXTRA_DATASET)
    log(f"training on {len(x_train)} images, {EPOCHS} epochs ...")
    model = train(x_train, y_train, EPOCHS)
    x_test, y_test = test_set()
    last_week = keras.models.load_model(LAST_WEEKS_MODEL)
    models_dir.mkdir(parents=True, exist_ok=True)
    model.save(models_dir / KERAS_MODEL.name)
    # Converted from the saved file, as lesson 02 converts last week's model and as --check
    # converts again: a model in memory converts to other bytes than the same model loaded.
    tflite = tflite_bytes(keras.models.load_model(models_dir / KERAS_MODEL.name))
    (models_dir / TFLITE_MODEL.name).write_bytes(tflite)
    record = {
        "weights_sha256": weights_digest(model),
        "model_version": model_version(tflite),
        "test_accuracy": round(accuracy(model, x_test, y_test), 4),
        "last_weeks_test_accuracy": round(accuracy(last_week, x_test, y_test), 4),
        "test_images": len(x_test),
        "train_images": len(x_train),
        "extra_seed": EXTRA_SEED,
        "epochs": EPOCHS,
        "seed": SEED,
        "short_run_weights_sha256": short_digest,
        "short_run_test_accuracy": round(short_accuracy, 4),
    }
    (models_dir / RECORD.name).write_text(json.dumps(record, indent=2) + "\n")
    return record


def committed_file_problems(models_dir: Path = MODELS) -> list[str]:
    """How the three committed files disagree with each other (empty: they agree)."""
    import keras

    from serverless_dl.data.fingerprint import weights_digest

    problems = []
    record = json.loads((models_dir / RECORD.name).read_text())
    committed = keras.models.load_model(models_dir / KERAS_MODEL.name)
    tflite = (models_dir / TFLITE_MODEL.name).read_bytes()
    if weights_digest(committed) != record["weights_sha256"]:
        problems.append(f"{KERAS_MODEL.name} does not hold the weights its record names")
    if tflite_bytes(committed) != tflite:
        problems.append(f"{TFLITE_MODEL.name} is not the conversion of {KERAS_MODEL.name}")
    if model_version(tflite) != record["model_version"]:
        problems.append(f"{RECORD.name} names another model version than {TFLITE_MODEL.name}")
    return problems


def check(models_dir: Path = MODELS, log=print) -> list[str]:
    """What differs between the committed successor and what this code makes (empty: nothing)."""
    problems = committed_file_problems(models_dir)
    record = json.loads((models_dir / RECORD.name).read_text())
    digest, short_accuracy = short_run_digest()
    if digest == record["short_run_weights_sha256"]:
        log("the short run reproduced the recorded weights bit for bit")
    else:
        log(f"the short run's weights differ from the record (another CPU rounds differently, "
            f"or the training changed); its test accuracy: {short_accuracy:.3f}")  # fmt: skip
        if abs(short_accuracy - record["short_run_test_accuracy"]) > SHORT_RUN_TOLERANCE:
            problems.append(f"the short run's test accuracy {short_accuracy:.3f} is not the "
                            f"recorded {record['short_run_test_accuracy']:.3f}")  # fmt: skip
    return problems


def main(argv: list[str] | None = None) -> int:
    """Retrain lesson 10's successor model (`make successor-model`), or `--check` the committed one.

    `--check` converts again and repeats a short seeded run, and exits 1 on any difference.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the committed files with a conversion and a short run",
    )
    parser.add_argument("--models-dir", type=Path, default=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.check:
        problems = check(args.models_dir)
        for problem in problems:
            print(f"{problem}; run `make successor-model`", file=sys.stderr)
        if not problems:
            print(f"{KERAS_MODEL.name}, {TFLITE_MODEL.name} and {RECORD.name} are up to date")
        return 1 if problems else 0
    record = regenerate(args.models_dir)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
