"""Two tabs answering the same check at the same moment: one answer stands, never two."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from moodlab.errors import Conflict
from moodlab.studies.models import Participant, PrescreenResult
from moodlab.studies.services.prescreens import headphone_positions, headphones_check
from tests.studies.conftest import enter


def _answer(participant_id: int, answers: list[int], gate: threading.Barrier) -> str:
    try:
        participant = Participant.objects.select_related("study", "locale").get(pk=participant_id)
        gate.wait()
        try:
            return (
                "passed"
                if headphones_check(participant=participant, answers=answers).passed
                else "failed"
            )
        except Conflict:
            return "conflict"
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_racing_headphone_answers_store_one_result_and_refuse_the_other(panel_study):
    panel_study.volume_calibration = False
    panel_study.save()
    participant = enter(panel_study)
    Participant.objects.filter(pk=participant.pk).update(consented_at=timezone.now())
    right = headphone_positions(participant)
    wrong = [position % 3 + 1 for position in right]
    gate = threading.Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(lambda a: _answer(participant.pk, a, gate), [right, wrong]))

    result = PrescreenResult.objects.get(participant=participant)
    assert outcomes in (["conflict", "passed"], ["conflict", "failed"])
    stored = "passed" if result.passed else "failed"
    assert stored in outcomes
    status = Participant.objects.get(pk=participant.pk).status
    assert status == ("started" if result.passed else "screened_out")
