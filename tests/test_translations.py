"""Every string a participant can see is translated in each of the five catalogues."""

import gettext
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = ("en", "fr", "es", "ko", "ar")
# What participants see: the page templates, the scripts' strings (rendered into the page
# from pages.py), the questionnaire's choices and the rating scale.
PARTICIPANT_SOURCES = (
    "moodlab/studies/templates/participant",
    "moodlab/studies/pages.py",
    "moodlab/studies/services/steps.py",
    "moodlab/studies/scale.py",
)
PO_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
PO_ESCAPE = re.compile(r"\\(.)")


def po_entries(text: str) -> list[dict[str, str]]:
    """msgctxt/msgid/msgid_plural of each entry of a .po file, unescaped."""
    entries = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        keyword = None
        for line in block.splitlines():
            if line.startswith(("msgctxt ", "msgid ", "msgid_plural ", "msgstr")):
                keyword = line.split(" ", 1)[0]
                fields[keyword] = ""
            if keyword and not line.startswith("#"):
                for part in PO_STRING.findall(line):
                    fields[keyword] += PO_ESCAPE.sub(
                        lambda match: {"n": "\n", "t": "\t"}.get(match[1], match[1]), part
                    )
        if fields.get("msgid"):
            entries.append(fields)
    return entries


def catalogue_key(entry: dict[str, str]) -> str | tuple[str, int]:
    msgid = entry["msgid"]
    if "msgctxt" in entry:
        msgid = f"{entry['msgctxt']}\x04{msgid}"
    return (msgid, 0) if "msgid_plural" in entry else msgid


@pytest.fixture
def participant_msgids(tmp_path, settings, monkeypatch) -> set:
    """The msgids makemessages finds in the participant-facing sources today."""
    for source in PARTICIPANT_SOURCES:
        origin, copy = REPO / source, tmp_path / source
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, copy)
        else:
            shutil.copy(origin, copy)
    (tmp_path / "locale").mkdir()
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["en"], verbosity=0)
    extracted = (tmp_path / "locale/en/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    return {catalogue_key(entry) for entry in po_entries(extracted)}


def test_makemessages_finds_the_participant_strings(participant_msgids):
    assert "How it works" in participant_msgids  # a template
    assert "Loading the sound…" in participant_msgids  # a script string
    assert "Prefer not to say" in participant_msgids  # a questionnaire choice
    assert "Not expressing at all" in participant_msgids  # the rating scale


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_participant_string_has_a_translation(participant_msgids, language):
    mo_file = REPO / "locale" / language / "LC_MESSAGES" / "django.mo"
    with mo_file.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    missing = sorted(str(msgid) for msgid in participant_msgids if not catalogue.get(msgid))
    assert not missing, f"untranslated in locale/{language}: {missing}"
