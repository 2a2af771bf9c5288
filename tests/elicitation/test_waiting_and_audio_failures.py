"""Elicitation sessions never complete at 0 turns; a turn whose clip failed gives its chain back."""

import pytest

from elicitation.models import Chain, Turn
from elicitation.services.chains import turn_claim, turn_report_audio_failure
from moodlab.studies.models import Participant
from tests.elicitation.factories import elicitation_study, participant_in, take_turn

pytestmark = pytest.mark.django_db


def test_a_newcomer_finding_every_chain_held_waits_and_is_not_completed():
    study = elicitation_study(songs=1)
    turn_claim(participant=participant_in(study))
    newcomer = participant_in(study)

    assert turn_claim(participant=newcomer) is None

    newcomer.refresh_from_db()
    assert newcomer.status == Participant.Status.STARTED


def test_the_turn_api_tells_a_waiting_participant_to_ask_again(api_client):
    study = elicitation_study(songs=1)
    turn_claim(participant=participant_in(study))
    newcomer = participant_in(study)
    api_client.credentials(HTTP_AUTHORIZATION=f"Participant {newcomer.token}")
    state = api_client.get("/api/v1/elicitation/turn/").json()
    assert (state["done"], state["waiting"], state["turn"]) == (False, True, None)
    assert state["retry_after_seconds"] > 0


def test_a_turn_whose_clip_failed_frees_its_chain_for_the_next_participant():
    study = elicitation_study(songs=2)
    participant = participant_in(study)
    broken = turn_claim(participant=participant)

    turn_report_audio_failure(participant=participant, turn_id=broken.pk)

    broken.refresh_from_db()
    chain = Chain.objects.get(pk=broken.chain_id)
    assert broken.status == Turn.Status.NO_AUDIO
    assert (chain.held_by, chain.turns_done) == (None, 0)
    following = turn_claim(participant=participant)
    assert following.song_id != broken.song_id
    # The next participant takes the freed chain, at the index the failed turn had.
    taken = take_turn(participant_in(study), new_tags=["calm"])
    assert (taken.chain_id, taken.index) == (chain.pk, broken.index)
