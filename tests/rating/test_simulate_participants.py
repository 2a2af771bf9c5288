from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Max, Min

from moodlab.simulation import MoodModel, world_seed_for
from moodlab.studies.models import Participant
from rating.models import Cell, Rating
from tests.rating.factories import rating_study_with

LOCALES = ("en-US", "fr-FR", "es-MX", "ko-KR", "ar-EG")


@pytest.mark.django_db(transaction=True)
def test_simulated_participants_fill_a_small_study_in_all_five_locales():
    # 3 songs × 7 terms × 2 ratings per locale: two full sessions fill a locale, and the
    # participants after them find nothing left and finish at once.
    study = rating_study_with(
        locales=LOCALES,
        terms_per_locale=7,
        trials_per_participant=3,
        repeat_trials=1,
        target_ratings_per_cell=2,
    )
    study.songs.exclude(pk__in=list(study.songs.values_list("pk", flat=True)[:3])).delete()
    out = StringIO()

    call_command(
        "simulate_participants",
        study=study.slug,
        locale="all",
        count=5,
        concurrency=6,
        seed=3,
        stdout=out,
    )

    summary = out.getvalue()
    assert "participants 25," in summary
    assert "errors 0" in summary
    cells = Cell.objects.filter(locale__study=study)
    assert cells.count() == 5 * 3 * 7
    assert cells.aggregate(low=Min("rated"), high=Max("rated")) == {"low": 2, "high": 2}
    by_locale = dict(
        Participant.objects.filter(study=study, status=Participant.Status.COMPLETED)
        .values_list("locale__code")
        .annotate(n=Count("id"))
    )
    assert set(by_locale) == set(LOCALES)
    assert Rating.objects.filter(trial__is_repeat=True).exists()


@pytest.mark.django_db(transaction=True)
def test_simulated_ratings_follow_the_mood_model():
    study = rating_study_with(
        locales=("en-US",), terms_per_locale=7, trials_per_participant=5, repeat_trials=0
    )
    call_command(
        "simulate_participants",
        study=study.slug,
        locale="en-US",
        count=12,
        concurrency=4,
        seed=5,
        stdout=StringIO(),
    )
    model = MoodModel(seed=world_seed_for(study.slug))
    pairs = np.array(
        [
            (value, model.expected(song, gloss, "en-US"))
            for value, song, gloss in Rating.objects.values_list(
                "value", "song__external_id", "term__label_en"
            )
        ]
    )
    assert len(pairs) >= 5 * 7 * 8
    assert np.corrcoef(pairs.T)[0, 1] > 0.5


def test_an_unknown_locale_is_refused(small_study):
    with pytest.raises(CommandError, match="no active locale"):
        call_command("simulate_participants", study=small_study.slug, locale="xx-XX", count=1)
