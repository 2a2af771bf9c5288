"""Odd or oversized input gets a bounded, clear 4xx, never a 500, a spooled upload or
seconds of a worker's time."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client

from elicitation.models import ChainTag
from moodlab.studies.models import Participant
from tests.elicitation.factories import elicitation_study, participant_in, take_turn
from tests.factories import UserFactory
from tests.rating.factories import rating_study_with
from tests.security.conftest import World

pytestmark = pytest.mark.django_db
ENTER = "/api/v1/participants/"


@pytest.fixture
def study():
    return rating_study_with(trials_per_participant=3, repeat_trials=0, slug="limits")


def entered(api_client, study) -> str:
    response = api_client.post(
        ENTER,
        {"study": study.slug, "locale": "en-US", "recruiter_participant_id": "P1"},
        format="json",
    )
    return response.json()["token"]


class UploadsSeen(FileUploadHandler):
    """Records that Django began reading a multipart body into an upload."""

    started: list[str] = []

    def new_file(self, *args, **kwargs):
        UploadsSeen.started.append(args[1] if len(args) > 1 else "file")
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None


def multipart(size: int) -> tuple[bytes, str]:
    boundary = "moodlabboundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"x" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


# --- 5. body size on unauthenticated routes, whatever the content type -------------------


@pytest.mark.parametrize("url", [ENTER, "/study/limits/en-US/", "/admin/login/"])
def test_a_multipart_body_over_the_limit_is_refused_before_anything_reads_it(study, settings, url):
    settings.FILE_UPLOAD_HANDLERS = ["tests.security.test_input_limits.UploadsSeen"]
    UploadsSeen.started.clear()
    body, content_type = multipart(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = Client().generic("POST", url, body, content_type=content_type)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert UploadsSeen.started == []
    assert not Participant.objects.exists()


def test_a_signed_in_researcher_keeps_the_larger_upload_limit(world: World, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body, content_type = multipart(4096)
    client = Client()
    client.force_login(world.researcher_x)
    response = client.generic(
        "POST", "/admin/studies/song/import/", body, content_type=content_type
    )
    assert response.status_code != 413
    anonymous = Client().generic(
        "POST", "/admin/studies/song/import/", body, content_type=content_type
    )
    assert anonymous.status_code == 413
    settings.RESEARCHER_UPLOAD_MAX_BYTES = 2048  # researchers' own limit holds too
    again = client.generic("POST", "/admin/studies/song/import/", body, content_type=content_type)
    assert again.status_code == 413


def test_a_researchers_api_token_also_keeps_the_larger_limit(world: World, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body, content_type = multipart(4096)
    url = f"/api/v1/studies/{world.x.slug}/predictions/"
    with_token = Client().generic(
        "POST",
        url,
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=world.token(world.researcher_x),
    )
    assert with_token.status_code == 400  # read and refused as a bad upload, not as too large
    reader = UserFactory(username="reader-without-staff", is_staff=False)
    not_staff = Client().generic(
        "POST", url, body, content_type=content_type, HTTP_AUTHORIZATION=world.token(reader)
    )
    assert not_staff.status_code == 413


# --- 6. ratings per submission -----------------------------------------------------------


def test_a_submission_with_more_ratings_than_the_trial_has_terms_is_refused_briefly(
    api_client, study
):
    token = entered(api_client, study)
    auth = {"HTTP_AUTHORIZATION": f"Participant {token}"}
    trial = api_client.get("/api/v1/rating/trial/", **auth).json()["trial"]
    ratings = {str(n): "not a value" for n in range(1, 20_001)}
    response = api_client.post(
        f"/api/v1/rating/trials/{trial['id']}/submit/",
        {"ratings": ratings, "audio_played_seconds": 30},
        format="json",
        **auth,
    )
    assert response.status_code == 400
    assert len(response.content) < 1000  # one message, not one per key
    assert (
        f"At most {study.terms_per_participant}" in response.json()["error"]["fields"]["ratings"][0]
    )


@pytest.mark.parametrize("key", ["²", "1" * 4301, "٣", "-1", "0x10", " 1"])
def test_a_rating_key_that_is_not_an_id_is_a_400(api_client, study, key):
    token = entered(api_client, study)
    auth = {"HTTP_AUTHORIZATION": f"Participant {token}"}
    trial = api_client.get("/api/v1/rating/trial/", **auth).json()["trial"]
    response = api_client.post(
        f"/api/v1/rating/trials/{trial['id']}/submit/",
        {"ratings": {key: 3}, "audio_played_seconds": 30},
        format="json",
        **auth,
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["fields"]["ratings"]


def test_an_elicitation_rating_key_that_is_not_an_id_is_a_400(api_client):
    participant = participant_in(elicitation_study(songs=1))
    auth = {"HTTP_AUTHORIZATION": f"Participant {participant.token}"}
    turn = api_client.get("/api/v1/elicitation/turn/", **auth).json()["turn"]
    response = api_client.post(
        "/api/v1/elicitation/turn/submit/",
        {"turn": turn["id"], "ratings": {"²": 3}, "new_tags": [], "audio_played_seconds": 9},
        format="json",
        **auth,
    )
    assert response.status_code == 400, response.content[:300]


# --- 8. NUL characters in addresses and form bodies --------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/study/limits/en-US/?PROLIFIC_PID=abc%00def",
        "/study/limits/en-US/?a%00b=1&PROLIFIC_PID=abc",
        "/study/limits/%00/",
        "/study/limits/en-US/session/?x=%00",
    ],
)
def test_a_nul_in_a_pages_address_is_a_translated_400_page(study, url):
    response = Client().get(url, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
    assert "Ce lien n’est pas valide" in response.content.decode()
    assert not Participant.objects.exists()


def test_a_nul_in_an_api_query_is_a_json_400(api_client, study):
    participant = participant_in(elicitation_study(songs=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Participant {participant.token}")
    response = api_client.get("/api/v1/elicitation/tags/?q=%00")
    assert response.status_code == 400
    assert response.json()["error"]["status"] == 400


@pytest.mark.parametrize(
    "form",
    [
        {"entry_parameters.a\x00b": "1"},
        {"entry_parameters.a": "x\x00y"},
        {"recruiter_participant_id": "P\x001"},
    ],
)
def test_a_nul_in_a_form_encoded_body_is_a_json_400(study, form):
    fields = {"study": study.slug, "locale": "en-US", "recruiter_participant_id": "P1", **form}
    response = Client().post(ENTER, fields)  # multipart, as a browser's form would send it
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["status"] == 400
    from urllib.parse import urlencode

    encoded = Client().post(
        ENTER, urlencode(fields), content_type="application/x-www-form-urlencoded"
    )
    assert encoded.status_code == 400, encoded.content[:300]
    assert not Participant.objects.exists()


# --- 12. hidden tags never come back through autocomplete --------------------------------


def test_a_tag_hidden_by_flags_is_not_suggested_to_other_participants(api_client):
    study = elicitation_study(songs=1, hide_flag_count=1)
    author, flagger, other = (participant_in(study) for _ in range(3))
    take_turn(author, new_tags=["spooky"])
    spooky = ChainTag.objects.get(key__startswith="spooky")
    take_turn(flagger, ratings={spooky.pk: "flag"})
    assert ChainTag.objects.get(pk=spooky.pk).state == ChainTag.State.HIDDEN
    api_client.credentials(HTTP_AUTHORIZATION=f"Participant {other.token}")
    suggestions = api_client.get("/api/v1/elicitation/tags/?q=spo").json()
    assert [s["text"] for s in suggestions] == []


# --- 16. analysis parameters are validated where they are defined ------------------------


@pytest.mark.parametrize("params", [{"seed": -1}, {"seed": 2**32}, {"split_half_repetitions": 0}])
def test_a_bad_analysis_parameter_is_a_400_and_starts_nothing(world: World, params):
    from analysis.crosscultural.models import CrossCulturalAnalysis

    before = CrossCulturalAnalysis.objects.count()
    response = Client().post(
        f"/api/v1/studies/{world.x.slug}/analyses/",
        json.dumps({"params": params}),
        content_type="application/json",
        HTTP_AUTHORIZATION=world.token(world.researcher_x),
    )
    assert response.status_code == 400, response.content
    assert list(params) == list(response.json()["error"]["fields"]["params"])
    assert CrossCulturalAnalysis.objects.count() == before


def test_the_parameters_refuse_a_negative_seed_wherever_they_are_built():
    from analysis.crosscultural.computation import AnalysisParams, InvalidParamsError
    from analysis.crosscultural.services import analysis_params_validate
    from moodlab.errors import Invalid

    with pytest.raises(InvalidParamsError):
        AnalysisParams(seed=-1)
    with pytest.raises(Invalid) as refused:
        analysis_params_validate({"seed": -1})
    assert "seed" in refused.value.fields
