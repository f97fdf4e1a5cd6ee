"""The package's layers: each subpackage imports only what its docstring says it may.

Every `src/serverless_dl/<part>/__init__.py` ends its docstring with a line
"May import: ..." naming the other parts it may use ("nothing else of
serverless_dl", or "every other part except ..."). This test reads every module
of each part and fails on an import the line does not allow, so the layers that
README's layout section describes stay true.
"""

import ast
import re
from pathlib import Path

import pytest

import serverless_dl

PACKAGE = Path(serverless_dl.__file__).parent
PARTS = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))


def allowed_parts(part: str) -> set[str]:
    """The parts `part` may import, read from the "May import:" line of its docstring."""
    docstring = ast.get_docstring(ast.parse((PACKAGE / part / "__init__.py").read_text()))
    rule = re.search(r"May import: (.*)", docstring or "", re.DOTALL)
    assert rule, f"serverless_dl.{part}'s docstring has no 'May import:' line"
    text = " ".join(rule[1].split())
    if text.startswith("nothing else"):
        return set()
    if text.startswith("every other part"):
        excluded = set(re.findall(r"serverless_dl\.(\w+)", text))
        return set(PARTS) - excluded - {part}
    return set(re.findall(r"serverless_dl\.(\w+)", text))


def imported_parts(path: Path) -> set[str]:
    """The parts of serverless_dl that the module at `path` imports (at any depth)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "serverless_dl" and len(parts) > 1 and parts[1] in PARTS:
                found.add(parts[1])
    return found


def test_every_part_has_an_import_rule():
    assert PARTS, "no subpackages found"
    for part in PARTS:
        allowed_parts(part)


@pytest.mark.parametrize("part", PARTS)
def test_a_part_imports_only_what_its_rule_allows(part):
    allowed = allowed_parts(part) | {part}
    wrong = {
        str(path.relative_to(PACKAGE)): sorted(imported_parts(path) - allowed)
        for path in sorted((PACKAGE / part).rglob("*.py"))
        if imported_parts(path) - allowed
    }
    assert not wrong, f"imports that serverless_dl.{part}'s rule does not allow: {wrong}"


def test_no_module_is_left_at_the_top_but_the_entry_points():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "plumbing.py"], top
