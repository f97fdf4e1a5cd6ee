"""Last week's Keras model as an ONNX file, for ONNX Runtime (lesson 03, `make model`).

The converter that works with Keras 3 is tf2onnx, and only by way of a
SavedModel: Keras -> `model.export(folder)` -> `python -m tf2onnx.convert
--saved-model folder`. tf2onnx pins an older protobuf than TensorFlow 2.21
wants, so it is not in the course environment: `converter_tools()` installs
the converters of `requirements/bench-tools.txt` once, with `--no-deps`, into
a folder that goes on `PYTHONPATH` over the course environment (which
provides TensorFlow, NumPy and protobuf). The benchmark converts the same way
(`serverless_dl.bench.convert` calls `keras_to_onnx`).

tf2onnx numbers the nodes it creates from a counter whose values vary from
run to run, lists the small constant tensors in varying order, and records
the temporary SavedModel's path in the graph. Each would make a conversion
differ from the committed file, so `canonical()` names every node and tensor
by its position in the graph, orders the weights the same way and drops that
path: a conversion of the same Keras model is then byte-identical, and
`--check` can compare bytes, as the TFLite drift check does.

Command line (what `make model` runs; the tests run `--check`)::

    python -m serverless_dl.data.onnx_model            # write models/clothing-model.onnx
    python -m serverless_dl.data.onnx_model --check    # exit 1 if the committed file is out of date
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from serverless_dl.base.commands import run_command
from serverless_dl.base.paths import BUILD, MODELS, REQUIREMENTS
from serverless_dl.function.envs import clean_environment

KERAS_MODEL = MODELS / "clothing-model.keras"
ONNX_MODEL = MODELS / "clothing-model.onnx"
TOOLS_REQUIREMENTS = REQUIREMENTS / "bench-tools.txt"
TOOLS_BUILD = BUILD / "bench" / "tools"
ONNX_OPSET = 17  # supported by every ONNX Runtime since 1.12


class ConversionError(RuntimeError):
    """The converters could not be installed, or a conversion failed; the message says why."""


def converter_tools(build: Path = TOOLS_BUILD) -> Path:
    """The folder holding tf2onnx and friends (`requirements/bench-tools.txt`), installed once."""
    digest = hashlib.sha256(hashlib.sha256(TOOLS_REQUIREMENTS.read_bytes()).digest())
    folder = build / digest.hexdigest()[:16]
    if folder.is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    run_command(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-warn-conflicts",
         "--disable-pip-version-check", "--target", partial, "-r", TOOLS_REQUIREMENTS],
        error=ConversionError, what="installing the converters",
    )  # fmt: skip
    partial.rename(folder)
    return folder


def canonical(model):
    """The ONNX `model` with run-independent names and no temporary path (see the module doc)."""
    graph = model.graph
    kept = {value.name for value in [*graph.input, *graph.output]}
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        if name and name not in kept:
            name = names.setdefault(name, f"tensor_{len(names)}")
        return name

    # Names follow the order in which the nodes use the tensors: tf2onnx also lists the
    # weights (initializers) in an order that varies, so they are sorted the same way.
    for number, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{number}"
        node.input[:] = [rename(name) for name in node.input]
        node.output[:] = [rename(name) for name in node.output]
    for initializer in graph.initializer:
        initializer.name = rename(initializer.name)
    initializers = sorted(graph.initializer, key=lambda tensor: int(tensor.name.split("_")[-1]))
    initializers = [type(tensor).FromString(tensor.SerializeToString()) for tensor in initializers]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    for value in [*graph.input, *graph.output]:
        for dimension in value.type.tensor_type.shape.dim:
            if dimension.HasField("dim_param"):
                dimension.dim_param = "batch"  # the open batch dimension, numbered by tf2onnx
    del graph.value_info[:]
    graph.doc_string = ""
    return model


def keras_to_onnx(model, target: Path) -> Path:
    """Write the Keras `model` to `target` as canonical ONNX; needs TensorFlow and the converters.

    Runs in a process that has the converters importable (see `convert()`).
    """
    import onnx

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        saved_model, raw = Path(folder) / "saved-model", Path(folder) / "raw.onnx"
        model.export(str(saved_model), verbose=False)
        run_command(
            [sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved_model,
             "--output", raw, "--opset", ONNX_OPSET],
            error=ConversionError, what="tf2onnx",
        )  # fmt: skip
        onnx.save(canonical(onnx.load(raw)), target)
    return target


def convert(keras_model: str | Path = KERAS_MODEL, target: str | Path = ONNX_MODEL) -> Path:
    """Convert the Keras file `keras_model` to ONNX at `target`, in a process of its own.

    TensorFlow and tf2onnx load in that process, with the converters on its
    `PYTHONPATH`; the caller's process imports neither. Returns `target`.
    """
    target = Path(target).resolve()
    run_command(
        [sys.executable, "-m", "serverless_dl.data.onnx_model", "--keras", keras_model,
         "--out", target, "--in-process"],
        error=ConversionError, what=f"converting {keras_model}",
        env=clean_environment({"PYTHONPATH": str(converter_tools()), "TF_CPP_MIN_LOG_LEVEL": "2"}),
    )  # fmt: skip
    return target


def main(argv: list[str] | None = None) -> int:
    """Convert the Keras model to ONNX (`make model`), or with `--check` exit 1 if it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keras", type=Path, default=KERAS_MODEL, help="the Keras model")
    parser.add_argument("--out", type=Path, default=ONNX_MODEL, help="the ONNX file to write")
    parser.add_argument("--check", action="store_true", help="convert again and compare bytes")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_process:  # the child process of convert(): the converters are importable here
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        keras_to_onnx(keras.models.load_model(args.keras), args.out)
        return 0
    if not args.check:
        print(f"wrote {convert(args.keras, args.out)}")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        fresh = convert(args.keras, Path(folder) / args.out.name).read_bytes()
    if not args.out.is_file() or args.out.read_bytes() != fresh:
        print(f"{args.out} is out of date; run `make model`", file=sys.stderr)
        return 1
    print(f"{args.out} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
