import httpx
import numpy as np
import pytest

from elicitation.models import Chain, ChainTag, Turn
from elicitation.simulated import simulate_elicitation_participant
from moodlab.simulation import MoodModel, RaterKind, RaterProfile
from moodlab.studies.models import Participant
from tests.elicitation.factories import elicitation_study

NO_PRESCREENS = {
    "ask_consent": False,
    "volume_calibration": False,
    "headphone_check": False,
    "vocabulary_check": False,
    "questionnaire": False,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("locale", ["ko-KR", "es-MX"])
def test_simulated_participants_fill_chains_through_the_http_api(live_server, locale):
    study = elicitation_study(
        locales=(locale,), songs=3, turns_per_participant=3, max_turns_per_chain=4, **NO_PRESCREENS
    )
    model = MoodModel(seed=7)
    rater = RaterProfile(
        kind=RaterKind.CAREFUL, noise_sd=0.5, leniency=0.0, seconds_per_term=3, seconds_sd=1
    )
    rng = np.random.default_rng(1)
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        sessions = [
            simulate_elicitation_participant(
                client,
                study_slug=study.slug,
                locale_code=locale,
                recruiter_id=f"sim-{n}",
                model=model,
                rater=rater,
                rng=rng,
            )
            for n in range(4)
        ]
    turns = [session.trials for session in sessions]
    assert turns[0] == 3  # a full session: turns_per_participant
    assert sum(turns) == Turn.objects.filter(status=Turn.Status.SUBMITTED).count()
    assert sum(Chain.objects.values_list("turns_done", flat=True)) == sum(turns)
    assert ChainTag.objects.filter(ratings_count__gt=0).exists()
    assert set(Participant.objects.values_list("status", flat=True)) == {"completed"}


@pytest.mark.django_db(transaction=True)
def test_a_simulated_participant_who_drops_out_stops_early(live_server):
    study = elicitation_study(songs=3, turns_per_participant=3, **NO_PRESCREENS)
    rater = RaterProfile(
        kind=RaterKind.RANDOM,
        noise_sd=0.5,
        leniency=0.0,
        seconds_per_term=1,
        seconds_sd=0.1,
        dropout_after=1,
    )
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        session = simulate_elicitation_participant(
            client,
            study_slug=study.slug,
            locale_code="en-US",
            recruiter_id="dropout",
            model=MoodModel(),
            rater=rater,
            rng=np.random.default_rng(3),
        )
    assert session.trials == 1
    assert session.status == Participant.Status.STARTED
    assert Participant.objects.get().status == Participant.Status.STARTED
