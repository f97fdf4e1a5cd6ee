"""Where things live in the repository.

Every notebook, script and test resolves paths through this module, so they
work whatever the current directory is (JupyterLab, papermill, nbval, pytest).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = ROOT / "lessons"
HOMEWORK = ROOT / "homework"
DOCKER = ROOT / "docker"
IMAGES = ROOT / "images"
MODELS = ROOT / "models"
REQUIREMENTS = ROOT / "requirements"
TESTS = ROOT / "tests"
BUILD = ROOT / "build"
VENVS = ROOT / ".venvs"


def in_repo(path: str | Path) -> Path:
    """Return `path` as an absolute path; relative paths are taken from the repo root."""
    path = Path(path)
    return path if path.is_absolute() else ROOT / path
