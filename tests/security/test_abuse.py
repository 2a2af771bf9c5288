"""Abuse: rate limits on session creation and submissions (per participant and per address),
the proxy header that decides "per address", and the admin's login lockout.

Rates are lowered per test by patching SimpleRateThrottle.THROTTLE_RATES (monkeypatch undoes
it) and the cache cleared around each test, so no lowered rate or count leaks to others.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from moodlab.studies.selectors import participant_by_token
from tests.factories import UserFactory
from tests.rating.factories import rating_study_with

pytestmark = pytest.mark.django_db
GENEROUS = "10000/minute"


@pytest.fixture
def rates(monkeypatch):
    def lower(**scopes: str) -> None:
        rates = {
            "participant_start": GENEROUS,
            "participant_submit": GENEROUS,
            "address_submit": GENEROUS,
            **scopes,
        }
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)

    cache.clear()
    yield lower
    cache.clear()


@pytest.fixture
def study():
    return rating_study_with(trials_per_participant=3, repeat_trials=0, slug="abuse")


def enter(api_client, study, panel_id: str, address: str = "203.0.113.7", **headers):
    return api_client.post(
        "/api/v1/participants/",
        {"study": study.slug, "locale": "en-US", "recruiter_participant_id": panel_id},
        format="json",
        REMOTE_ADDR=address,
        **headers,
    )


def submit_first_trial(api_client, token: str, address: str = "203.0.113.7"):
    """Submit the current trial (again and again: a retry replays the same answer)."""
    auth = {"HTTP_AUTHORIZATION": f"Participant {token}", "REMOTE_ADDR": address}
    trial = api_client.get("/api/v1/rating/trial/", **auth).json()["trial"]
    ratings = {str(term["id"]): 2 for term in trial["terms"]}
    return api_client.post(
        f"/api/v1/rating/trials/{trial['id']}/submit/",
        {"ratings": ratings, "audio_played_seconds": 60},
        format="json",
        **auth,
    )


def test_session_creation_is_limited_per_address(api_client, study, rates):
    rates(participant_start="3/minute")
    statuses = [enter(api_client, study, f"P{n}").status_code for n in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = enter(api_client, study, "P9")
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert enter(api_client, study, "P10", address="198.51.100.1").status_code == 201


def test_the_entry_page_counts_new_sessions_with_the_entry_apis_limit(
    api_client, client, study, rates
):
    rates(participant_start="3/minute")
    assert enter(api_client, study, "P1").status_code == 201
    link = "/study/{}/en-US/?PROLIFIC_PID={}"
    pages = [
        client.get(link.format(study.slug, f"W{n}"), REMOTE_ADDR="203.0.113.7") for n in range(3)
    ]
    assert [page.status_code for page in pages] == [302, 302, 429]
    assert "Too many new sessions" in pages[-1].content.decode()
    assert enter(api_client, study, "P2").status_code == 429
    assert client.get(link.format(study.slug, "W9"), REMOTE_ADDR="198.51.100.1").status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_limit(api_client, study, rates):
    rates(participant_start="2/minute")
    statuses = [
        enter(api_client, study, f"P{n}", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]


def test_behind_one_proxy_the_limit_counts_the_address_the_proxy_saw(
    api_client, study, rates, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    rates(participant_start="2/minute")
    proxy = {"address": "10.1.1.1"}  # every request arrives from the load balancer

    def through_proxy(n: int, client_address: str, forged: str = "") -> int:
        chain = f"{forged}, {client_address}" if forged else client_address
        return enter(api_client, study, f"P{n}", HTTP_X_FORWARDED_FOR=chain, **proxy).status_code

    assert [through_proxy(n, "192.0.2.1", forged=f"1.2.3.{n}") for n in range(3)] == [
        201,
        201,
        429,
    ]
    assert through_proxy(5, "192.0.2.2") == 201  # another client behind the same proxy


def test_submissions_are_limited_per_participant(api_client, study, rates):
    rates(participant_submit="2/minute")
    token = enter(api_client, study, "P1").json()["token"]
    other = enter(api_client, study, "P2").json()["token"]
    assert [submit_first_trial(api_client, token).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert submit_first_trial(api_client, other).status_code == 200


def test_submissions_are_limited_per_address_across_participants(api_client, study, rates):
    rates(address_submit="3/minute")
    tokens = [enter(api_client, study, f"P{n}").json()["token"] for n in range(2)]
    statuses = [submit_first_trial(api_client, token).status_code for token in tokens * 2]
    assert statuses == [200, 200, 200, 429]
    elsewhere = submit_first_trial(api_client, tokens[0], address="198.51.100.9")
    assert elsewhere.status_code == 200


def test_a_throttled_submission_waits_for_the_period(api_client, study, rates):
    rates(participant_submit="1/minute")
    token = enter(api_client, study, "P1").json()["token"]
    submit_first_trial(api_client, token)
    refused = submit_first_trial(api_client, token)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 60


def test_a_window_holds_one_counter_per_participant_whatever_the_rate(api_client, study, rates):
    """The sliding list DRF keeps grew with the rate and was re-pickled on every request."""
    rates(participant_submit="3000/minute")
    token = enter(api_client, study, "P1").json()["token"]
    for _ in range(3):
        assert submit_first_trial(api_client, token).status_code == 200
    participant = participant_by_token(token)
    assert cache.get(f"throttle_window_participant_submit_{participant.pk}") == 3


def test_a_timestamp_list_left_by_drfs_throttle_does_not_break_counting(api_client, study, rates):
    rates(participant_start="2/minute")
    cache.set("throttle_participant_start_203.0.113.7", [time.time()], 60)
    assert [enter(api_client, study, f"P{n}").status_code for n in range(3)] == [201, 201, 429]


def test_the_limit_opens_again_once_the_window_has_passed(api_client, study, rates, monkeypatch):
    rates(participant_submit="2/minute")
    token = enter(api_client, study, "P1").json()["token"]
    statuses = [submit_first_trial(api_client, token).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)  # the cache's clock: the window expires
    assert submit_first_trial(api_client, token).status_code == 200


def test_a_locked_out_admin_login_stays_locked_whatever_forwarded_for_says(client, settings):
    settings.AXES_ENABLED = True
    UserFactory(username="victim", is_superuser=True)
    for n in range(5):
        client.post(
            "/admin/login/",
            {"username": "victim", "password": "guess"},
            HTTP_X_FORWARDED_FOR=f"10.9.9.{n}",
        )
    locked = client.post(
        "/admin/login/",
        {"username": "victim", "password": "correct horse battery staple"},
        HTTP_X_FORWARDED_FOR="10.9.9.200",
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
