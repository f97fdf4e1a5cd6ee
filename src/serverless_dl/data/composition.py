"""Last week's model cut into a backbone and heads, each a TFLite file (lesson 11).

The classifier ends Flatten -> Dense(128) -> Dense(10). Cut after Dense(128)
and the network becomes two models: a *backbone* that turns an image into 128
features, and a *head* that turns 128 features into the ten class scores. The
same backbone also feeds a head for another task: the fabric of the garment
(`serverless_dl.data.clothing.fabric_pattern` labels every image of the dataset),
trained here on the frozen backbone's features.

Generated files, committed, checked byte for byte by `--check` (the tests run it):

- `models/clothing-backbone.tflite`: image (1, 96, 96, 3) -> features (1, 128);
- `models/clothing-head.tflite` + `.json`: features -> ten class scores;
- `models/clothing-fabric-head.tflite` + `.json`: features -> six fabric scores,
  with its test accuracy and the accuracy of always answering the commonest fabric.

Command line::

    python -m serverless_dl.data.composition            # write the files above (make composition)
    python -m serverless_dl.data.composition --check    # exit 1 if a committed file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from serverless_dl.base.environment import import_tensorflow_quietly
from serverless_dl.base.paths import MODELS
from serverless_dl.data.clothing import CLASSES, FABRIC_PATTERNS, fabric_pattern
from serverless_dl.data.conversion import tflite_bytes
from serverless_dl.data.dataset import ensure_dataset, load_split

KERAS_MODEL = MODELS / "clothing-model.keras"
SINGLE_MODEL = MODELS / "clothing-model.tflite"
BACKBONE_MODEL = MODELS / "clothing-backbone.tflite"
HEAD_MODEL = MODELS / "clothing-head.tflite"
FABRIC_HEAD_MODEL = MODELS / "clothing-fabric-head.tflite"
CUT_LAYER = "dense"  # Dense(128): the last layer before the classifier's own
IMAGE_SIZE = 96
SEED = 1
FABRIC_EPOCHS = 40


def split_model(model, cut: str = CUT_LAYER):
    """(backbone, head): `model` up to and including layer `cut`, and the layers after it.

    Both reuse the layers of `model`, weights included; nothing is retrained.
    """
    import keras

    features = model.get_layer(cut).output
    backbone = keras.Model(model.inputs, features, name="backbone")
    after = model.layers[model.layers.index(model.get_layer(cut)) + 1 :]
    # Explicit names: Keras numbers unnamed layers per process, and the names reach the file.
    head_input = outputs = keras.Input(features.shape[1:], name="features")
    for layer in after:
        outputs = layer(outputs)
    return backbone, keras.Model(head_input, outputs, name="head")


def fabric_head(feature_count: int = 128):
    """A new head for the fabric task: one dense layer with a softmax over the six fabrics."""
    import keras

    return keras.Sequential(
        [
            keras.Input((feature_count,), name="features"),
            keras.layers.Dense(len(FABRIC_PATTERNS), "softmax", name="fabric"),
        ],
        name="fabric_head",
    )


def train_head(head, features: np.ndarray, labels: np.ndarray, epochs: int = FABRIC_EPOCHS):
    """Train `head` on precomputed backbone features: the backbone itself never changes."""
    import keras

    head.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    head.fit(features, labels, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    return head


def preprocessed_split(split: str, per_class: int | None = None):
    """(images, class indices, fabric indices) of one split, scaled as the model expects."""
    images, labels, paths = load_split(ensure_dataset(), split, IMAGE_SIZE, per_class)
    fabrics = [
        FABRIC_PATTERNS.index(fabric_pattern(CLASSES[label], split, int(path.stem[-4:])))
        for label, path in zip(labels, paths, strict=True)
    ]
    # xception's preprocess_input: 0..255 -> -1..1, as lesson 00 trains and the handler serves.
    return images.astype(np.float32) / 127.5 - 1.0, labels, np.array(fabrics)


class TFLiteModel:
    """A TFLite file loaded once into a LiteRT interpreter, run one input at a time."""

    def __init__(self, path: str | Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.interpreter = Interpreter(model_path=str(path))
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """The outputs for `batch` (N, ...), computed one row at a time as a function does."""
        rows = []
        for row in np.asarray(batch, np.float32):
            self.interpreter.set_tensor(self.input_index, row[np.newaxis])
            self.interpreter.invoke()
            rows.append(self.interpreter.get_tensor(self.output_index)[0].copy())
        return np.stack(rows)


def _record(path: Path, task: str, labels, **figures) -> None:
    document = {"task": task, "labels": list(labels), **figures}
    path.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")


def write_models(out_dir: str | Path = MODELS, keras_model: str | Path = KERAS_MODEL) -> Path:
    """Cut `keras_model`, train the fabric head, write the five generated files to `out_dir`."""
    import keras
    import tensorflow as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    backbone, head = split_model(keras.models.load_model(keras_model))
    (out / BACKBONE_MODEL.name).write_bytes(tflite_bytes(backbone))
    (out / HEAD_MODEL.name).write_bytes(tflite_bytes(head))
    _record(out / HEAD_MODEL.name, "garment", CLASSES, parameters=head.count_params())
    x_train, _, fabric_train = preprocessed_split("train")
    x_test, _, fabric_test = preprocessed_split("test")
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    fabric = train_head(fabric_head(), backbone.predict(x_train, verbose=0), fabric_train)
    predicted = fabric.predict(backbone.predict(x_test, verbose=0), verbose=0).argmax(1)
    (out / FABRIC_HEAD_MODEL.name).write_bytes(tflite_bytes(fabric))
    commonest = np.bincount(fabric_test).max() / len(fabric_test)
    _record(out / FABRIC_HEAD_MODEL.name, "fabric", FABRIC_PATTERNS,
            parameters=fabric.count_params(), epochs=FABRIC_EPOCHS, seed=SEED,
            test_accuracy=round(float((predicted == fabric_test).mean()), 4),
            commonest_fabric_accuracy=round(float(commonest), 4))  # fmt: skip
    return out


GENERATED = [BACKBONE_MODEL, HEAD_MODEL, HEAD_MODEL.with_suffix(".json"),
             FABRIC_HEAD_MODEL, FABRIC_HEAD_MODEL.with_suffix(".json")]  # fmt: skip


def out_of_date() -> list[str]:
    """Names of the committed generated files that a fresh `write_models` does not reproduce."""
    with tempfile.TemporaryDirectory() as folder:
        write_models(folder)
        fresh = {path.name: (Path(folder) / path.name).read_bytes() for path in GENERATED}
    return [path.name for path in GENERATED
            if not path.is_file() or path.read_bytes() != fresh[path.name]]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Write lesson 11's models (`make composition`), or with `--check` exit 1 if any is stale."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate and compare bytes")
    args = parser.parse_args(argv)
    import_tensorflow_quietly()
    if not args.check:
        write_models()
        print("\n".join(f"wrote {path.relative_to(MODELS.parent)}" for path in GENERATED))
        return 0
    stale = out_of_date()
    if stale:
        print(f"out of date: {', '.join(stale)}; run `make composition`", file=sys.stderr)
        return 1
    print(f"{len(GENERATED)} files of lesson 11 are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
