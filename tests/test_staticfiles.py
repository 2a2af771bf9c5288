import re

from django.core.management import call_command


def test_collected_participant_scripts_import_each_other_by_hashed_name(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "moodlab.staticfiles.ModuleAwareManifestStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    [session] = [
        path for path in (tmp_path / "participant").glob("session.*.js") if path.suffix == ".js"
    ]
    imports = re.findall(r'from "\./([^"]+)"', session.read_text())
    assert imports and all(re.fullmatch(r"\w+\.[0-9a-f]{12}\.js", name) for name in imports)
