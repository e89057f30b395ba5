"""The simulator stands apart from the CRM: it imports neither `core` nor the rest of `web`,
and builds no HTML in Python."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import web.pbx_simulator

PACKAGE = Path(web.pbx_simulator.__file__).resolve().parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imported(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports could reach outside the package"
            names.append(node.module or "")
    return names


def test_it_imports_nothing_from_core_or_the_rest_of_web() -> None:
    assert len(MODULES) > 5
    for module in MODULES:
        for name in _imported(ast.parse(module.read_text(encoding="utf-8"))):
            top = name.split(".")[0]
            assert top != "core", f"{module.name} imports {name}"
            if top == "web":
                assert name.startswith("web.pbx_simulator"), f"{module.name} imports {name}"


def test_no_html_is_built_with_f_strings() -> None:
    for module in MODULES:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    part.value
                    for part in node.values
                    if isinstance(part, ast.Constant) and isinstance(part.value, str)
                )
                assert "<" not in text, f"{module.name}:{node.lineno} builds markup"


def test_its_templates_ship_with_it() -> None:
    pyproject = tomllib.loads((PACKAGE.parent.parent / "pyproject.toml").read_text("utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["web.pbx_simulator"]
    templates = {p.relative_to(PACKAGE) for p in (PACKAGE / "templates").iterdir()}
    assert templates and all(any(t.match(pattern) for pattern in patterns) for t in templates)
