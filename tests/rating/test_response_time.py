"""The response time `too_fast` reads: measured by the page, capped by the server's clock,
believed beyond it only from a simulator that signs it with the deployment's key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rating.models import Trial
from rating.timing import SIMULATED_CLOCK_HEADER, simulated_clock_signature
from tests.rating.factories import participant_in
from tests.rating.test_trial_api import answer, client_for, current, submit_url


@pytest.fixture
def client(api_client, small_study):
    return client_for(api_client, participant_in(small_study))


def _held_for(trial_id: int, seconds: float) -> None:
    """As if the trial had been handed out `seconds` ago."""
    trial = Trial.objects.get(pk=trial_id)
    Trial.objects.filter(pk=trial_id).update(
        assigned_at=trial.assigned_at - timedelta(seconds=seconds)
    )


def test_the_page_s_measured_time_is_stored(client):
    trial = current(client)["trial"]
    _held_for(trial["id"], 40)

    client.post(submit_url(trial["id"]), answer(trial, response_seconds=18.5), format="json")

    assert Trial.objects.get(pk=trial["id"]).response_seconds == 18.5


def test_a_client_cannot_claim_more_time_than_passed_on_the_server(client):
    trial = current(client)["trial"]

    client.post(submit_url(trial["id"]), answer(trial, response_seconds=500.0), format="json")

    assert Trial.objects.get(pk=trial["id"]).response_seconds < 60


def test_without_a_measured_time_the_server_s_elapsed_time_counts(client):
    trial = current(client)["trial"]
    _held_for(trial["id"], 40)

    client.post(submit_url(trial["id"]), answer(trial), format="json")

    assert 40 <= Trial.objects.get(pk=trial["id"]).response_seconds < 100


def test_a_signed_simulator_s_time_is_believed_and_a_forged_signature_is_not(client):
    trial = current(client)["trial"]
    response = client.post(
        submit_url(trial["id"]),
        answer(trial, response_seconds=21.0),
        format="json",
        headers={SIMULATED_CLOCK_HEADER: simulated_clock_signature(trial["id"])},
    )
    assert Trial.objects.get(pk=trial["id"]).response_seconds == 21.0

    following = response.json()["next"]["trial"]
    client.post(
        submit_url(following["id"]),
        answer(following, response_seconds=21.0),
        format="json",
        headers={SIMULATED_CLOCK_HEADER: simulated_clock_signature(trial["id"])},  # another trial's
    )
    assert Trial.objects.get(pk=following["id"]).response_seconds < 21.0
