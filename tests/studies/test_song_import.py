import io
import zipfile

import pytest

from moodlab.audio import song_clip_wav
from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.models import Song
from moodlab.studies.services.song_import import AudioDirectory, AudioZip, songs_import
from tests.conftest import GLOBALMOOD
from tests.factories import SongFactory, StudyFactory

pytestmark = pytest.mark.django_db

HEADER = "videoID,iso2,country,song,artist\n"


def errors_of(failure: pytest.ExceptionInfo[ImportFailed]) -> list[tuple[int, str]]:
    return [(error.row, error.field) for error in failure.value.report.errors]


def test_it_imports_all_1180_globalmood_songs():
    study = StudyFactory()
    report = songs_import(
        study=study, csv_source=(GLOBALMOOD / "songmeta_GlobalMood.csv").read_bytes()
    )
    assert report.created == 1180
    assert study.songs.count() == 1180
    assert study.songs.values("country").distinct().count() == 59
    song = study.songs.get(external_id="aCAREwXaU9M")
    assert (song.title, song.artist, song.country.code) == (
        "Kodava Wedding Song",
        "Sanjith Hegde",
        "AE",
    )


def test_reimporting_the_same_file_changes_nothing():
    study = StudyFactory()
    data = (GLOBALMOOD / "songmeta_GlobalMood.csv").read_bytes()
    songs_import(study=study, csv_source=data)
    before = list(study.songs.order_by("pk").values())
    report = songs_import(study=study, csv_source=data)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1180)
    assert list(study.songs.order_by("pk").values()) == before


def test_a_changed_row_updates_only_that_song():
    study = StudyFactory()
    songs_import(study=study, csv_source=HEADER + "a1,FR,France,Old title,X\nb2,KR,Korea,B,Y\n")
    report = songs_import(
        study=study, csv_source=HEADER + "a1,FR,France,New title,X\nb2,KR,Korea,B,Y\n"
    )
    assert (report.updated, report.unchanged) == (1, 1)
    assert study.songs.get(external_id="a1").title == "New title"


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        ("videoID,song,artist\nabc,Title,Artist\n", [(0, "")]),
        (HEADER + "abc,FR,France,One,A\nabc,FR,France,Two,B\n", [(3, "external_id")]),
        (HEADER + "abc,XX,Nowhere,One,A\n", [(2, "country")]),
        (HEADER + "abc,FR,France,,A\n", [(2, "title")]),
        (HEADER + "a b c,FR,France,One,A\n", [(2, "external_id")]),
        (HEADER, [(0, "")]),
    ],
    ids=["missing-column", "duplicate-id", "unknown-country", "empty-title", "bad-id", "no-rows"],
)
def test_bad_rows_are_reported_and_nothing_is_imported(csv_text, expected):
    study = StudyFactory()
    SongFactory(study=study, external_id="kept", title="Already here")
    good_rows = "zz1,US,United States,Fine,Someone\n"
    source = csv_text if csv_text.count("\n") <= 1 else csv_text + good_rows
    with pytest.raises(ImportFailed) as failure:
        songs_import(study=study, csv_source=source)
    assert errors_of(failure) == expected
    assert list(study.songs.values_list("external_id", "title")) == [("kept", "Already here")]


def test_a_file_that_is_not_utf8_is_refused_with_a_clear_message():
    with pytest.raises(ImportFailed) as failure:
        songs_import(
            study=StudyFactory(), csv_source=HEADER.encode() + "a,FR,F,Café,X\n".encode("latin-1")
        )
    assert "UTF-8" in failure.value.report.errors[0].message


def test_audio_files_are_matched_by_external_id_and_their_duration_read(tmp_path):
    (tmp_path / "abc.wav").write_bytes(song_clip_wav("abc", seconds=3.0))
    study = StudyFactory()
    songs_import(
        study=study, csv_source=HEADER + "abc,FR,France,One,A\n", audio=AudioDirectory(tmp_path)
    )
    song = study.songs.get()
    # Stored under its content's hash, never the uploader's name.
    assert song.audio.name == f"audio/original/{song.audio_sha256}.wav"
    assert song.duration_seconds == pytest.approx(3.0, abs=0.01)
    assert len(song.audio_sha256) == 64


def test_an_unreadable_audio_file_fails_the_whole_import(tmp_path):
    (tmp_path / "abc.wav").write_bytes(song_clip_wav("abc", seconds=2.0))
    (tmp_path / "def.mp3").write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(ImportFailed) as failure:
        songs_import(
            study=StudyFactory(),
            csv_source=HEADER + "abc,FR,France,One,A\ndef,FR,France,Two,B\n",
            audio=AudioDirectory(tmp_path),
        )
    assert errors_of(failure) == [(3, "audio")]
    assert not Song.objects.exists()


def test_audio_can_come_from_a_zip_with_subfolders():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("clips/abc.wav", song_clip_wav("abc", seconds=2.0))
        archive.writestr("__MACOSX/._abc.wav", b"resource fork")
    buffer.seek(0)
    study = StudyFactory()
    songs_import(study=study, csv_source=HEADER + "abc,FR,France,One,A\n", audio=AudioZip(buffer))
    assert study.songs.get().duration_seconds == pytest.approx(2.0, abs=0.01)


def test_the_same_external_id_may_exist_in_two_studies():
    first, second = StudyFactory(), StudyFactory()
    songs_import(study=first, csv_source=HEADER + "abc,FR,France,One,A\n")
    songs_import(study=second, csv_source=HEADER + "abc,FR,France,One,A\n")
    assert Song.objects.filter(external_id="abc").count() == 2
