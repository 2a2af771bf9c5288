import pytest

from analysis.crosscultural.selectors import RATING_COLUMNS, study_ratings_frame
from analysis.services.quality import exclusion_override
from analysis.services.snapshots import snapshot_export
from moodlab.simulation import MoodModel
from moodlab.studies.models import Participant
from rating.models import Rating
from tests.conftest import build_study
from tests.crosscultural.factories import simulate_ratings
from tests.factories import UserFactory


@pytest.fixture
def study(db):
    return build_study(locales=("en-US", "ko-KR"))


def test_the_ratings_frame_has_one_labelled_row_per_rating(study):
    simulate_ratings(study, model=MoodModel(), raters_per_locale=2, terms_per_rater=3)
    rating = Rating.objects.select_related("song", "term__locale").order_by("pk").first()

    frame = study_ratings_frame(study=study)

    assert list(frame.columns) == list(RATING_COLUMNS)
    assert len(frame) == Rating.objects.count() == 2 * 2 * 59 * 3
    row = frame[
        (frame["participant"] == rating.participant_id)
        & (frame["song"] == rating.song.external_id)
        & (frame["term"] == rating.term.key)
    ].iloc[0]
    assert row["locale"] == rating.term.locale.code
    assert row["gloss"] == rating.term.label_en
    assert row["value"] == rating.value


def test_the_ratings_frame_leaves_out_excluded_participants(study):
    kept = simulate_ratings(study, model=MoodModel(), raters_per_locale=1, terms_per_rater=2)
    simulate_ratings(
        study,
        model=MoodModel(),
        raters_per_locale=1,
        terms_per_rater=2,
        status=Participant.Status.EXCLUDED,
    )

    frame = study_ratings_frame(study=study)

    assert set(frame["participant"]) == {participant.pk for participant in kept}


def test_another_studys_ratings_are_not_in_the_frame(study):
    other = build_study(locales=("en-US",))
    simulate_ratings(other, model=MoodModel(), raters_per_locale=1, terms_per_rater=2)

    assert study_ratings_frame(study=study).empty


def test_a_snapshot_is_read_as_published_without_repeats_or_excluded_participants(study):
    participants = simulate_ratings(
        study, model=MoodModel(), raters_per_locale=2, terms_per_rater=2
    )
    excluded = participants[1]
    exclusion_override(
        participant_id=excluded.pk, override="exclude", reason="test", user=UserFactory()
    )
    live = study_ratings_frame(study=study)
    snapshot = snapshot_export(study_id=study.pk)
    Rating.objects.update(value=1)  # changed after publishing: the snapshot must not see it

    frame = study_ratings_frame(study=study, snapshot_version=str(snapshot.version))

    assert excluded.pk not in set(live["participant"])
    assert list(frame.columns) == list(RATING_COLUMNS)
    assert len(frame) == len(live) == Rating.objects.exclude(participant=excluded).count()
    assert frame["value"].sum() == live["value"].sum()  # the published values
    glosses = frame.groupby(["locale", "term"], observed=True)["gloss"].first()
    live_glosses = live.groupby(["locale", "term"], observed=True)["gloss"].first()
    assert glosses.to_dict() == live_glosses.to_dict()


def test_an_unknown_snapshot_version_names_the_complete_ones(study):
    simulate_ratings(study, model=MoodModel(), raters_per_locale=1, terms_per_rater=2)
    snapshot_export(study_id=study.pk)
    with pytest.raises(ValueError, match=r"no complete snapshot '7' \(complete: 1\)"):
        study_ratings_frame(study=study, snapshot_version="7")
