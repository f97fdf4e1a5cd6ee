"""What the benchmark measures: runtimes, models, their variants, and how much of each.

A *configuration* is one runtime serving one model variant, e.g. tflite-runtime
with the course model in float16. Each runtime has its own bundle: the
packages `pip install --target` puts into a Lambda task root, built from one
requirement file. TensorFlow/Keras and `tf.lite` share the TensorFlow bundle.
Two more bundles repeat the TensorFlow and the classic one with compiled
modules (bytecode) shipped, to show what that does to a cold start.
"""

from __future__ import annotations

from dataclasses import dataclass

from serverless_dl.base.lambda_facts import AMAZON_LINUX_2_GLIBC, AMAZON_LINUX_2023_GLIBC
from serverless_dl.base.paths import REQUIREMENTS

VARIANTS = ("f32", "f16", "int8")
VARIANT_NAMES = {"f32": "float32", "f16": "float16", "int8": "dynamic-range int8"}


@dataclass(frozen=True)
class Bundle:
    """The packages of one runtime, from one requirement file, for one Lambda platform."""

    name: str
    requirements: str  # a file in requirements/
    glibc: tuple[int, int]
    lambda_runtime: str  # the managed runtime whose operating system the wheels fit
    bytecode: bool = False  # ships modules compiled for Python 3.11 (zip_bundle.compile_bytecode)

    @property
    def requirement_file(self):
        """The pinned requirement file this bundle installs."""
        return REQUIREMENTS / self.requirements


@dataclass(frozen=True)
class Runtime:
    """One way to run the model inside the function.

    `engine` is empty when the exported handler runs as it is (its own
    LiteRT / tflite-runtime import); otherwise `engine_adapter` plugs in
    `keras`, `tf-lite` or `onnx` behind the same handler code.
    """

    name: str
    title: str
    bundle: Bundle
    model_format: str  # keras, tflite or onnx
    engine: str = ""


BUNDLES = {
    bundle.name: bundle
    for bundle in (
        Bundle("tensorflow", "bench-tensorflow.txt", AMAZON_LINUX_2023_GLIBC, "image"),
        Bundle("tflite-runtime", "lambda-classic.txt", AMAZON_LINUX_2_GLIBC, "python3.11"),
        Bundle("litert", "lambda-modern.txt", AMAZON_LINUX_2023_GLIBC, "python3.12+"),
        Bundle("onnxruntime", "bench-onnxruntime.txt", AMAZON_LINUX_2023_GLIBC, "python3.12+"),
        Bundle("tensorflow-bytecode", "bench-tensorflow.txt", AMAZON_LINUX_2023_GLIBC, "image",
               bytecode=True),
        Bundle("tflite-runtime-bytecode", "lambda-classic.txt", AMAZON_LINUX_2_GLIBC,
               "python3.11", bytecode=True),
    )
}  # fmt: skip

RUNTIMES = {
    runtime.name: runtime
    for runtime in (
        Runtime("keras", "TensorFlow/Keras", BUNDLES["tensorflow"], "keras", engine="keras"),
        Runtime("tf-lite", "tf.lite in TensorFlow", BUNDLES["tensorflow"], "tflite",
                engine="tf-lite"),
        Runtime("tflite-runtime", "tflite-runtime 2.14", BUNDLES["tflite-runtime"], "tflite"),
        Runtime("litert", "LiteRT 2.3", BUNDLES["litert"], "tflite"),
        Runtime("onnxruntime", "ONNX Runtime 1.31", BUNDLES["onnxruntime"], "onnx",
                engine="onnx"),
        # The two ends of the cold-start comparison again, shipping compiled modules.
        Runtime("keras-bytecode", "TensorFlow/Keras + bytecode", BUNDLES["tensorflow-bytecode"],
                "keras", engine="keras"),
        Runtime("tflite-runtime-bytecode", "tflite-runtime 2.14 + bytecode",
                BUNDLES["tflite-runtime-bytecode"], "tflite"),
    )
}  # fmt: skip
BYTECODE_RUNTIMES = ("keras-bytecode", "tflite-runtime-bytecode")

# The course model, and one of MobileNetV2's size (2.3 million parameters at 224x224,
# untrained: only its size, speed and agreement between formats mean anything).
MODELS = {"clothing": 96, "mobilenetv2": 224}  # name -> input size in pixels
# The exported handler's own configuration: the classic path of the course.
HANDLER_CONFIGURATION = ("tflite-runtime", "clothing", "f32")


@dataclass(frozen=True)
class Configuration:
    """One runtime serving one variant of one model."""

    runtime: str
    model: str
    variant: str

    @property
    def key(self) -> str:
        """The configuration's name in results: runtime/model/variant."""
        return f"{self.runtime}/{self.model}/{self.variant}"

    @property
    def uses_tensorflow(self) -> bool:
        """True when the runtime runs the model with TensorFlow itself."""
        return RUNTIMES[self.runtime].bundle.name == "tensorflow"


def configurations(quick: bool) -> list[Configuration]:
    """Every configuration of a run.

    Full: every runtime with every variant of both models, and the bytecode
    bundles with the course model in float32. Quick: the course model in
    float32 on each of the five runtimes, without the bytecode bundles.
    """
    chosen = []
    for model in ("clothing",) if quick else tuple(MODELS):
        for runtime in RUNTIMES.values():
            if runtime.name in BYTECODE_RUNTIMES:
                continue
            # A Keras model has no float16 or dynamic-range variant of its own.
            variants = ("f32",) if quick or runtime.model_format == "keras" else VARIANTS
            chosen += [Configuration(runtime.name, model, variant) for variant in variants]
    if not quick:
        chosen += [Configuration(name, "clothing", "f32") for name in BYTECODE_RUNTIMES]
    return chosen


@dataclass(frozen=True)
class Settings:
    """How much to measure."""

    quick: bool
    repeats: int  # cold starts per configuration, each followed by `warm` invocations
    warm: int  # warm invocations per repeat
    bare: int  # in-process inferences of the bare interpreter baseline
    zipped_sizes: bool  # compress every bundle to measure it (about a minute for TensorFlow)

    @property
    def mode(self) -> str:
        """The plan's name in results: quick or full."""
        return "quick" if self.quick else "full"


FULL = Settings(quick=False, repeats=3, warm=200, bare=200, zipped_sizes=True)
QUICK = Settings(quick=True, repeats=1, warm=20, bare=20, zipped_sizes=False)
