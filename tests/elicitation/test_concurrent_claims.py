import threading

import pytest
from django.db import connection

from elicitation.models import Turn
from elicitation.services.chains import turn_claim
from tests.elicitation.factories import elicitation_study, participant_in

PARTICIPANTS = 12
SONGS = 5


@pytest.mark.django_db(transaction=True)
def test_two_participants_claiming_at_once_never_hold_the_same_chain():
    study = elicitation_study(songs=SONGS)
    participants = [participant_in(study) for _ in range(PARTICIPANTS)]
    start = threading.Barrier(PARTICIPANTS)
    claimed: list[int | None] = []
    errors: list[BaseException] = []

    def claim(participant):
        try:
            start.wait()
            turn = turn_claim(participant=participant)
            claimed.append(turn.chain_id if turn else None)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(p,)) for p in participants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    held = [chain_id for chain_id in claimed if chain_id is not None]
    assert len(held) == SONGS
    assert len(set(held)) == SONGS
    assert Turn.objects.filter(status=Turn.Status.HELD).count() == SONGS
