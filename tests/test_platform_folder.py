"""platform/ holds deployment files; it must never shadow the standard library's `platform`."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_platform_folder_is_not_a_python_package():
    assert (REPO / "platform").is_dir()
    assert not (REPO / "platform" / "__init__.py").exists()


def test_the_standard_library_platform_and_uuid_import_from_the_repository_root():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import platform, uuid;"
            "print(platform.system(), platform.__file__, uuid.uuid4().version)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    system, module_file, version = result.stdout.split()
    assert system == "Linux"
    assert not module_file.startswith(str(REPO / "platform"))
    assert version == "4"


def test_django_starts_from_the_repository_root():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "MOODLAB_VAR_DIR": "/tmp/moodlab-check-var"},
    )
    assert result.returncode == 0, result.stderr
