"""Hostile input: markup, spreadsheet formulas, SQL, oversized, malformed and invalid-Unicode
bodies. Every one is refused with a 4xx or stored inertly; none may answer 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from elicitation.models import ChainTag
from moodlab.studies.models import Participant
from moodlab.studies.normalization import TagError, clean_tag
from moodlab.studies.selectors import participant_by_token
from tests.elicitation.factories import chain_with_tags
from tests.rating.factories import rating_study_with

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror="alert(1)"><script>alert(1)</script>'
ENTER = "/api/v1/participants/"


@pytest.fixture
def study():
    return rating_study_with(trials_per_participant=3, repeat_trials=0, slug="hostile")


def enter(api_client, study, **fields):
    body = {"study": study.slug, "locale": "en-US", "recruiter_participant_id": "P1", **fields}
    return api_client.post(ENTER, body, format="json")


def test_markup_in_entry_answers_is_stored_as_text_and_escaped_in_the_admin(
    api_client, client, study
):
    entered = enter(api_client, study, entry_parameters={"q1": XSS}, recruiter_participant_id="x")
    assert entered.status_code == 201, entered.content
    assert entered["Content-Type"] == "application/json"
    participant = Participant.objects.get(public_id=entered.json()["public_id"])
    assert participant.recruiter_identity.entry_parameters["q1"] == XSS

    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_superuser=True))
    page = client.get(reverse("admin:studies_participant_change", args=[participant.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>alert(1)</script>" not in html and 'onerror="alert' not in html
    assert "&lt;script&gt;" in html


def test_markup_in_questionnaire_answers_is_escaped_in_the_admin(api_client, client, study):
    token = enter(api_client, study).json()["token"]
    participant = participant_by_token(token)
    Participant.objects.filter(pk=participant.pk).update(status=Participant.Status.COMPLETED)
    answered = api_client.post(
        "/api/v1/participants/me/questionnaire/",
        {
            "gender": "prefer_not",
            "country": "FR",
            "native_language": XSS[:60],
            "musical_training": "none",
            "technical_problems": XSS,
        },
        format="json",
        HTTP_AUTHORIZATION=f"Participant {token}",
    )
    assert answered.status_code == 200, answered.content
    assert participant_answers(participant)["technical_problems"] == XSS

    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_superuser=True))
    html = client.get(
        reverse("admin:studies_participant_change", args=[participant.pk])
    ).content.decode()
    assert "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" not in html and 'onerror="alert' not in html


def participant_answers(participant):
    from moodlab.studies.models import QuestionnaireResponse

    return QuestionnaireResponse.objects.get(participant=participant).answers


def test_markup_in_a_tag_is_refused_and_escaped_in_the_admin_if_stored_anyway(client, study):
    """The normaliser refuses < and >; a tag stored before that rule still renders inert."""
    from tests.factories import UserFactory

    locale = study.locales.get()
    with pytest.raises(TagError):
        clean_tag(XSS, language="en")
    chain = chain_with_tags(locale, study.songs.first(), {"calm": [3]})
    ChainTag.objects.filter(chain=chain).update(text=XSS)
    client.force_login(UserFactory(username="root", is_superuser=True))
    for url in (
        reverse("admin:elicitation_chain_changelist"),
        reverse("admin:elicitation_chain_change", args=[chain.pk]),
    ):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html and 'onerror="alert' not in html


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/studies/?phase=' OR '1'='1",
        "/api/v1/studies/?phase=rating;DROP TABLE studies_study;--",
        "/api/v1/studies/hostile/songs/?artist=' OR 1=1 --",
        "/api/v1/studies/hostile/songs/?country=US' UNION SELECT token FROM studies_participant--",
        "/api/v1/studies/hostile/songs/?limit=1;SELECT 1&offset=-1",
        "/api/v1/data/studies/hostile/mean-ratings/?locale=' OR 1=1--&term=1 OR 1=1",
        "/api/v1/studies/hostile%27%20OR%201=1--/",
        "/api/v1/studies/hostile/analyses/?status=queued' OR '1'='1",
        "/api/v1/studies/hostile/songs/?artist=%00",
    ],
)
def test_sql_injection_probes_in_query_strings_are_inert(api_client, study, url):
    from tests.factories import UserFactory

    researcher = UserFactory(username="r")
    study.researchers.add(researcher)
    api_client.force_authenticate(researcher)
    response = api_client.get(url)
    assert response.status_code < 500
    if response.status_code == 200 and "results" in response.json():
        # A filter never widens: an injected value matches nothing.
        assert response.json()["count"] in (0, study.songs.count())
        assert "token" not in response.content.decode()


def test_an_oversized_body_is_refused_with_413(api_client, study, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = enter(api_client, study, entry_parameters={"pad": padding})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert not Participant.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"study": "hostile", "locale": }',
        b"[" * 50_000 + b"]" * 50_000,
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
        b'{"study": "host\xffile", "locale": "en-US"}',  # not UTF-8
        b"\x00\x00\x00",
        b"null",
        b"[]",
        b'"a string"',
    ],
)
def test_malformed_or_deeply_nested_json_is_a_400(api_client, study, body):
    response = api_client.post(ENTER, body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content[:300]


@pytest.mark.parametrize(
    "fields",
    [
        {"recruiter_participant_id": "P\u00001"},
        {"entry_parameters": {"q": "a\u0000b"}},
        {"entry_parameters": {"q\u0000": "a"}},
        {"recruiter_participant_id": "\ud800"},
        {"entry_parameters": {"q": "\udfff"}},
        {"entry_parameters": {"\ud83d": "x"}},
        {"locale": "en-US\u0000"},
        {"study": "\ud800"},
    ],
)
def test_nul_bytes_and_lone_surrogates_are_a_400(api_client, study, fields):
    import json

    body = json.dumps(
        {"study": study.slug, "locale": "en-US", "recruiter_participant_id": "P1", **fields}
    )
    response = api_client.post(ENTER, body.encode(), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert not Participant.objects.exists()


def test_a_nul_byte_in_a_participants_query_is_a_400(api_client, study):
    entered = enter(api_client, study).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Participant {entered['token']}")
    response = api_client.get("/api/v1/rating/trial/?x=%00")
    assert response.status_code < 500
