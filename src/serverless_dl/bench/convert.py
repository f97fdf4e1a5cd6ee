"""The benchmark's model files and Keras's own answers on the test set (needs TensorFlow).

Runs in the course environment, as its own process, so that TensorFlow never
shares the measuring process; `serverless_dl.bench.models` starts it with the
converters of `requirements/bench-tools.txt` on `PYTHONPATH`. For one model it
writes into `--out`:

- `<model>.keras`, the Keras model (for `mobilenetv2`, built here first);
- `<model>-{f32,f16,int8}.tflite`, converted as lesson 02 converts (int8 is
  dynamic-range quantization that tflite-runtime 2.14 can load); the course
  model uses the committed files in `models/` instead;
- `<model>-{f32,f16,int8}.onnx`: Keras -> SavedModel -> tf2onnx (as lesson 03
  converts, `serverless_dl.data.onnx_model`), then
  float16 weights (onnxconverter-common) and dynamic-range int8 weights
  (ONNX Runtime's `quantize_dynamic`);
- `reference.json`: the test images and Keras's top-1 class for each.

The MobileNetV2 stands in for a model of a common production size (2.3
million parameters, 224x224). Nothing can be downloaded here, so it is not
pretrained: its random weights are made to give input-dependent answers
(batch-norm statistics taken from training images, the last layer fitted to
them for a few seconds) so that agreement between formats is a real check.
Its accuracy means nothing.

Command line::

    python -m serverless_dl.bench.convert MODEL --out DIR
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from serverless_dl.base.paths import MODELS  # noqa: E402
from serverless_dl.bench.plan import VARIANTS  # noqa: E402
from serverless_dl.data.clothing import CLASSES  # noqa: E402
from serverless_dl.data.dataset import ensure_dataset, load_split  # noqa: E402
from serverless_dl.data.onnx_model import keras_to_onnx  # noqa: E402

COURSE_KERAS_MODEL = MODELS / "clothing-model.keras"
COURSE_TFLITE_FILES = {
    "f32": MODELS / "clothing-model.tflite",
    "f16": MODELS / "clothing-model-float16.tflite",
    "int8": MODELS / "clothing-model-dynamic-range.tflite",
}
SEED = 1
TRAINING_IMAGES_PER_CLASS = 30  # to fit MobileNetV2's last layer
STATISTICS_IMAGES_PER_CLASS = 2  # for its batch-norm statistics


def tflite_bytes(model, variant: str) -> bytes:
    """Convert a Keras model to TFLite: f32, f16 (float16 weights) or int8 (dynamic range)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant in ("f16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "f16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        # Per-channel dense weights need FULLY_CONNECTED version 12, newer than tflite-runtime 2.14.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with contextlib.redirect_stdout(io.StringIO()):  # the converter narrates its temporary files
        return converter.convert()


def onnx_files(model, stem: Path) -> dict[str, Path]:
    """Write `<stem>-f32.onnx`, `-f16.onnx` and `-int8.onnx`; return them by variant."""
    import onnx
    from onnxconverter_common import float16
    from onnxruntime.quantization import QuantType, quantize_dynamic

    files = {variant: stem.with_name(f"{stem.name}-{variant}.onnx") for variant in VARIANTS}
    keras_to_onnx(model, files["f32"])  # as lesson 03 converts the course model
    half = float16.convert_float_to_float16(onnx.load(files["f32"]), keep_io_types=True)
    onnx.save(half, files["f16"])
    with contextlib.redirect_stderr(io.StringIO()):  # advice to pre-process: not for this model
        quantize_dynamic(files["f32"], files["int8"], weight_type=QuantType.QInt8)
    return files


def scaled(images: np.ndarray) -> np.ndarray:
    """Pixels 0..255 -> -1..1, the scaling of the course model and of MobileNetV2 alike."""
    return keras.applications.xception.preprocess_input(images.astype("float32"))


def build_mobilenetv2(size: int, dataset_dir: Path) -> keras.Model:
    """An untrained MobileNetV2 whose answers depend on the input (see the module docstring)."""
    keras.utils.set_random_seed(SEED)
    model = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), weights=None, classes=len(CLASSES)
    )
    images, labels, _ = load_split(dataset_dir, "train", size, TRAINING_IMAGES_PER_CLASS)
    batch = scaled(images)
    # With momentum 0, one training-mode pass sets every moving statistic to this batch's.
    # A small batch: a training-mode pass keeps every activation (about 90 MB per image).
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    model(batch[::TRAINING_IMAGES_PER_CLASS // STATISTICS_IMAGES_PER_CLASS], training=True)
    for layer in norms:
        layer.momentum = 0.99
    features = keras.Model(model.inputs, model.layers[-2].output).predict(
        batch, verbose=0, batch_size=25
    )
    head = keras.Sequential([keras.Input(features.shape[1:]), keras.layers.Dense(len(CLASSES))])
    head.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    head.fit(features, labels, epochs=100, batch_size=len(features), verbose=0)
    model.layers[-1].set_weights(head.layers[-1].get_weights())
    return model


def reference(model, dataset_dir: Path) -> dict:
    """The test images (paths) and Keras's top-1 class index for each."""
    size = model.input_shape[1]
    images, labels, paths = load_split(dataset_dir, "test", size)
    top1 = model.predict(scaled(images), verbose=0, batch_size=50).argmax(axis=1)
    return {
        "images": [str(path) for path in paths],
        "labels": labels.tolist(),
        "keras_top1": top1.tolist(),
        "keras_accuracy": float((top1 == labels).mean()),
        "keras_distinct_answers": int(len(set(top1.tolist()))),
    }


def convert(name: str, size: int, out: Path) -> dict:
    """Write every file of model `name` into `out`; return the manifest (also written)."""
    out.mkdir(parents=True, exist_ok=True)
    dataset_dir = ensure_dataset()
    if name == "clothing":  # the committed files, exactly what the course deploys
        model = keras.models.load_model(COURSE_KERAS_MODEL)
        files = {"keras": {"f32": COURSE_KERAS_MODEL}, "tflite": COURSE_TFLITE_FILES}
    else:
        model = build_mobilenetv2(size, dataset_dir)
        files = {"keras": {"f32": out / f"{name}.keras"}, "tflite": {}}
        model.save(files["keras"]["f32"])
        for variant in VARIANTS:
            files["tflite"][variant] = out / f"{name}-{variant}.tflite"
            files["tflite"][variant].write_bytes(tflite_bytes(model, variant))
    files["onnx"] = onnx_files(model, out / name)
    manifest = {
        "model": name,
        "input_size": size,
        "parameters": int(model.count_params()),
        "files": {fmt: {v: str(p) for v, p in paths.items()} for fmt, paths in files.items()},
        "reference": reference(model, dataset_dir),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Write one model's Keras, TFLite and ONNX files from the command line."""
    parser = argparse.ArgumentParser(description="Write the benchmark's model files.")
    parser.add_argument("model", choices=("clothing", "mobilenetv2"))
    parser.add_argument("--size", type=int, required=True, help="input size in pixels")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    tf.get_logger().setLevel("ERROR")
    convert(args.model, args.size, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
