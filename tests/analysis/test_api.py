from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analysis.models import SnapshotAccessGrant
from analysis.services.aggregation import cells_aggregate
from analysis.services.snapshots import snapshot_export, snapshot_set_published
from tests.factories import UserFactory


@pytest.fixture
def exported(snapshot_study):
    return snapshot_export(study_id=snapshot_study.pk)


def snapshots_url(study) -> str:
    return reverse("v1:snapshot-list", kwargs={"study_slug": study.slug})


def file_url(snapshot, name: str) -> str:
    return reverse(
        "v1:snapshot-file",
        kwargs={"study_slug": snapshot.study.slug, "version": snapshot.version, "file_name": name},
    )


def means_url(study) -> str:
    return reverse("v1:mean-rating-list", kwargs={"study_slug": study.slug})


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_anonymous_users_cannot_see_an_unpublished_snapshot(api_client, exported):
    assert api_client.get(snapshots_url(exported.study)).status_code == 404
    assert api_client.get(file_url(exported, "ratings.csv")).status_code == 404


def test_a_researcher_of_another_study_cannot_see_it(api_client, exported):
    api_client.force_authenticate(UserFactory(username="elsewhere"))
    assert api_client.get(snapshots_url(exported.study)).status_code == 404
    assert api_client.get(means_url(exported.study)).status_code == 403


def test_the_studys_researchers_list_snapshots_with_manifests(api_client, researcher, exported):
    exported.study.researchers.add(researcher)
    api_client.force_authenticate(researcher)

    response = api_client.get(snapshots_url(exported.study))

    assert response.status_code == 200
    [listed] = response.json()["results"]
    assert listed["version"] == 1
    assert listed["manifest"]["tables"]["ratings"]["rows"] == 3 * 3 * 11 * 3
    assert "ratings.parquet" in listed["files"]


def test_a_granted_token_holder_downloads_a_file_streamed_from_local_storage(exported):
    data_user = UserFactory(username="data-user", is_staff=False)
    SnapshotAccessGrant.objects.create(study=exported.study, user=data_user)

    response = token_client(data_user).get(file_url(exported, "manifest.json"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"{")
    assert "attachment" in response["Content-Disposition"]


def test_a_published_snapshot_is_open_to_anyone_but_not_its_siblings(api_client, exported):
    second = snapshot_export(study_id=exported.study.pk)
    snapshot_set_published(snapshot_id=exported.pk, published=True)

    response = api_client.get(snapshots_url(exported.study))

    assert [s["version"] for s in response.json()["results"]] == [1]
    assert api_client.get(file_url(exported, "ratings.csv")).status_code == 200
    assert api_client.get(file_url(second, "ratings.csv")).status_code == 404


def test_only_files_of_the_snapshot_can_be_downloaded(api_client, researcher, exported):
    exported.study.researchers.add(researcher)
    api_client.force_authenticate(researcher)
    assert api_client.get(file_url(exported, "..%2F..%2Fsecrets")).status_code == 404
    assert api_client.get(file_url(exported, "nothing.csv")).status_code == 404


def test_mean_ratings_filter_by_locale_song_and_term_and_are_paginated(snapshot_study):
    cells_aggregate(study_id=snapshot_study.pk)
    data_user = UserFactory(username="data-user", is_staff=False)
    SnapshotAccessGrant.objects.create(study=snapshot_study, user=data_user)
    client = token_client(data_user)

    everything = client.get(means_url(snapshot_study), {"limit": 5}).json()
    korean = client.get(means_url(snapshot_study), {"locale": "ko-KR"}).json()
    first = korean["results"][0]
    one_cell = client.get(
        means_url(snapshot_study), {"locale": "ko-KR", "song": first["song"], "term": first["term"]}
    ).json()

    assert everything["count"] == 3 * 10 * 3 and len(everything["results"]) == 5
    assert korean["count"] == 10 * 3
    assert one_cell["count"] == 1
    assert one_cell["results"][0]["n"] == 3


def test_anonymous_users_get_no_live_means(api_client, snapshot_study):
    assert api_client.get(means_url(snapshot_study)).status_code in (401, 403)


def test_the_openapi_schema_documents_the_data_api(api_client, db):
    schema = api_client.get(reverse("schema"), {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/data/studies/{study_slug}/snapshots/" in paths
    assert "/api/v1/data/studies/{study_slug}/snapshots/{version}/files/{file_name}" in paths
    parameters = paths["/api/v1/data/studies/{study_slug}/mean-ratings/"]["get"]["parameters"]
    assert {"locale", "song", "term"} <= {p["name"] for p in parameters}
