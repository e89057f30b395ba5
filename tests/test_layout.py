"""The test suite's own layout: tests and conftest.py files share helpers through tests/support/,
never by importing a test module or a conftest (which pytest may import twice, or not at all)."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def is_test_module_or_conftest(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and any(p.startswith("test_") or p == "conftest" for p in parts)


def test_no_test_file_or_conftest_imports_a_test_module_or_a_conftest():
    offenders = {
        str(path.relative_to(TESTS.parent)): module
        for path in sorted(TESTS.rglob("*.py"))
        if path.name.startswith("test_") or path.name == "conftest.py"
        for module in imported_modules(path)
        if is_test_module_or_conftest(module)
    }
    assert offenders == {}, "move what they share to tests/support/"


def test_the_check_sees_the_imports_it_forbids():
    assert is_test_module_or_conftest("tests.conftest")
    assert is_test_module_or_conftest("tests.browser.conftest.screenshot")
    assert is_test_module_or_conftest("tests.web.test_live_updates")
    assert is_test_module_or_conftest("tests.test_cli.free_port")
    assert not is_test_module_or_conftest("tests.support.servers")
    assert not is_test_module_or_conftest("tests.support.simulator")
