"""`make zip`: a .zip package of Lambda-platform wheels that fits the limits and answers.

The package is built once for the module (pip fetches the wheels for the
python3.11 runtime), then checked: its size against Lambda's limits, what is
inside, that the unpacked archive answers under the real RIE, and that the
SAM template which deploys it validates.
"""

import re
import zipfile

import pytest

from serverless_dl.base.paths import DOCKER
from serverless_dl.function.zip_bundle import (
    DEFAULT_OUT,
    UNZIPPED_LIMIT_BYTES,
    ZIP_TEMPLATE,
    ZIPPED_LIMIT_BYTES,
    build_zip,
    directory_bytes,
    folder_entries,
    function_properties,
    lambda_platforms,
    main,
    predict_with_bundle,
    unpack,
    validate_template,
    write_zip,
    zipped_bytes,
)

# A wheel tag that Amazon Linux 2 (glibc 2.26), the python3.11 runtime's system, can run.
LAMBDA_WHEEL_TAG = re.compile(
    r"^Tag: (py3-none-any|cp311-cp311-(manylinux2014|manylinux_2_(1[7-9]|2[0-6]))_x86_64)$"
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_zip(tmp_path_factory.mktemp("zip"))


def archive_names(bundle):
    with zipfile.ZipFile(bundle.archive) as archive:
        return archive.namelist()


def test_the_zip_fits_lambdas_limits(bundle):
    assert bundle.zipped_bytes == bundle.archive.stat().st_size
    assert bundle.zipped_bytes <= ZIPPED_LIMIT_BYTES
    assert bundle.unzipped_bytes <= UNZIPPED_LIMIT_BYTES
    assert bundle.unzipped_bytes == directory_bytes(bundle.folder)
    assert bundle.within_limits
    assert "fits" in bundle.lines() and "TOO LARGE" not in bundle.lines()


def test_the_zip_holds_the_function_at_its_root_and_nothing_stripped(bundle):
    names = archive_names(bundle)
    assert {"lambda_function.py", "image_source.py", "clothing-model.tflite"} <= set(names)
    assert any(name.startswith("tflite_runtime/") for name in names)
    assert not [name for name in names if "/__pycache__/" in name or name.endswith(".pyc")]
    assert not [name for name in names if "/tests/" in name or name.startswith("bin/")]
    # The runtime brings Python and its interface client; TensorFlow must not come along.
    assert not [name for name in names if name.startswith(("awslambdaric", "tensorflow"))]


def test_every_wheel_is_built_for_the_python311_runtime(bundle):
    wheels = sorted(bundle.folder.glob("*.dist-info/WHEEL"))
    assert len(wheels) >= 4
    for wheel in wheels:
        tags = [line for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
        assert tags and all(LAMBDA_WHEEL_TAG.match(tag) for tag in tags), (wheel.parent.name, tags)


def test_the_unpacked_zip_answers_pants_under_the_rie(bundle, tmp_path):
    task_root = unpack(bundle.archive, tmp_path / "task")
    assert (task_root / "lambda_function.py").stat().st_mode & 0o444 == 0o444
    answer = predict_with_bundle(task_root)
    assert answer["prediction"] == "pants", answer


def test_the_same_files_give_the_same_archive(tmp_path):
    folder = tmp_path / "files"
    (folder / "package").mkdir(parents=True)
    (folder / "package" / "module.py").write_text("VALUE = 1\n" * 100)
    (folder / "handler.py").write_text("def handler(event, context):\n    return event\n")
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    write_zip(folder_entries(folder), first)
    (folder / "handler.py").touch()  # a newer file time must not change the archive
    write_zip(folder_entries(folder), second)
    assert first.read_bytes() == second.read_bytes()
    assert abs(zipped_bytes(folder_entries(folder)) - first.stat().st_size) <= 16 * 2


def test_platform_tags_reach_down_to_manylinux2014():
    tags = lambda_platforms((2, 26))
    assert tags[0] == "manylinux_2_26_x86_64" and tags[-1] == "manylinux2014_x86_64"
    assert "manylinux_2_17_x86_64" in tags and "manylinux_2_27_x86_64" not in tags


def test_the_sam_template_deploys_the_zip_folder():
    function = function_properties(ZIP_TEMPLATE)
    assert function["PackageType"] == "Zip"
    assert function["Runtime"] == "python3.11"
    assert function["Handler"] == "lambda_function.lambda_handler"
    assert (DOCKER / function["CodeUri"]).resolve() == DEFAULT_OUT / "function"  # make zip's


def test_the_sam_template_validates(tmp_path):
    assert "is a valid SAM Template" in validate_template(ZIP_TEMPLATE, tmp_path)


def test_bad_arguments_get_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--zipped"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2
    assert "unrecognized arguments: --zipped" in error and len(error.strip().splitlines()) == 1

