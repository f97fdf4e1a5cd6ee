"""`make zip`: the function as a .zip deployment package instead of a container image.

A zip package is the function's own files (handler, model, packages) at the
root of one archive; Lambda unpacks it into `/var/task` and runs it on one of
its managed runtimes, here python3.11, which already provides Python and the
runtime interface client (awslambdaric). `make zip`:

1. installs `requirements/lambda-classic.txt` into `build/zip/function/` with
   `pip install --target`, asking for wheels of the Lambda platform, not of
   this machine: `--platform manylinux2014_x86_64 ... --implementation cp
   --python-version 3.11 --only-binary=:all:` (Amazon Linux 2 has glibc 2.26,
   so manylinux tags up to 2.26 fit);
2. strips what never runs inside Lambda (`strip_bundle`);
3. adds the exported handler, the guarded `image_source.py` it imports and
   the float32 model, with the names the container image uses;
4. writes `build/zip/function.zip` and checks it against Lambda's limits:
   50 MB zipped for a direct upload, 250 MB unzipped (MB here are Lambda's:
   1 MB = 1,048,576 bytes; its error message quotes 262,144,000 bytes);
5. unpacks that exact archive into a fresh folder and serves it under the
   real Runtime Interface Emulator with this machine's Python 3.11, then asks
   it about `images/pants.jpg`.

The runtime interface client is not in the zip, because Lambda's runtime
brings its own. For the local run it is installed on its own into
`build/lambda-runtime/` and put on `PYTHONPATH` behind the task root, which is
where Lambda's `/var/runtime` sits; the interpreter is a virtual environment
without any packages, so nothing from this machine leaks into the function.

`--bytecode` also ships modules compiled for Python 3.11 (see `compile_bytecode`),
which `make bench` shows to shorten a cold start; `docker/template-zip.yaml`
deploys the folder with SAM (`PackageType: Zip`).

Command line::

    python -m serverless_dl.function.zip_bundle [--out build/zip] [--bytecode]
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from serverless_dl.base.cli import OneLineErrorParser
from serverless_dl.base.commands import run_command
from serverless_dl.base.lambda_facts import (
    AMAZON_LINUX_2_GLIBC,
    AMAZON_LINUX_2023_GLIBC,
    MB,
    UNZIPPED_LIMIT_BYTES,
    ZIPPED_LIMIT_BYTES,
)
from serverless_dl.base.paths import BUILD, DOCKER, IMAGES, MODELS, REQUIREMENTS, in_repo
from serverless_dl.function.client import answer_of, image_event
from serverless_dl.function.envs import aws_tool, clean_environment
from serverless_dl.function.lambda_local import HANDLER, MODEL_FILE, make_task_root
from serverless_dl.function.rie import LambdaEmulator

LAMBDA_PYTHON = "3.11"
DEFAULT_OUT = BUILD / "zip"
RUNTIME_DIR = BUILD / "lambda-runtime"
ZIP_TEMPLATE = DOCKER / "template-zip.yaml"
PROBE_IMAGE = "pants.jpg"
# What holds no code the function runs: bytecode caches and the packages' own test suites
# anywhere, console scripts at the top.
STRIPPED_FOLDERS = ("__pycache__", "tests")
STRIPPED_TOP_FOLDERS = ("bin",)
# A fixed date for every archive entry (the earliest a zip can store), so the same files
# always give the same archive.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# On Lambda `/var/task` is read-only, so Python cannot cache the bytecode it compiles; here
# the bundle is writable, and a cache would make every cold start after the first too fast.
LAMBDA_PYTHON_SETTINGS = {"PYTHONDONTWRITEBYTECODE": "1"}


class BundleError(RuntimeError):
    """A bundle could not be built or run; the message says why in one line."""


def lambda_platforms(glibc: tuple[int, int] = AMAZON_LINUX_2_GLIBC) -> list[str]:
    """The pip `--platform` tags of wheels that run on a Linux x86_64 with `glibc`.

    pip expands `manylinux2014_x86_64` to the older tags by itself, but not the
    `manylinux_2_NN` tags that newer wheels use, so they are listed one by one.
    """
    major, minor = glibc
    tags = [f"manylinux_{major}_{version}_x86_64" for version in range(minor, 16, -1)]
    return tags + ["manylinux2014_x86_64"]


def pip_install_command(
    requirement_files: Sequence[Path],
    target: Path,
    glibc: tuple[int, int] = AMAZON_LINUX_2_GLIBC,
    python_version: str = LAMBDA_PYTHON,
) -> list[str]:
    """The `pip install --target` command that fetches Lambda-platform wheels only."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-warn-conflicts",
        "--disable-pip-version-check", "--target", str(target),
        "--implementation", "cp", "--python-version", python_version,
        "--only-binary=:all:",
    ]  # fmt: skip
    for tag in lambda_platforms(glibc):
        command += ["--platform", tag]
    for path in requirement_files:
        command += ["-r", str(path)]
    return command


def install_packages(
    requirement_files: Sequence[Path],
    target: Path,
    glibc: tuple[int, int] = AMAZON_LINUX_2_GLIBC,
) -> Path:
    """Install the requirement files into a fresh `target` folder, as Lambda wheels."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    run = subprocess.run(
        pip_install_command(requirement_files, partial, glibc),
        capture_output=True, text=True,
    )  # fmt: skip
    if run.returncode != 0:
        errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
        raise BundleError((errors or run.stderr.splitlines() or ["pip failed"])[-1])
    partial.rename(target)  # only a complete install gets the final name
    return target


def strip_bundle(folder: Path) -> int:
    """Delete `STRIPPED_FOLDERS` and compiled files below `folder`; return the bytes freed.

    Safe because none of it is imported at run time: `bin/` holds console
    scripts, `tests/` the packages' own test suites, `__pycache__` bytecode that
    Python writes again when it can. (On Lambda it cannot, `/var/task` is
    read-only, so each cold start compiles what it imports. Bytecode compiled
    before zipping would not help either: it records each source file's time,
    which the archive does not keep (`write_zip` sets a fixed date), so Python
    ignores it; only `compileall --invalidation-mode unchecked-hash` avoids that.)
    """
    freed = 0
    for path in sorted(folder.rglob("*"), reverse=True):
        if not path.exists():  # inside a folder removed a moment ago
            continue
        top_level = path.parent == folder
        if path.is_dir() and (
            path.name in STRIPPED_FOLDERS or (top_level and path.name in STRIPPED_TOP_FOLDERS)
        ):
            freed += directory_bytes(path)
            shutil.rmtree(path)
        elif path.is_file() and path.suffix == ".pyc":
            freed += path.stat().st_size
            path.unlink()
    return freed


def compile_bytecode(folder: Path) -> None:
    """Compile every module below `folder` for Python 3.11, valid whatever the file times.

    `unchecked-hash` bytecode is used without comparing it with the source's
    modification time, which a zip archive does not keep; so a cold start on
    Lambda imports it instead of compiling each module again. This runs with
    the course's Python 3.11, whose bytecode is the python3.11 runtime's.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0",
         "--invalidation-mode", "unchecked-hash", str(folder)],
        capture_output=True, check=False,  # a few packages ship files for other Pythons
    )  # fmt: skip


def directory_bytes(folder: Path) -> int:
    """The total size of the files below `folder` (what Lambda counts as unzipped size)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def write_zip(entries: Sequence[tuple[Path, str]], output) -> None:
    """Write `(file, name in archive)` pairs as a deflated zip to a path or a binary stream.

    Entries get a fixed date and explicit permissions (readable by everyone,
    executable if the file is), because Lambda runs the code as another user
    than the one who built the archive.
    """
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16  # a regular file with `mode`
            info.file_size = path.stat().st_size  # lets zipfile decide whether it needs zip64
            with path.open("rb") as source, archive.open(info, "w") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


class _ByteCounter(io.RawIOBase):
    """A write-only stream that only counts what is written to it."""

    def __init__(self):
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.count += len(data)
        return len(data)


def zipped_bytes(entries: Sequence[tuple[Path, str]]) -> int:
    """How large a zip of `entries` would be, computed without writing it to disk.

    Exact to within 16 bytes per file (a stream that cannot seek gets a data
    descriptor after each file).
    """
    counter = _ByteCounter()
    write_zip(entries, counter)
    return counter.count


def folder_entries(folder: Path) -> list[tuple[Path, str]]:
    """Every file below `folder` as `(path, name in archive)`, in a stable order."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return [(path, path.relative_to(folder).as_posix()) for path in files]


# --- The runtime that Lambda provides: Python 3.11 plus awslambdaric ---


def runtime_python(runtime_dir: Path = RUNTIME_DIR) -> tuple[Path, Path]:
    """An interpreter with no packages and a folder holding only awslambdaric.

    Returns `(python, site)`: serve a task root with `python` and put `site`
    on `PYTHONPATH`, as Lambda puts `/var/runtime` there. Created on first use
    (Python's own `venv` without pip, and `pip install --target`).
    """
    requirements = REQUIREMENTS / "lambda-runtime.txt"
    stamp = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    python = runtime_dir / "python" / "bin" / "python"
    site = runtime_dir / f"site-{stamp}"
    if not python.exists():
        venv.EnvBuilder(with_pip=False, clear=True).create(runtime_dir / "python")
    if not site.is_dir():
        install_packages([requirements], site, glibc=AMAZON_LINUX_2023_GLIBC)
    return python, site


def bundle_emulator(
    task_root: Path,
    handler: str = HANDLER,
    environment: dict[str, str] | None = None,
    *,
    layers: Sequence[Path] = (),
    timeout: float = 30,
    memory_mb: int = 1024,
) -> LambdaEmulator:
    """An emulator, not started yet, for an unpacked bundle on the runtime of `runtime_python()`.

    `layers` are further package folders, searched after the task root, as
    Lambda searches the layers it unpacks under `/opt/python`.
    """
    python, site = runtime_python()
    search_path = os.pathsep.join([*(str(layer) for layer in layers), str(site)])
    return LambdaEmulator(
        handler,
        task_root,
        python,
        environment={"PYTHONPATH": search_path, **LAMBDA_PYTHON_SETTINGS, **(environment or {})},
        timeout=timeout,
        memory_mb=memory_mb,
    )


# --- make zip ---


@dataclass
class ZipBundle:
    """What `build_zip` made and measured."""

    folder: Path
    archive: Path
    zipped_bytes: int
    unzipped_bytes: int
    stripped_bytes: int

    @property
    def within_limits(self) -> bool:
        """True when the zip and its unzipped contents fit Lambda's size limits."""
        zipped_fits = self.zipped_bytes <= ZIPPED_LIMIT_BYTES
        return zipped_fits and self.unzipped_bytes <= UNZIPPED_LIMIT_BYTES

    def lines(self) -> str:
        """The sizes against Lambda's limits, ready to print."""
        def row(label, size, limit):
            verdict = "fits" if size <= limit else "TOO LARGE"
            return (f"{label:<9} {size / MB:6.1f} MB of {limit // MB:3d} MB "
                    f"({100 * size / limit:3.0f} %)  {verdict}")

        return "\n".join([
            f"{self.archive.name}: {len(zipfile.ZipFile(self.archive).namelist())} files "
            f"({self.stripped_bytes / MB:.1f} MB of tests, scripts and bytecode stripped)",
            row("zipped", self.zipped_bytes, ZIPPED_LIMIT_BYTES),
            row("unzipped", self.unzipped_bytes, UNZIPPED_LIMIT_BYTES),
        ])


def build_zip(
    out: Path = DEFAULT_OUT,
    requirements: Path = REQUIREMENTS / "lambda-classic.txt",
    handler_script: Path = DOCKER / "lambda_function.py",
    model: Path = MODELS / MODEL_FILE,
    *,
    image_source: Path | None = None,
    bytecode: bool = False,
) -> ZipBundle:
    """Build `<out>/function/` and `<out>/function.zip` and measure them.

    With `bytecode`, the package also carries compiled modules (`compile_bytecode`):
    a few MB more, and a faster cold start. `image_source` defaults to the
    `image_source.py` next to `handler_script`.
    """
    out = in_repo(out)
    out.mkdir(parents=True, exist_ok=True)
    folder = install_packages([requirements], out / "function")
    stripped = strip_bundle(folder)
    make_task_root(folder, handler_script, model, image_source)
    if bytecode:
        compile_bytecode(folder)
    archive = out / "function.zip"
    write_zip(folder_entries(folder), archive)
    with zipfile.ZipFile(archive) as opened:
        unzipped = sum(info.file_size for info in opened.infolist())
    return ZipBundle(folder, archive, archive.stat().st_size, unzipped, stripped)


def unpack(archive: Path, target: Path) -> Path:
    """Unpack `archive` into a fresh `target`, keeping the permissions it records."""
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            path = Path(opened.extract(info, target))
            path.chmod((info.external_attr >> 16) & 0o777 or 0o644)
    return target


def predict_with_bundle(task_root: Path, image: Path = IMAGES / PROBE_IMAGE) -> dict:
    """Serve `task_root` under the RIE and return the handler's answer for `image`."""
    with bundle_emulator(task_root) as function:
        reply = function.invoke(image_event(image), timeout=60)
    answer = answer_of(reply)
    if reply.status != 200 or "prediction" not in answer:
        raise BundleError(f"the bundle did not answer with a prediction: {reply.text[:200]}")
    return answer


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML that reads CloudFormation's short tags (`!Ref`, `!Sub`, ...) as plain values."""


def _untagged(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_CloudFormationLoader.add_multi_constructor("!", _untagged)


def function_properties(template: Path = ZIP_TEMPLATE, name: str = "ClothingFunction") -> dict:
    """The `Properties` of function `name` in a SAM template."""
    document = yaml.load(template.read_text(), Loader=_CloudFormationLoader)
    return document["Resources"][name]["Properties"]


def validate_template(template: Path = ZIP_TEMPLATE, work_dir: Path = DEFAULT_OUT) -> str:
    """`sam validate --lint` on a template (offline: cfn-lint needs no AWS account)."""
    run = run_command(
        [aws_tool("sam"), "validate", "--lint", "--template-file", template],
        error=BundleError, what="sam validate --lint", quote="both",
        cwd=in_repo(work_dir),
        env=clean_environment({
            "SAM_CLI_TELEMETRY": "0",
            "__SAM_CLI_APP_DIR": str(in_repo(work_dir) / "sam-settings"),
            "AWS_DEFAULT_REGION": "us-east-1",
        }),
        timeout=300,
    )  # fmt: skip
    return (run.stdout + run.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    """Build the zip, print its sizes and run it once under the RIE; return the exit code."""
    parser = OneLineErrorParser(
        prog="python -m serverless_dl.function.zip_bundle", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default build/zip)")
    parser.add_argument("--bytecode", action="store_true",
                        help="also ship compiled modules, for a faster cold start")
    args = parser.parse_args(argv)
    try:
        bundle = build_zip(args.out, bytecode=args.bytecode)
        print(bundle.lines())
        answer = predict_with_bundle(unpack(bundle.archive, in_repo(args.out) / "unpacked"))
    except BundleError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    print(f"{PROBE_IMAGE} through the unpacked zip under the RIE (host Python "
          f"{sys.version_info.major}.{sys.version_info.minor}): {answer['prediction']} "
          f"({answer['score']:.3f})")
    ok = bundle.within_limits and answer["prediction"] == Path(PROBE_IMAGE).stem
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
