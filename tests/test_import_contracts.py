"""The import contracts of pyproject.toml (`lint-imports`, run by `make lint`) hold, and fail
on the cycles issue 20 removed, should one come back."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("moodlab", "elicitation", "rating", "analysis")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_keeps_every_import_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "new_import", "contract"),
    [
        # The core importing a phase app: studies → elicitation, as pages.py once did.
        ("moodlab/studies/pages.py", "import elicitation.api.views", "Apps are layered"),
        # The phase apps stand apart.
        ("rating/services.py", "import elicitation.models", "Apps are layered"),
        # rating ↔ analysis, as rating/admin.py once closed it.
        ("rating/admin.py", "import analysis.services.quality", "Apps are layered"),
        # A service reaching up into its app's API.
        ("elicitation/services/chains.py", "import elicitation.api.views", "The domain"),
        # A service raising HTTP errors.
        ("analysis/services/jobs.py", "import rest_framework.exceptions", "Services raise"),
    ],
)
def test_a_new_cycle_breaks_a_contract(tmp_path, module, new_import, contract):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / module).open("a") as source:
        source.write(f"\n{new_import}  # noqa\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
    assert module.removesuffix(".py").replace("/", ".") in broken
