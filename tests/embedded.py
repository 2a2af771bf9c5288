"""Run a script against the embedded default (SQLite, in-process tasks) in a child process.

The test process is configured for PostgreSQL; the embedded default needs its own Django
settings, hence a fresh interpreter with only the variables `make demo` would have.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_on_embedded_default(
    script: str,
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: int = 300,
) -> dict[str, Any]:
    """The JSON object the script prints on its last line; fails with the script's stderr."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "moodlab.settings.base",
            "MOODLAB_VAR_DIR": str(tmp_path / "var"),
            **(env or {}),
        },
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
