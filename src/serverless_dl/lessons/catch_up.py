"""Catch-up: make what an earlier lesson would have made, when a lesson is opened on its own.

Lesson 07 starts from lesson 06's image, lesson 08 from lesson 07's function.
When that is missing (you opened the lesson first, or stopped the local
account), `catch_up()` runs the earlier lesson's notebook headlessly with
papermill: with the parameters both lessons have (the account, the region,
the image) and the earlier lesson's work folder beside this one's, exactly as
you would have run it. So no lesson repeats another's commands. Its answer is
the same whether it had work to do or not, so a checked notebook shows the
same output either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from serverless_dl.aws.deploy import FUNCTION_NAME
from serverless_dl.base.descriptors import descriptors_to
from serverless_dl.base.paths import in_repo
from serverless_dl.containers import docker_engine
from serverless_dl.containers.function_images import function_image
from serverless_dl.lessons.notebooks import execute, parameter_names
from serverless_dl.lessons.syllabus import lesson

# Parameters a lesson hands on to the earlier lesson it catches up on, if that lesson has them.
SHARED_PARAMETERS = ("aws_profile", "aws_region", "aws_local_dir", "image")
EARLIER_LESSON = {"07-ecr-lambda": "06-docker", "08-api-gateway": "07-ecr-lambda",
                  "10-versions": "06-docker", "11-composition": "06-docker"}


class CatchUpError(RuntimeError):
    """The earlier lesson could not be run; the message says why in one line."""


def _image_ready() -> str | None:
    tag = function_image("classic").tag
    return f"image {tag}" if docker_engine.image_exists(tag) else None


def _function_ready() -> str | None:
    import boto3

    client = boto3.client("lambda")
    try:
        configuration = client.get_function(FunctionName=FUNCTION_NAME)["Configuration"]
    except client.exceptions.ResourceNotFoundException:
        return None
    return f"function {FUNCTION_NAME} ({configuration['PackageType']}, {configuration['State']})"


# What each earlier lesson leaves behind, and how to tell that it is there.
_READY: dict[str, Callable[[], str | None]] = {
    "06-docker": _image_ready,
    "07-ecr-lambda": _function_ready,
}


def run_earlier_lesson(earlier: str, work_dir: str | Path, parameters: dict) -> Path:
    """Run lesson `earlier` headlessly beside `work_dir`; return the executed notebook's path.

    Its work folder is `<parent of work_dir>/<earlier>`, the folder it would
    have had; the executed copy goes to `<work_dir>/catch-up/<earlier>.ipynb`.
    """
    import papermill

    work = in_repo(work_dir)
    names = parameter_names(lesson(earlier).notebook)
    handed_on = {key: value for key, value in parameters.items()
                 if key in SHARED_PARAMETERS and key in names}  # fmt: skip
    handed_on["work_dir"] = str(work.parent / earlier)
    output = work / "catch-up" / f"{earlier}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The earlier lesson's kernel inherits descriptors 1 and 2: its start-up notices would
        # otherwise appear in the cell that catches up, on some runs and not others.
        with descriptors_to(output.with_suffix(".log"), (1, 2)):
            execute(earlier, output, handed_on)
    except papermill.PapermillExecutionError as error:
        raise CatchUpError(
            f"catching up on lesson {earlier} failed ({error.ename}: "
            f"{str(error.evalue).splitlines()[0] if error.evalue else ''}); see {output}"
        ) from None
    return output


def catch_up(name: str, work_dir: str | Path, **parameters) -> str:
    """Make sure what lesson `name` starts from exists, running the earlier lesson if needed.

    `parameters` are lesson `name`'s own (aws_profile, aws_region, ...).
    Returns one line naming what is ready, the same whether it was there.
    """
    earlier = EARLIER_LESSON[name]
    ready = _READY[earlier]()
    if ready is None:
        output = run_earlier_lesson(earlier, work_dir, parameters)
        ready = _READY[earlier]()
        if ready is None:
            raise CatchUpError(f"lesson {earlier} ran ({output}) but left nothing to start from")
    return f"ready: {ready}, from lesson {earlier}"
