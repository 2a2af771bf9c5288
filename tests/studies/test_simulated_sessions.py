"""Simulated participants on studies with every step on: consent, prescreens, questionnaire."""

from __future__ import annotations

from io import StringIO

import httpx
import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from elicitation.simulated import simulate_elicitation_participant
from moodlab.simulation import MoodModel, RaterKind, RaterProfile
from moodlab.studies.models import Participant, PrescreenResult, QuestionnaireResponse, Study
from moodlab.studies.services.steps import STEP_ORDER, enabled_steps
from moodlab.studies.simulated import PatientTransport
from rating.models import Rating, Trial
from tests.conftest import build_study
from tests.elicitation.factories import elicitation_study

LOCALES = ("en-US", "ko-KR", "ar-EG")
CAREFUL = RaterProfile(
    kind=RaterKind.CAREFUL, noise_sd=0.5, leniency=0.0, seconds_per_term=3, seconds_sd=1
)


def every_step_study() -> Study:
    study = build_study(locales=LOCALES, trials_per_participant=2, repeat_trials=1)
    assert enabled_steps(study) == list(STEP_ORDER)
    return study


def simulate(study: Study, **options: object) -> str:
    out = StringIO()
    call_command(
        "simulate_participants",
        study=study.slug,
        locale="all",
        stdout=out,
        **{"count": 2, "concurrency": 3, "seed": 4, **options},
    )
    return out.getvalue()


def results(kind: str) -> list[bool]:
    return list(PrescreenResult.objects.filter(kind=kind).values_list("passed", flat=True))


@pytest.mark.django_db(transaction=True)
def test_simulated_participants_take_every_step_of_a_rating_study_and_complete():
    study = every_step_study()

    summary = simulate(study, count=3)

    # The model's default share of dropouts leaves some sessions open after a few trials.
    participants = Participant.objects.filter(study=study)
    completed = participants.filter(status=Participant.Status.COMPLETED)
    dropped = participants.filter(status=Participant.Status.STARTED)
    assert f"participants 9, completed {len(completed)}, screened out 0, " in summary
    assert f"dropped {len(dropped)}, " in summary
    assert f"ratings {Rating.objects.count()}, errors 0" in summary
    assert len(completed) >= 5 and len(completed) + len(dropped) == 9
    assert all(p.consented_at is not None for p in participants)
    for kind in PrescreenResult.Kind:
        assert results(kind) == [True] * 9
    assert set(QuestionnaireResponse.objects.values_list("participant", flat=True)) == {
        p.pk for p in completed
    }
    assert all(p.trials.filter(status=Trial.Status.SUBMITTED).count() == 3 for p in completed)


@pytest.mark.django_db(transaction=True)
def test_simulated_questionnaire_answers_fit_the_locale_and_are_stored():
    study = every_step_study()

    simulate(study)

    responses = QuestionnaireResponse.objects.select_related("participant__locale")
    assert len(responses) >= 4
    for response in responses:
        answers = response.answers
        language, region = response.participant.locale.code.split("-")
        assert answers["country"] == region
        assert answers["native_language"] == language
        assert 18 <= answers["age"] <= 70
        assert answers["technical_problems"] == ""


@pytest.mark.django_db(transaction=True)
def test_inattentive_listeners_fail_the_headphone_check_and_are_screened_out():
    study = every_step_study()

    summary = simulate(study, inattentive_share=1.0)

    assert (
        "participants 6, completed 0, screened out 6, turned away (study full) 0, dropped 0, "
        "trials 0," in summary
    )
    assert "errors 0" in summary
    assert set(Participant.objects.values_list("status", flat=True)) == {"screened_out"}
    assert results(PrescreenResult.Kind.HEADPHONES) == [False] * 6
    assert results(PrescreenResult.Kind.VOCABULARY) == []
    assert not QuestionnaireResponse.objects.exists()
    assert not Rating.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_listeners_who_misclass_every_word_are_screened_out_at_the_vocabulary_check():
    study = every_step_study()

    summary = simulate(study, vocabulary_error_rate=1.0)

    assert "completed 0, screened out 6," in summary
    assert results(PrescreenResult.Kind.HEADPHONES) == [True] * 6
    assert set(
        PrescreenResult.objects.filter(kind=PrescreenResult.Kind.VOCABULARY).values_list(
            "passed", "score"
        )
    ) == {(False, 0.0)}


@pytest.mark.django_db(transaction=True)
def test_a_few_vocabulary_slips_still_pass_the_check():
    study = every_step_study()

    simulate(study, vocabulary_error_rate=0.2)

    scores = PrescreenResult.objects.filter(kind=PrescreenResult.Kind.VOCABULARY).values_list(
        "score", flat=True
    )
    assert len(scores) == 6
    assert min(scores) >= 0.5
    assert sum(scores) / len(scores) < 0.95
    assert not Participant.objects.filter(status=Participant.Status.SCREENED_OUT).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("option", ["inattentive_share", "vocabulary_error_rate"])
def test_a_share_outside_zero_to_one_is_refused(panel_study, option):
    with pytest.raises(CommandError, match="must be in"):
        call_command(
            "simulate_participants", study=panel_study.slug, locale="all", count=1, **{option: 1.5}
        )


@pytest.mark.django_db(transaction=True)
def test_a_simulated_elicitation_participant_takes_every_step_and_completes(live_server):
    study = elicitation_study(locales=("ko-KR",), songs=2, turns_per_participant=2)
    assert "questionnaire" in enabled_steps(study) and "headphone_check" in enabled_steps(study)

    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        session = simulate_elicitation_participant(
            client,
            study_slug=study.slug,
            locale_code="ko-KR",
            recruiter_id="sim-all-steps",
            model=MoodModel(seed=2),
            rater=CAREFUL,
            rng=np.random.default_rng(2),
        )

    participant = Participant.objects.get()
    assert (session.trials, session.status) == (2, Participant.Status.COMPLETED)
    assert participant.status == Participant.Status.COMPLETED
    assert participant.prescreen_results.filter(passed=True).count() == 3
    assert participant.questionnaire.answers["country"] == "KR"


def test_a_throttled_request_is_sent_again_after_the_wait_the_server_names():
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(201, json={"token": "t"}),
        ]
    )
    sent: list[bytes] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(request.read())
        return next(answers)

    transport = PatientTransport(httpx.MockTransport(server))
    with httpx.Client(base_url="http://moodlab.invalid", transport=transport) as client:
        response = client.post("/api/v1/participants/", json={"study": "demo"})

    assert response.status_code == 201
    assert sent == [b'{"study":"demo"}'] * 3
