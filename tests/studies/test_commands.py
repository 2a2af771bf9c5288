import pytest
from django.core.management import CommandError, call_command

from moodlab.audio import song_clip_wav
from tests.conftest import GLOBALMOOD
from tests.factories import StudyFactory, StudyLocaleFactory

pytestmark = pytest.mark.django_db


def test_import_songs_reads_the_globalmood_file_with_audio_from_a_folder(tmp_path, capsys):
    study = StudyFactory(slug="gm")
    (tmp_path / "aCAREwXaU9M.wav").write_bytes(song_clip_wav("aCAREwXaU9M", seconds=2.0))
    call_command(
        "import_songs", str(GLOBALMOOD / "songmeta_GlobalMood.csv"), "--audio-dir", str(tmp_path)
    )
    assert "gm: 1180 created, 0 updated, 0 unchanged." in capsys.readouterr().out
    assert study.songs.get(external_id="aCAREwXaU9M").audio


def test_import_songs_prints_every_problem_and_fails(tmp_path, capsys):
    StudyFactory(slug="gm")
    bad = tmp_path / "songs.csv"
    bad.write_text("videoID,iso2,song\nx1,QQ,One\nx1,FR,Two\n")
    with pytest.raises(CommandError, match="Nothing imported: 2 problem"):
        call_command("import_songs", str(bad), "--study", "gm")
    assert "row 2, country" in capsys.readouterr().err


def test_import_songs_asks_which_study_when_there_are_several(tmp_path):
    StudyFactory(slug="one"), StudyFactory(slug="two")
    with pytest.raises(CommandError, match=r"Known: (one, two|two, one)"):
        call_command("import_songs", str(GLOBALMOOD / "songmeta_GlobalMood.csv"))


def test_import_terms_imports_a_locales_list(capsys):
    locale = StudyLocaleFactory(study=StudyFactory(slug="gm"), code="ar-EG")
    call_command(
        "import_terms", str(GLOBALMOOD / "terms_ar.csv"), "--study", "gm", "--locale", "ar-EG"
    )
    assert "20 created" in capsys.readouterr().out
    assert locale.terms.get(rank=3).gloss == "Sadness"


def test_import_terms_names_the_known_locales_when_one_is_unknown():
    StudyLocaleFactory(study=StudyFactory(slug="gm"), code="ar-EG")
    with pytest.raises(CommandError, match="Known: ar-EG"):
        call_command(
            "import_terms", str(GLOBALMOOD / "terms_ar.csv"), "--study", "gm", "--locale", "ko-KR"
        )
