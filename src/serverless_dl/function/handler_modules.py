"""The exported function's two modules, imported afresh in this process (course plumbing).

`docker/lambda_function.py` (lesson 04) does `from image_source import ...`,
and `docker/image_source.py` (lesson 05) reads its settings from environment
variables when it is imported, as the handler reads `MODEL_PATH`. Tests and
the homework grader need instances configured differently side by side, so
`load_function()` imports both files under names of their own, each pair
with the environment given, without leaving `image_source` in `sys.modules`.

Only the standard library is used: the hostile-input runner imports this in
the Lambda environments, which do not have the course package's dependencies.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from serverless_dl.base.environment_variables import changed_environment
from serverless_dl.base.paths import DOCKER

HANDLER_SCRIPT = DOCKER / "lambda_function.py"
IMAGE_SOURCE = DOCKER / "image_source.py"
IMAGE_SOURCE_MODULE = "image_source"

_instance_numbers = itertools.count()


@dataclass(frozen=True)
class LoadedFunction:
    """One instance of the function: `handler` (lambda_function) and the `source` it imports."""

    handler: ModuleType
    source: ModuleType

    def lambda_handler(self, event, context):
        """Call the handler as Lambda would."""
        return self.handler.lambda_handler(event, context)


def load_function(
    handler_script: str | Path = HANDLER_SCRIPT,
    image_source: str | Path | None = None,
    *,
    environment: dict[str, str | None] | None = None,
    name: str = "exported",
) -> LoadedFunction:
    """Import fresh instances of the handler and of its `image_source` module.

    `image_source` defaults to the `image_source.py` next to `handler_script`.
    `environment` is set while both import (None removes a variable) and restored after.
    """
    handler_script = Path(handler_script)
    image_source = Path(image_source or handler_script.with_name("image_source.py"))
    for path in (handler_script, image_source):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; run `make export`")
    number = next(_instance_numbers)
    with changed_environment(environment or {}):
        source = _import_file(f"{name}_image_source_{number}", image_source)
        saved = sys.modules.get(IMAGE_SOURCE_MODULE)
        sys.modules[IMAGE_SOURCE_MODULE] = source  # what the handler's import finds
        try:
            handler = _import_file(f"{name}_lambda_function_{number}", handler_script)
        finally:
            if saved is None:
                sys.modules.pop(IMAGE_SOURCE_MODULE, None)
            else:
                sys.modules[IMAGE_SOURCE_MODULE] = saved
    return LoadedFunction(handler, source)


def _import_file(module_name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
