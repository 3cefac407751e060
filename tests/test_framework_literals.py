"""What a framework means lives in its adapter (trainers.frameworks), its serving
flavor (serving.model_format.flavors) and the registry of frameworks (sluice_config.frameworks): no other module of
the pipeline, its steps, the record or the server names a framework as a string, so
adding a framework or a candidate touches nothing downstream."""
import ast
from pathlib import Path

import pytest

from sluice_config.packages import code_packages
from tests.conftest import ROOT

pytestmark = pytest.mark.unit
FRAMEWORK_NAMES = {"keras", "torch"}
ALLOWED = {"sluice_config/frameworks.py", "trainers", "serving/model_format/flavors"}


def literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in FRAMEWORK_NAMES and id(node) not in docstrings]


def test_no_framework_is_named_outside_its_adapter_flavor_and_the_config_defaults():
    found = []
    for package in code_packages(ROOT):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if any(relative == a or relative.startswith(a + "/") for a in ALLOWED):
                continue
            found += [f"{relative}:{line}: {value!r}" for line, value in literals(path)]
    assert not found, "framework names outside the adapters:\n" + "\n".join(found)
