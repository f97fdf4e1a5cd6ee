"""The pinned requirement sets: exact pins, and environment.yml mirrors the course set."""

import re

import pytest
import yaml

from serverless_dl.base.paths import REQUIREMENTS, ROOT

PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-\[\]]+)==(?P<version>[^\s#;]+)$")


def pins(lines):
    """{normalised name: version} for requirement lines; comments and blanks are skipped."""
    found = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {raw!r}"
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        found[name] = match["version"]
    return found


@pytest.mark.parametrize("path", sorted(REQUIREMENTS.glob("*.txt")), ids=lambda path: path.name)
def test_every_requirement_is_an_exact_pin(path):
    assert pins(path.read_text().splitlines())


def test_environment_yml_mirrors_course_requirements():
    course = pins((REQUIREMENTS / "course.txt").read_text().splitlines())
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(
        item["pip"] for item in environment["dependencies"] if isinstance(item, dict)
    )
    assert pins(pip_section) == course
    assert "python=3.11" in environment["dependencies"]


def test_lambda_sets_leave_tensorflow_out():
    for name in ("lambda-classic.txt", "lambda-modern.txt", "lambda-runtime.txt"):
        packages = pins((REQUIREMENTS / name).read_text().splitlines())
        assert not any(package.startswith("tensorflow") for package in packages), name


def test_classic_set_fits_tflite_runtime():
    classic = pins((REQUIREMENTS / "lambda-classic.txt").read_text().splitlines())
    assert classic["tflite-runtime"] == "2.14.0"
    assert int(classic["numpy"].split(".")[0]) < 2
    assert classic["keras-image-helper"] == "0.0.1"
