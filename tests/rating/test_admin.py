from __future__ import annotations

import pytest
from django.urls import reverse

from analysis.models import ExclusionDecision
from moodlab.studies.models import Participant
from rating.models import Rating, Trial
from rating.selectors import study_progress
from tests.factories import UserFactory
from tests.rating.factories import participant_in, rate_every_trial, rating_study_with


@pytest.fixture
def admin_client(client, small_study):
    user = UserFactory(is_superuser=True)
    client.force_login(user)
    return client


def test_progress_counts_participants_by_outcome_and_ratings_per_cell(small_study):
    for _ in range(3):
        rate_every_trial(participant_in(small_study))
    participant_in(small_study).__class__.objects.filter(pk=participant_in(small_study).pk).update(
        status=Participant.Status.TIMED_OUT
    )
    (row,) = study_progress(study=small_study)
    assert row.started == 5
    assert row.timed_out == 1
    assert row.cells == 59 * 20
    assert row.cell_min == 0 and row.cell_max == 1
    assert row.target == 8
    assert row.ratings_saved == 0


def test_the_progress_page_takes_a_bounded_number_of_queries(
    admin_client, small_study, django_assert_max_num_queries
):
    for _ in range(4):
        rate_every_trial(participant_in(small_study))
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:rating_progress", args=[small_study.pk]))
    assert response.status_code == 200
    assert b"en-US" in response.content


def test_researchers_see_progress_only_for_their_studies(client, small_study):
    client.force_login(UserFactory(username="outsider"))
    response = client.get(reverse("admin:rating_progress", args=[small_study.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("url", ["admin:rating_trial_changelist", "admin:rating_rating_changelist"])
def test_trial_and_rating_lists_are_read_only_with_bounded_queries(
    admin_client, small_study, url, django_assert_max_num_queries
):
    for _ in range(3):
        rate_every_trial(participant_in(small_study))
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse(url))
    assert response.status_code == 200
    trial = Trial.objects.first()
    assert not admin_client.get(reverse("admin:rating_trial_change", args=[trial.pk])).context[
        "has_change_permission"
    ]


def test_a_participants_page_shows_their_trials_and_ratings(
    admin_client, small_study, django_assert_max_num_queries
):
    participant = participant_in(small_study)
    rate_every_trial(participant)
    with django_assert_max_num_queries(25):
        response = admin_client.get(
            reverse("admin:rating_ratingparticipant_change", args=[participant.pk])
        )
    assert response.status_code == 200
    rating = Rating.objects.filter(participant=participant).select_related("term").first()
    assert f"{rating.term.key}: 2".encode() in response.content


def test_the_exclude_action_asks_for_a_reason_then_keeps_who_and_why(admin_client, small_study):
    participant = participant_in(small_study)
    rate_every_trial(participant)
    url = reverse("admin:rating_ratingparticipant_changelist")
    form = {"action": "exclude_participants", "_selected_action": [participant.pk]}
    response = admin_client.post(url, form)
    assert response.status_code == 200 and b"reason" in response.content
    assert not ExclusionDecision.objects.exists()

    admin_client.post(url, {**form, "apply": "1", "reason": "random answers"})

    decision = ExclusionDecision.objects.get(participant=participant)
    assert (decision.excluded, decision.override) == (True, "exclude")
    assert decision.override_reason == "random answers"
    assert decision.overridden_by.is_superuser
    participant.refresh_from_db()
    assert participant.status == Participant.Status.EXCLUDED
    assert Rating.objects.filter(participant=participant).count() == 6 * 7


def test_the_study_page_shows_what_adaptive_stopping_saved_against_the_fixed_design(db, client):
    study = rating_study_with(
        terms_per_locale=7,
        trials_per_participant=1,
        repeat_trials=0,
        adaptive_stopping=True,
        adaptive_min_ratings=2,
    )
    study.songs.exclude(pk=study.songs.first().pk).delete()
    for _ in range(2):
        rate_every_trial(participant_in(study))  # all 2s: the seven cells retire at two ratings
    client.force_login(UserFactory(is_superuser=True))

    page = client.get(reverse("admin:studies_study_change", args=[study.pk])).content.decode()

    assert (
        "adaptive stopping retired 7 cells at the target standard error: "
        "42 of the fixed design&#x27;s 56 ratings not spent (75%)"
    ) in page
