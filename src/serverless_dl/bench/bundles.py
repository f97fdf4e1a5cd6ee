"""Each runtime's bundle, and a task root for each configuration.

A bundle is what `pip install --target` puts into a Lambda deployment for one
requirement file, with Lambda-platform wheels, stripped as `make zip` strips
(see `serverless_dl.function.zip_bundle`). It is built once under
`build/bench/bundles/` and measured: the bytes it holds installed, and zipped.

When a configuration runs, its task root holds only the function's own files
(the handler, the guarded `image_source.py` it imports, the model);
the bundle's packages come through `PYTHONPATH`, the way a Lambda layer adds
packages under `/opt/python`. Python finds them either way; sharing one copy
saves unpacking 1.5 GB of TensorFlow once per configuration.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base.paths import DOCKER
from serverless_dl.bench.plan import RUNTIMES, Bundle, Configuration
from serverless_dl.function.zip_bundle import (
    STRIPPED_FOLDERS,
    compile_bytecode,
    directory_bytes,
    folder_entries,
    install_packages,
    strip_bundle,
    zipped_bytes,
)

ADAPTER = Path(__file__).with_name("engine_adapter.py")
HANDLER_SCRIPT = DOCKER / "lambda_function.py"
IMAGE_SOURCE_SCRIPT = DOCKER / "image_source.py"
MODEL_NAMES = {"keras": "model.keras", "tflite": "model.tflite", "onnx": "model.onnx"}


@dataclass
class BuiltBundle:
    """A bundle on disk and its sizes in bytes (`zipped_bytes` is None until measured)."""

    name: str
    packages: Path
    installed_bytes: int
    zipped_bytes: int | None
    stripped_bytes: int

    def save(self) -> None:
        """Write what was built and measured to `bundle.json` beside the packages."""
        record = {key: value for key, value in vars(self).items() if key != "packages"}
        (self.packages.parent / "bundle.json").write_text(json.dumps(record, indent=2) + "\n")


def build_bundle(
    bundle: Bundle, build: Path, zipped: bool, log: Callable[[str], None] = print
) -> BuiltBundle:
    """The bundle of `bundle`, installed now unless an up-to-date copy exists; measured."""
    settings = (bundle.glibc, bundle.bytecode, STRIPPED_FOLDERS)
    recipe = bundle.requirement_file.read_bytes() + repr(settings).encode()
    folder = build / "bundles" / f"{bundle.name}-{hashlib.sha256(recipe).hexdigest()[:16]}"
    remove_stale_siblings(folder)
    record = folder / "bundle.json"
    if record.is_file():
        built = BuiltBundle(packages=folder / "packages", **json.loads(record.read_text()))
    else:
        log(f"installing the {bundle.name} bundle ({bundle.requirements}) ...")
        folder.mkdir(parents=True, exist_ok=True)
        packages = install_packages([bundle.requirement_file], folder / "packages", bundle.glibc)
        stripped = strip_bundle(packages)
        if bundle.bytecode:
            compile_bytecode(packages)
        built = BuiltBundle(bundle.name, packages, directory_bytes(packages), None, stripped)
        built.save()
    if zipped and built.zipped_bytes is None:
        log(f"compressing the {bundle.name} bundle to measure it ...")
        built.zipped_bytes = zipped_bytes(folder_entries(built.packages))
        built.save()
    return built


def remove_stale_siblings(folder: Path) -> None:
    """Delete the folders an older recipe left next to `folder` (`<name>-<digest>`)."""
    name = folder.name.rsplit("-", 1)[0]
    for sibling in folder.parent.glob(f"{name}-" + "?" * 16):
        if sibling != folder and sibling.is_dir():
            shutil.rmtree(sibling)


def function_files(configuration: Configuration, model: Path) -> list[tuple[Path, str]]:
    """The function's own files, `(source, name in the task root)`: handler, image source, model."""
    runtime = RUNTIMES[configuration.runtime]
    files = [
        (HANDLER_SCRIPT, "lambda_function.py"),
        (IMAGE_SOURCE_SCRIPT, "image_source.py"),
        (model, MODEL_NAMES[runtime.model_format]),
    ]
    if runtime.engine:
        files.append((ADAPTER, ADAPTER.name))
    return files


def make_task_root(configuration: Configuration, model: Path, build: Path) -> Path:
    """A fresh task root for `configuration`: the function's files (plus the adapter).

    The adapter is copied to every task root, because the bare baseline runs from it.
    """
    folder = build / "task-roots" / configuration.key.replace("/", "-")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = {name: source for source, name in function_files(configuration, model)}
    files[ADAPTER.name] = ADAPTER  # already there when the runtime needs it as an engine
    for name, source in files.items():
        shutil.copyfile(source, folder / name)
    return folder


def function_sizes(configuration: Configuration, model: Path, bundle: BuiltBundle, zipped: bool):
    """(installed, zipped or None) bytes of the configuration's whole deployment package."""
    files = function_files(configuration, model)
    installed = bundle.installed_bytes + sum(source.stat().st_size for source, _ in files)
    if not zipped or bundle.zipped_bytes is None:
        return installed, None
    return installed, bundle.zipped_bytes + zipped_bytes(files)
