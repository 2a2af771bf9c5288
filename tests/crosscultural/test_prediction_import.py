import pytest

from analysis.crosscultural.models import Prediction, PredictionSet
from analysis.crosscultural.selectors import prediction_frame
from analysis.crosscultural.services import prediction_set_import
from moodlab.studies.csv_import import ImportFailed
from tests.conftest import build_study


@pytest.fixture
def study(db):
    return build_study(locales=("en-US", "ko-KR"))


def first_song(study) -> str:
    return study.songs.order_by("external_id").first().external_id


def test_predictions_are_stored_with_terms_matched_by_key_label_or_gloss(study):
    song = first_song(study)
    csv = (
        "song,locale,term,score\n"
        f"{song},en-US,happy,4.5\n"
        f"{song},ko-KR,슬픈,1.5\n"
        f"{song},ko-KR,Calm,2\n"
    )

    prediction_set, report = prediction_set_import(study=study, name="m1", csv_source=csv)

    assert report.created == 3
    assert prediction_set.row_count == 3
    frame = prediction_frame(prediction_set=prediction_set).sort_values("score")
    assert frame.to_dict(orient="records") == [
        {"locale": "ko-KR", "song": song, "term": "슬픈", "score": 1.5},
        {"locale": "ko-KR", "song": song, "term": "잔잔한", "score": 2.0},
        {"locale": "en-US", "song": song, "term": "happy", "score": 4.5},
    ]


def test_a_bad_prediction_file_reports_every_bad_row_and_stores_nothing(study):
    song = first_song(study)
    csv = (
        "song,locale,term,score\n"
        f"nosuchsong,en-US,happy,1\n"
        f"{song},xx-XX,happy,1\n"
        f"{song},en-US,nosuchterm,1\n"
        f"{song},en-US,happy,high\n"
        f"{song},en-US,sad,2\n"
        f"{song},en-US,SAD,3\n"
        f"{song},en-US,calm,\n"
    )

    with pytest.raises(ImportFailed) as failure:
        prediction_set_import(study=study, name="broken", csv_source=csv)

    problems = {(error.row, error.field) for error in failure.value.report.errors}
    assert problems == {
        (2, "song"),
        (3, "locale"),
        (4, "term"),
        (5, "score"),
        (7, ""),
        (8, "score"),
    }
    assert "duplicates row 6" in str(failure.value.report.errors[-2])
    assert not PredictionSet.objects.exists()
    assert not Prediction.objects.exists()


def test_a_prediction_file_without_the_required_columns_is_refused(study):
    with pytest.raises(ImportFailed, match="problem"):
        prediction_set_import(study=study, name="m", csv_source="song,term\nx,y\n")


def test_a_second_set_with_the_same_name_is_refused(study):
    csv = f"song,locale,term,score\n{first_song(study)},en-US,happy,1\n"
    prediction_set_import(study=study, name="m", csv_source=csv)

    with pytest.raises(ImportFailed):
        prediction_set_import(study=study, name="m", csv_source=csv)
    assert PredictionSet.objects.count() == 1
