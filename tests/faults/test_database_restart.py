"""PostgreSQL restarted under load: clean 503s with Retry-After while it is gone, recovery
without restarting MoodLab, and every acknowledged rating stored.

MoodLab runs in its own process and reaches PostgreSQL through a TCP proxy the test cuts
(every connection dropped, new ones refused) and restores, as a restart looks to clients.
"""

from __future__ import annotations

import threading
import time

from moodlab.studies.models import Participant
from rating.models import Rating, Trial
from tests.faults.conftest import database_url
from tests.rating.factories import rating_study_with

PARTICIPANTS = 4


def test_a_database_restart_under_load_answers_503_then_recovers_losing_nothing(
    app_server, database_proxy
):
    study = rating_study_with(trials_per_participant=5, repeat_trials=1)
    server = app_server(
        {"DATABASE_URL": database_url(database_proxy.port), "CELERY_BROKER_URL": ""}
    )
    acknowledged: dict[int, dict[str, int]] = {}
    outages: list[tuple[str | None, dict]] = []
    unexpected: list[str] = []
    finished: list[str] = []
    lock = threading.Lock()

    def call(client, method: str, url: str, **kwargs):
        """Retry through the outage as a participant's browser does: after Retry-After."""
        while True:
            response = client.request(method, url, **kwargs)
            if response.status_code != 503:
                return response
            with lock:
                outages.append((response.headers.get("Retry-After"), response.json()))
            time.sleep(0.2)

    def participant(number: int) -> None:
        with server.client() as client:
            entered = call(
                client,
                "POST",
                "/api/v1/participants/",
                json={
                    "study": study.slug,
                    "locale": "en-US",
                    "recruiter_participant_id": f"PG-{number}",
                },
            )
            headers = {"Authorization": f"Participant {entered.json()['token']}"}
            while trial := call(client, "GET", "/api/v1/rating/trial/", headers=headers).json()[
                "trial"
            ]:
                ratings = {str(term["id"]): 1 + number % 5 for term in trial["terms"]}
                submitted = call(
                    client,
                    "POST",
                    f"/api/v1/rating/trials/{trial['id']}/submit/",
                    headers=headers,
                    json={"ratings": ratings, "audio_played_seconds": 60},
                )
                if submitted.status_code != 200:
                    unexpected.append(f"submit {submitted.status_code}: {submitted.text}")
                    return
                with lock:
                    acknowledged[trial["id"]] = ratings
            done = call(client, "POST", "/api/v1/rating/finish/", headers=headers)
            if done.status_code == 200:
                finished.append(entered.json()["token"])
            else:
                unexpected.append(f"finish {done.status_code}: {done.text}")

    threads = [threading.Thread(target=participant, args=(n,)) for n in range(PARTICIPANTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < PARTICIPANTS and time.monotonic() < deadline:
        time.sleep(0.05)
    database_proxy.cut()
    time.sleep(2)
    database_proxy.restore()
    for thread in threads:
        thread.join(timeout=120)

    assert not unexpected, unexpected
    assert len(finished) == PARTICIPANTS
    assert outages, "the cut was not seen: no request answered 503"
    for retry_after, body in outages:
        assert retry_after == "5"
        assert body["error"]["code"] == "database_unavailable"
    # Every acknowledged trial is stored with exactly the values the participant was told.
    for trial_id, ratings in acknowledged.items():
        stored = dict(Rating.objects.filter(trial_id=trial_id).values_list("term_id", "value"))
        assert stored == {int(term): value for term, value in ratings.items()}
    assert Trial.objects.filter(participant__study=study, status="submitted").count() == len(
        acknowledged
    )
    assert Participant.objects.filter(study=study, status="completed").count() == PARTICIPANTS
