"""The benchmark's model files, made once and kept under `build/bench/models/`.

`serverless_dl.bench.convert` does the work in its own process (it needs
TensorFlow and the converters); this module decides whether it has to run.
A model's folder is named after a digest of everything its files depend on,
so a changed Keras model, converter version or conversion code makes a new one.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base.commands import run_command
from serverless_dl.base.paths import BUILD, MODELS
from serverless_dl.bench.bundles import remove_stale_siblings
from serverless_dl.data import onnx_model
from serverless_dl.data.onnx_model import ConversionError, converter_tools
from serverless_dl.function.envs import clean_environment
from serverless_dl.function.zip_bundle import BundleError

BENCH_BUILD = BUILD / "bench"
CONVERT_SCRIPT = Path(__file__).with_name("convert.py")  # read, not imported: it loads TensorFlow
ONNX_SCRIPT = Path(onnx_model.__file__)  # the ONNX conversion that convert.py calls


@dataclass(frozen=True)
class ModelFiles:
    """One model in every format and variant, and Keras's answers on the test set."""

    name: str
    input_size: int
    parameters: int
    files: dict[str, dict[str, Path]]  # format -> variant -> file
    reference: dict

    def path(self, model_format: str, variant: str) -> Path:
        """The file of `model_format` (keras, tflite, onnx) in `variant`."""
        return self.files[model_format][variant]


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def model_files(
    name: str, size: int, build: Path = BENCH_BUILD, log: Callable[[str], None] = print
) -> ModelFiles:
    """The files of model `name`, converted now unless an up-to-date copy exists."""
    inputs = [CONVERT_SCRIPT.read_bytes(), ONNX_SCRIPT.read_bytes(),
              onnx_model.TOOLS_REQUIREMENTS.read_bytes(),
              name.encode(), str(size).encode()]
    if name == "clothing":
        inputs += [path.read_bytes() for path in sorted(MODELS.glob("clothing-model*"))]
    out = build / "models" / f"{name}-{_digest(*inputs)}"
    remove_stale_siblings(out)
    manifest = out / "manifest.json"
    if not manifest.is_file():
        log(f"converting {name} (Keras, TFLite and ONNX files) ...")
        try:
            tools = converter_tools(build / "tools")
        except ConversionError as error:
            raise BundleError(str(error)) from None
        run_command(
            [sys.executable, "-m", "serverless_dl.bench.convert", name, "--size", size,
             "--out", out],
            error=BundleError, what=f"converting {name}", lines=15,
            env=clean_environment({"PYTHONPATH": str(tools), "TF_CPP_MIN_LOG_LEVEL": "2"}),
        )  # fmt: skip
    document = json.loads(manifest.read_text())
    files = {
        model_format: {variant: Path(path) for variant, path in variants.items()}
        for model_format, variants in document["files"].items()
    }
    return ModelFiles(name, document["input_size"], document["parameters"], files,
                      document["reference"])
