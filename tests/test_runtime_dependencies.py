"""What the runtime code imports is installed by `pip install .`, not only by the dev extra:
`make demo` installs no dev extra, and the README's commands must work after it."""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGES = ("moodlab", "elicitation", "rating", "analysis")


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-")


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for package in RUNTIME_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - set(RUNTIME_PACKAGES)


def test_every_module_the_runtime_code_imports_comes_from_a_runtime_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {_normalised(Requirement(spec).name) for spec in project["dependencies"]}
    distributions = packages_distributions()
    # Parts of a declared dependency: Django's asgiref, Celery's kombu, boto3's botocore.
    provided_by_others = {"asgiref", "sqlparse", "typing-extensions", "kombu", "botocore"}
    undeclared = {
        module: distributions.get(module, ["?"])
        for module in _imported_top_level_modules()
        if not {_normalised(d) for d in distributions.get(module, [module])}
        & (runtime | provided_by_others)
    }
    assert undeclared == {}
