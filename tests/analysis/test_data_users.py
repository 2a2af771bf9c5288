"""What data users read besides the live path (tests/analysis/test_data_users_live.py): local
downloads with ranges, the dataset card and citation files, the manifest's schema, analyses
on readable snapshots, tokens and sign-up."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from analysis.crosscultural.computation import AnalysisParams
from analysis.crosscultural.services import analysis_create, analysis_run
from analysis.dataset_card import MEANS_RECIPE
from analysis.models import ApiToken, ExclusionDecision
from analysis.services.quality import quality_check
from analysis.services.snapshots import snapshot_export, snapshot_set_published
from analysis.services.tokens import api_token_create, snapshot_access_grant
from moodlab.studies.models import Study
from tests.factories import UserFactory


def file_url(snapshot, name: str) -> str:
    return reverse(
        "v1:snapshot-file",
        kwargs={"study_slug": snapshot.study.slug, "version": snapshot.version, "file_name": name},
    )


def folder(settings, snapshot) -> Path:
    return Path(settings.STORAGES["snapshots"]["OPTIONS"]["location"]) / snapshot.folder


def bearer_client(user) -> APIClient:
    _token, key = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def published(snapshot_study):
    snapshot = snapshot_export(study_id=snapshot_study.pk)
    return snapshot_set_published(snapshot_id=snapshot.pk, published=True)


def test_a_local_download_answers_one_byte_range(api_client, published):
    url = file_url(published, "mean_ratings.parquet")
    size = published.manifest["files"]["mean_ratings.parquet"]["bytes"]

    head = api_client.get(url, HTTP_RANGE="bytes=0-3")
    tail = api_client.get(url, HTTP_RANGE="bytes=-4")
    whole = api_client.get(url)

    assert head.status_code == 206 and b"".join(head.streaming_content) == b"PAR1"
    assert head["Content-Range"] == f"bytes 0-3/{size}" and head["Content-Length"] == "4"
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == b"PAR1"
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Length"] == str(size)
    beyond = api_client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{size}"


def test_text_files_say_they_are_utf8(api_client, published):
    for name, content_type in [
        ("ratings.csv", "text/csv; charset=utf-8"),
        ("manifest.json", "application/json; charset=utf-8"),
        ("DATASET_CARD.md", "text/markdown; charset=utf-8"),
    ]:
        assert api_client.get(file_url(published, name))["Content-Type"] == content_type


def test_the_manifest_is_an_object_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]

    manifest = components["SnapshotOutput"]["properties"]["manifest"]

    assert manifest["allOf"][0]["$ref"] == "#/components/schemas/SnapshotManifest"
    described = components["SnapshotManifest"]["properties"]
    assert {"study", "locales", "tables", "files", "quality_control"} <= set(described)
    assert described["files"]["additionalProperties"]["$ref"].endswith("ManifestFile")


def test_the_card_gives_licence_citation_method_terms_and_columns(settings, snapshot_study):
    Study.objects.filter(pk=snapshot_study.pk).update(
        licence="CC-BY-SA-4.0",
        citation_authors="Lovelace, Ada\nHopper, Grace",
        citation_title="GlobalMood mini",
        citation_year=2026,
        doi="10.5281/zenodo.1234567",
    )
    quality_check(study_id=snapshot_study.pk)
    snapshot = snapshot_export(study_id=snapshot_study.pk)
    files = folder(settings, snapshot)

    card = (files / "DATASET_CARD.md").read_text()
    cff = yaml.safe_load((files / "CITATION.cff").read_text())
    bibtex = (files / "CITATION.bib").read_text()

    assert "license: cc-by-sa-4.0" in card and "CC-BY-SA-4.0 (https://creativecommons.org" in card
    assert cff["license"] == "CC-BY-SA-4.0" and cff["doi"] == "10.5281/zenodo.1234567"
    assert cff["authors"][0] == {"family-names": "Lovelace", "given-names": "Ada"}
    assert cff["title"] == "GlobalMood mini" and cff["version"] == "1.0.0"
    assert "author = {Lovelace, Ada and Hopper, Grace}" in bibtex and "year = {2026}" in bibtex
    decisions = ExclusionDecision.objects.filter(study=snapshot_study, excluded=True)
    [reason, *_] = decisions.first().reasons  # the random raters fail some rule
    excluded = sum(reason["rule"] in {r["rule"] for r in d.reasons} for d in decisions)
    [row] = [line for line in card.splitlines() if line.startswith(f"| {reason['rule']} |")]
    assert row.startswith(f"| {reason['rule']} | {reason['version']} | yes |")
    assert row.endswith(f"| {excluded} |")
    korean = snapshot_study.locales.get(code="ko-KR").terms.filter(is_selected=True).first()
    assert f"| ko-KR | {korean.label_ko} | {korean.gloss} | {korean.key} |" in card
    assert "| mean_ratings |" in card and "| is_repeat | bool |" in card
    assert "## Known limitations" in card


def test_the_cards_recipe_recomputes_the_published_means(settings, snapshot_study, monkeypatch):
    quality_check(study_id=snapshot_study.pk)
    snapshot = snapshot_export(study_id=snapshot_study.pk)
    monkeypatch.chdir(folder(settings, snapshot))
    scope: dict = {}

    exec(MEANS_RECIPE, scope)

    published = pd.read_parquet("mean_ratings.parquet").set_index(["locale", "song_id", "term_id"])
    recomputed = scope["means"].loc[published.index]
    assert (recomputed["count"].to_numpy() == published["n"].to_numpy()).all()
    assert (abs(recomputed["mean"] - published["mean"]) < 1e-9).all()
    assert scope["ratings"]["is_repeat"].any()  # the recipe had repeats to leave out


def test_a_study_licence_must_be_a_known_spdx_id(snapshot_study):
    snapshot_study.licence = "GPL-3.0-or-later"
    with pytest.raises(ValidationError) as refused:
        snapshot_study.full_clean()
    assert "licence" in refused.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.filter(pk=snapshot_study.pk).update(licence="GPL-3.0-or-later")


def test_a_doi_is_given_bare(snapshot_study):
    snapshot_study.doi = "https://doi.org/10.5281/zenodo.1"
    with pytest.raises(ValidationError) as refused:
        snapshot_study.full_clean()
    assert "doi" in refused.value.message_dict


@pytest.fixture
def succeeded_runs(published):
    """A run on the published snapshot, one on an unpublished one, one on live ratings."""
    study = published.study
    unpublished = snapshot_export(study_id=study.pk)
    params = AnalysisParams(split_half_repetitions=5)
    runs = {
        "published": analysis_create(study=study, params=params, snapshot_version="1"),
        "unpublished": analysis_create(
            study=study, params=params, snapshot_version=str(unpublished.version)
        ),
        "live": analysis_create(study=study, params=params),
    }
    for run in runs.values():
        assert analysis_run(analysis_id=run.pk).status == "succeeded"
    return runs


def analyses_url(study) -> str:
    return reverse("v1:crosscultural-analysis-list", args=[study.slug])


def test_anyone_reads_analyses_and_figures_of_a_published_snapshot(api_client, succeeded_runs):
    run = succeeded_runs["published"]

    listed = api_client.get(analyses_url(run.study))
    detail = api_client.get(reverse("v1:crosscultural-analysis-detail", args=[run.pk]))
    figure = api_client.get(
        reverse("v1:crosscultural-analysis-figure", args=[run.pk, "reliability", "svg"])
    )

    assert [item["id"] for item in listed.json()["results"]] == [run.pk]
    assert detail.status_code == 200 and detail.json()["results"]["counts"]
    assert figure.status_code == 200 and figure["Content-Type"] == "image/svg+xml"
    hidden = succeeded_runs["unpublished"]
    assert (
        api_client.get(reverse("v1:crosscultural-analysis-detail", args=[hidden.pk])).status_code
        == 401
    )


def test_a_granted_data_user_reads_analyses_of_unpublished_snapshots_not_live_ones(
    succeeded_runs, researcher
):
    study = succeeded_runs["live"].study
    data_user = UserFactory(username="reader", is_staff=False)
    client = bearer_client(data_user)
    unpublished_url = reverse(
        "v1:crosscultural-analysis-detail", args=[succeeded_runs["unpublished"].pk]
    )
    assert client.get(unpublished_url).status_code == 403

    snapshot_access_grant(study=study, user=data_user, granted_by=researcher)

    listed = {item["id"] for item in client.get(analyses_url(study)).json()["results"]}
    assert listed == {succeeded_runs["published"].pk, succeeded_runs["unpublished"].pk}
    assert client.get(unpublished_url).status_code == 200
    live_url = reverse("v1:crosscultural-analysis-detail", args=[succeeded_runs["live"].pk])
    assert client.get(live_url).status_code == 403
    assert client.post(analyses_url(study), {}, format="json").status_code == 403


def test_a_token_key_is_answered_once_and_only_its_hash_is_kept(db):
    data_user = UserFactory(username="keeper", is_staff=False)
    client = APIClient()
    client.force_authenticate(data_user)

    created = client.post(reverse("v1:api-token-list"), {"name": "cluster"}, format="json")

    assert created.status_code == 201
    key = created.json()["key"]
    stored = ApiToken.objects.get()
    assert key.startswith(stored.prefix) and key not in json.dumps(
        list(ApiToken.objects.values()), default=str
    )
    [listed] = client.get(reverse("v1:api-token-list")).json()["results"]
    assert "key" not in listed
    assert (
        client.post(reverse("v1:api-token-list"), {"name": " "}, format="json").status_code == 400
    )


def test_nobody_revokes_another_users_token(db):
    owner = UserFactory(username="owner-of-token", is_staff=False)
    token, _key = api_token_create(user=owner, name="mine")
    client = bearer_client(UserFactory(username="someone-else", is_staff=False))

    response = client.delete(reverse("v1:api-token-revoke", args=[token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_sign_up_is_throttled_per_address(client, db, monkeypatch):
    from analysis.data_pages import SignUpThrottle

    monkeypatch.setattr(SignUpThrottle, "THROTTLE_RATES", {"data_sign_up": "2/hour"})
    cache.clear()  # sign-ups of earlier tests from this address
    form = {"email": "x@example.org", "password": "a long and unusual passphrase 42"}

    answers = [
        client.post(reverse("data-sign-up"), {**form, "username": f"user{n}"}).status_code
        for n in range(3)
    ]

    assert answers == [302, 302, 429]
    assert not get_user_model().objects.filter(username="user2").exists()


def test_a_weak_password_or_taken_name_is_refused_with_field_errors(client, db):
    UserFactory(username="taken")

    response = client.post(
        reverse("data-sign-up"), {"username": "Taken", "email": "ok@example.org", "password": "1"}
    )

    assert response.status_code == 400
    assert "This user name is taken." in response.content.decode()
    assert "This password is too short." in response.content.decode()


def test_the_catalogue_pages_through_snapshots_in_few_queries(
    api_client, snapshot_study, django_assert_max_num_queries
):
    for _ in range(3):
        snapshot = snapshot_export(study_id=snapshot_study.pk)
        snapshot_set_published(snapshot_id=snapshot.pk, published=True)

    with django_assert_max_num_queries(3):
        first = api_client.get(reverse("v1:catalogue"), {"limit": 2}).json()
    second = api_client.get(first["next"]).json()

    assert first["count"] == 3
    assert [e["version"] for e in first["results"] + second["results"]] == [3, 2, 1]
    refused = api_client.get(reverse("v1:catalogue"), {"licence": "GPL-3.0"})
    assert refused.status_code == 400 and "licence" in refused.json()["error"]["fields"]


def test_a_data_user_logs_in_to_manage_tokens(client, db):
    UserFactory(username="returning", is_staff=False)
    assert client.get(reverse("data-tokens"))["Location"].startswith(reverse("data-login"))

    response = client.post(
        reverse("data-login"),
        {"username": "returning", "password": "correct horse battery staple"},
    )

    assert response.status_code == 302 and response["Location"] == reverse("data-tokens")
    assert client.get(reverse("data-tokens")).status_code == 200


def test_the_snapshots_own_croissant_file_validates_in_a_downloaded_folder(settings, published):
    import mlcroissant as mlc

    dataset = mlc.Dataset(jsonld=folder(settings, published) / "croissant.json")

    assert not dataset.metadata.ctx.issues.warnings, dataset.metadata.ctx.issues.report()
    ratings = list(dataset.records(record_set="ratings"))
    assert len(ratings) == published.manifest["tables"]["ratings"]["rows"]
