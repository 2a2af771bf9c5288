"""Who holds a participant session: the token never rests in the database, and a panel id
alone is not enough to take a session over or to turn its owner away."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from moodlab.studies.api.permissions import PARTICIPANT_SESSION_KEY
from moodlab.studies.models import Participant, RecruiterIdentity
from moodlab.studies.selectors import participant_by_token
from tests.rating.factories import rating_study_with

pytestmark = pytest.mark.django_db
ENTER = "/api/v1/participants/"


@pytest.fixture
def study():
    return rating_study_with(
        trials_per_participant=3, repeat_trials=0, slug="identity", ask_consent=True
    )


def enter(api_client, study, panel_id: str = "PANEL-1", **parameters: str):
    return api_client.post(
        ENTER,
        {
            "study": study.slug,
            "locale": "en-US",
            "recruiter_participant_id": panel_id,
            "entry_parameters": parameters,
        },
        format="json",
    )


def state(api_client, token: str):
    return api_client.get("/api/v1/participants/me/", HTTP_AUTHORIZATION=f"Participant {token}")


def test_the_database_keeps_only_a_hash_of_the_token(api_client, study):
    token = enter(api_client, study).json()["token"]
    participant = Participant.objects.get()
    assert participant.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM studies_participant")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert token not in stored
    assert state(api_client, token).status_code == 200


def test_the_migration_hashes_existing_tokens_and_their_sessions_go_on(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate([("studies", "0002_schedule_participant_expiry")])
    old_apps = executor.loader.project_state([("studies", "0002_schedule_participant_expiry")]).apps
    study_model = old_apps.get_model("studies", "Study")
    locale_model = old_apps.get_model("studies", "StudyLocale")
    old_participant = old_apps.get_model("studies", "Participant")
    study = study_model.objects.create(slug="before", title="Before")
    locale = locale_model.objects.create(study=study, code="en-US", name="English")
    old_participant.objects.create(
        study=study, locale=locale, phase="rating", token="raw-token-of-an-old-session"
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    participant = participant_by_token("raw-token-of-an-old-session")
    assert participant is not None and participant.study.slug == "before"
    assert "token" not in {field.name for field in Participant._meta.get_fields()}


def test_resuming_from_another_browser_never_hands_out_the_existing_token(api_client, study):
    first = enter(api_client, study).json()["token"]
    second = enter(api_client, study).json()["token"]
    assert second != first
    assert state(api_client, second).status_code == 200
    assert state(api_client, first).status_code in (401, 403)  # the old secret stopped working
    assert Participant.objects.count() == 1


def test_resuming_needs_the_panels_session_id_where_the_panel_sends_one(api_client, study):
    owner = enter(api_client, study, SESSION_ID="prolific-session-1").json()["token"]
    participant = Participant.objects.get()
    from tests.factories import ready_for_trials

    ready_for_trials(participant)  # consented: the session holds answers
    taken = enter(api_client, study, SESSION_ID="guessed")
    assert taken.status_code == 403
    assert taken.json()["error"]["code"] == "session_mismatch"
    assert "token" not in taken.json()
    assert state(api_client, owner).status_code == 200  # the owner's browser goes on
    resumed = enter(api_client, study, SESSION_ID="prolific-session-1")
    assert resumed.status_code == 200


def test_an_impostors_decline_does_not_turn_the_real_participant_away(api_client, study):
    impostor = enter(api_client, study, SESSION_ID="made-up").json()["token"]
    declined = api_client.post(
        "/api/v1/participants/me/consent/",
        {"agree": False},
        format="json",
        HTTP_AUTHORIZATION=f"Participant {impostor}",
    )
    assert declined.status_code == 200, declined.content
    real = enter(api_client, study, SESSION_ID="prolific-session-1")
    assert real.status_code == 201, real.content
    assert state(api_client, real.json()["token"]).status_code == 200
    identity = RecruiterIdentity.objects.get()
    assert str(identity.participant.public_id) == real.json()["public_id"]
    assert identity.entry_parameters == {"SESSION_ID": "prolific-session-1"}


def test_an_impostors_unconsented_session_is_replaced_by_the_real_participants(api_client, study):
    impostor = enter(api_client, study, SESSION_ID="made-up").json()["token"]
    real = enter(api_client, study, SESSION_ID="prolific-session-1")
    assert real.status_code == 201
    replaced = participant_by_token(impostor)
    assert replaced.status == Participant.Status.TIMED_OUT
    assert Participant.objects.filter(status="started").count() == 1


def test_the_entry_page_keeps_only_the_fresh_token_in_the_browser_session(study):
    browser, other = Client(), Client()
    browser.get("/study/identity/en-US/?PROLIFIC_PID=pid-9&SESSION_ID=s9")
    other.get("/study/identity/en-US/?PROLIFIC_PID=pid-9&SESSION_ID=s9")
    mine = browser.session[PARTICIPANT_SESSION_KEY]
    theirs = other.session[PARTICIPANT_SESSION_KEY]
    assert mine != theirs
    assert participant_by_token(mine) is None  # taken over by the later entry
    assert participant_by_token(theirs) == Participant.objects.get()
