"""A data user's whole path over real HTTP, against a live server: find a dataset in the
catalogue, sign up, create a token, download, revoke; load with pandas, Hugging Face
`datasets` and Croissant (mlcroissant), exactly as the README's "For data users" says."""

from __future__ import annotations

import hashlib
import re

import httpx
import pandas as pd
import pytest

from analysis.models import ApiToken, Snapshot
from analysis.services.snapshots import snapshot_export, snapshot_set_published
from analysis.services.tokens import snapshot_access_grant
from moodlab.studies.models import Study

pytestmark = pytest.mark.django_db(transaction=True)


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def _publish(study: Study) -> Snapshot:
    snapshot = snapshot_export(study_id=study.pk)
    return snapshot_set_published(snapshot_id=snapshot.pk, published=True)


def _catalogue_entry(base_url: str, **filters: str) -> dict:
    response = httpx.get(f"{base_url}/api/v1/data/snapshots/", params=filters)
    assert response.status_code == 200
    [entry] = response.json()["results"]
    return entry


def _sign_up(client: httpx.Client, username: str) -> str:
    """Sign up on the page, create a token on the tokens page; return the key shown once."""
    form = client.get("/data/sign-up/")
    signed_up = client.post(
        "/data/sign-up/",
        data={
            "csrfmiddlewaretoken": _csrf(form),
            "username": username,
            "email": f"{username}@example.org",
            "password": "a long and unusual passphrase 42",
        },
    )
    assert signed_up.status_code == 302 and signed_up.headers["location"] == "/data/tokens/"
    tokens_page = client.get("/data/tokens/")
    posted = client.post(
        "/data/tokens/", data={"csrfmiddlewaretoken": _csrf(tokens_page), "name": "laptop"}
    )
    assert posted.status_code == 302
    created = client.get("/data/tokens/")
    assert created.headers["cache-control"] == "no-store"
    key = re.search(r'<code id="new-token">([^<]+)</code>', created.text).group(1)
    assert "new-token" not in client.get("/data/tokens/").text  # shown once
    return key


def test_anyone_finds_published_snapshots_in_the_catalogue(live_server, snapshot_study):
    unpublished = snapshot_export(study_id=snapshot_study.pk)
    published = _publish(snapshot_study)

    response = httpx.get(f"{live_server.url}/api/v1/data/snapshots/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [entry] = body["results"]
    assert entry["study"] == snapshot_study.slug and entry["version"] == published.version
    assert entry["licence"] == "CC-BY-4.0"
    assert entry["locales"] == ["ar-EG", "en-US", "ko-KR"]
    assert entry["counts"]["ratings"] == published.manifest["tables"]["ratings"]["rows"] > 0
    assert entry["links"]["files"]["mean_ratings.parquet"].startswith(live_server.url)
    unpublished_path = f"/snapshots/{unpublished.version}/"
    assert all(unpublished_path not in url for url in entry["links"]["files"].values())
    filtered = httpx.get(f"{live_server.url}/api/v1/data/snapshots/", params={"licence": "MIT"})
    assert filtered.json()["count"] == 0
    assert _catalogue_entry(live_server.url, locale="ko-KR")["study"] == snapshot_study.slug

    page = httpx.get(f"{live_server.url}/data/")
    assert page.status_code == 200
    assert entry["title"] in page.text and entry["links"]["croissant"] in page.text
    assert (
        httpx.get(f"{live_server.url}/data/", params={"licence": "MIT"}).text.count("<article") == 0
    )


def test_a_data_user_signs_up_and_downloads_a_granted_unpublished_snapshot(
    live_server, snapshot_study, researcher
):
    snapshot = snapshot_export(study_id=snapshot_study.pk)
    with httpx.Client(base_url=live_server.url) as browser:
        key = _sign_up(browser, "ada")
    file_url = (
        f"{live_server.url}/api/v1/data/studies/{snapshot_study.slug}/snapshots/"
        f"{snapshot.version}/files/ratings.csv"
    )
    bearer = {"Authorization": f"Bearer {key}"}
    assert httpx.get(file_url, headers=bearer).status_code == 404  # not granted yet

    data_user = ApiToken.objects.get().user
    assert not data_user.is_staff
    snapshot_access_grant(study=snapshot_study, user=data_user, granted_by=researcher)
    download = httpx.get(file_url, headers=bearer)

    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert int(download.headers["content-length"]) == len(download.content)
    expected = snapshot.manifest["files"]["ratings.csv"]["sha256"]
    assert hashlib.sha256(download.content).hexdigest() == expected
    means = pd.read_parquet(
        file_url.replace("ratings.csv", "mean_ratings.parquet"),
        storage_options={"Authorization": f"Bearer {key}"},  # as the README says
    )
    assert len(means) == snapshot.manifest["tables"]["mean_ratings"]["rows"]
    assert not ApiToken.objects.filter(key_hash=key).exists()  # stored hashed, not raw
    admin = httpx.get(f"{live_server.url}/admin/", headers=bearer)
    assert admin.status_code == 302  # a data user never gets into the admin


def test_a_revoked_token_is_refused(live_server, snapshot_study):
    _publish(snapshot_study)
    with httpx.Client(base_url=live_server.url) as browser:
        key = _sign_up(browser, "grace")
        tokens_url = f"{live_server.url}/api/v1/data/tokens/"
        bearer = {"Authorization": f"Bearer {key}"}
        [listed] = httpx.get(tokens_url, headers=bearer).json()["results"]
        assert listed["name"] == "laptop" and "key" not in listed

        page = browser.get("/data/tokens/")
        revoked = browser.post(
            "/data/tokens/", data={"csrfmiddlewaretoken": _csrf(page), "revoke": listed["id"]}
        )
        assert revoked.status_code == 302

    refused = httpx.get(tokens_url, headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Invalid or revoked token."
    assert httpx.get(f"{live_server.url}/api/v1/data/snapshots/", headers=bearer).status_code == 401


def test_pandas_reads_a_published_parquet_url_in_one_line(live_server, snapshot_study):
    snapshot = _publish(snapshot_study)
    url = _catalogue_entry(live_server.url)["links"]["files"]["mean_ratings.parquet"]

    means = pd.read_parquet(url)

    assert len(means) == snapshot.manifest["tables"]["mean_ratings"]["rows"]
    assert list(means.columns[:3]) == ["locale", "song_id", "term_id"]
    csv_url = url.replace(".parquet", ".csv")
    pd.testing.assert_frame_equal(
        pd.read_csv(csv_url, keep_default_na=False, na_values=[""])[["n", "mean"]],
        means[["n", "mean"]],
        check_dtype=False,
    )


def test_hugging_face_datasets_loads_the_snapshots_parquet_files(
    live_server, snapshot_study, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # the downloads cache, per test
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    from datasets import load_dataset

    snapshot = _publish(snapshot_study)
    files = _catalogue_entry(live_server.url)["links"]["files"]

    # One table per call: each table is its own dataset (its own columns).
    means = load_dataset("parquet", data_files=files["mean_ratings.parquet"], split="train")
    ratings = load_dataset("parquet", data_files=files["ratings.parquet"], split="train")

    assert means.num_rows == snapshot.manifest["tables"]["mean_ratings"]["rows"]
    assert means.column_names[:3] == ["locale", "song_id", "term_id"]
    assert ratings.num_rows == snapshot.manifest["tables"]["ratings"]["rows"]


def test_the_croissant_metadata_validates_and_loads_with_mlcroissant(live_server, snapshot_study):
    import mlcroissant as mlc

    snapshot = _publish(snapshot_study)
    url = _catalogue_entry(live_server.url)["links"]["croissant"]
    assert httpx.get(url).headers["content-type"].startswith("application/ld+json")

    dataset = mlc.Dataset(jsonld=url)  # raises ValidationError on any error in the metadata

    assert not dataset.metadata.ctx.issues.warnings, dataset.metadata.ctx.issues.report()
    assert dataset.metadata.license == ["https://creativecommons.org/licenses/by/4.0/"]
    means = list(dataset.records(record_set="mean_ratings"))
    assert len(means) == snapshot.manifest["tables"]["mean_ratings"]["rows"]
    assert {"mean_ratings/mean", "mean_ratings/term"} <= set(means[0])
