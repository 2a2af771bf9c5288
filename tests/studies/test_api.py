import pytest
from rest_framework.authtoken.models import Token

from moodlab.studies.models import Participant, RecruiterIdentity, Study
from moodlab.studies.selectors import participant_by_token
from moodlab.studies.services.participants import participant_finish
from tests.factories import SongFactory, StudyFactory, StudyLocaleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_locale():
    return StudyLocaleFactory(
        study=StudyFactory(slug="open", phase=Study.Phase.RATING), code="ko-KR"
    )


def enter(api_client, **overrides):
    payload = {"study": "open", "locale": "ko-KR", "recruiter_participant_id": "PID-1", **overrides}
    return api_client.post("/api/v1/participants/", payload, format="json")


def test_an_entry_link_starts_a_session_with_a_secret_token(api_client, open_locale):
    response = enter(api_client, entry_parameters={"STUDY_ID": "s1", "SESSION_ID": "x"})
    assert response.status_code == 201
    body = response.json()
    participant = Participant.objects.get()
    assert participant_by_token(body["token"]) == participant and len(body["token"]) >= 40
    assert (body["study"], body["locale"], body["phase"]) == ("open", "ko-KR", "rating")
    identity = RecruiterIdentity.objects.get()
    assert identity.entry_parameters == {"STUDY_ID": "s1", "SESSION_ID": "x"}


def test_the_same_panel_id_resumes_its_session_instead_of_starting_another(api_client, open_locale):
    first = enter(api_client).json()
    second = enter(api_client)
    assert second.status_code == 200
    assert second.json()["public_id"] == first["public_id"]
    assert Participant.objects.count() == 1


def test_a_finished_participant_cannot_take_the_study_again(api_client, open_locale):
    enter(api_client)
    participant_finish(participant=Participant.objects.get(), status=Participant.Status.COMPLETED)
    response = enter(api_client)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "already_taken"


def test_a_link_without_panel_id_is_refused_when_the_study_requires_one(api_client, open_locale):
    response = enter(api_client, recruiter_participant_id="")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_id"
    open_locale.study.require_recruiter_id = False
    open_locale.study.save()
    assert enter(api_client, recruiter_participant_id="").status_code == 201


def test_a_study_in_draft_does_not_accept_participants(api_client, open_locale):
    Study.objects.update(phase=Study.Phase.DRAFT)
    assert enter(api_client).json()["error"]["code"] == "not_open"


def test_bad_entry_input_gets_field_errors_in_one_json_shape(api_client, open_locale):
    response = api_client.post(
        "/api/v1/participants/",
        {"study": "not a slug!", "recruiter_participant_id": "x" * 200},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (400, "invalid")
    assert set(error["fields"]) == {"study", "locale", "recruiter_participant_id"}
    assert not Participant.objects.exists()


def test_an_unknown_locale_is_a_404_in_the_same_shape(api_client, open_locale):
    response = enter(api_client, locale="de-DE")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_researchers_list_only_their_studies_with_a_token(api_client):
    researcher = UserFactory()
    mine = StudyFactory(slug="mine")
    mine.researchers.add(researcher)
    StudyFactory(slug="theirs")
    token = Token.objects.create(user=researcher)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api_client.get("/api/v1/studies/")
    assert [study["slug"] for study in response.json()["results"]] == ["mine"]
    assert api_client.get("/api/v1/studies/theirs/").status_code == 404


def test_songs_of_a_study_are_listed_and_filtered_for_its_researchers(api_client):
    researcher = UserFactory()
    study = StudyFactory(slug="mine")
    study.researchers.add(researcher)
    SongFactory(study=study, external_id="kr1", country="KR")
    SongFactory(study=study, external_id="fr1", country="FR")
    api_client.force_authenticate(researcher)
    response = api_client.get("/api/v1/studies/mine/songs/", {"country": "KR"})
    assert [song["external_id"] for song in response.json()["results"]] == ["kr1"]
    assert response.json()["results"][0]["country"] == "KR"


def test_anonymous_users_get_401_in_the_json_shape(api_client):
    response = api_client.get("/api/v1/studies/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/participants/" in paths
    assert "/api/v1/studies/{study_slug}/songs/" in paths
    assert client.get("/api/docs/").status_code == 200
