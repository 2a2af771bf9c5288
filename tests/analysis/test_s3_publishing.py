"""Snapshots published to S3 through django-storages/boto3, against moto in server mode."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from django.urls import reverse

from analysis.services.snapshots import snapshot_export, snapshot_set_published

BUCKET = "moodlab-snapshots"


@pytest.fixture
def s3(settings, s3_endpoint, monkeypatch):
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.STORAGES = {
        **settings.STORAGES,
        "snapshots": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"location": "snapshots"},
        },
    }
    yield client
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_a_snapshot_lands_in_the_bucket_with_the_checksums_of_its_manifest(s3, snapshot_study):
    snapshot = snapshot_export(study_id=snapshot_study.pk)

    prefix = f"snapshots/{snapshot_study.slug}/1/"
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]}
    assert keys == {prefix + name for name in [*snapshot.manifest["files"], "manifest.json"]}
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + "manifest.json")["Body"].read())
    for name, described in manifest["files"].items():
        body = s3.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == described["sha256"]


def test_a_published_file_downloads_through_a_presigned_url(
    s3, s3_endpoint, api_client, snapshot_study
):
    snapshot = snapshot_export(study_id=snapshot_study.pk)
    snapshot_set_published(snapshot_id=snapshot.pk, published=True)
    url = reverse(
        "v1:snapshot-file",
        kwargs={"study_slug": snapshot_study.slug, "version": 1, "file_name": "ratings.csv"},
    )

    response = api_client.get(url)

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(s3_endpoint) and "Signature" in location
    downloaded = httpx.get(location)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "text/csv; charset=utf-8"
    expected = snapshot.manifest["files"]["ratings.csv"]["sha256"]
    assert hashlib.sha256(downloaded.content).hexdigest() == expected
    assert httpx.get(location.split("?")[0]).status_code == 403  # unsigned: refused


def test_catalogue_links_redirect_to_sigv4_urls_that_expire(
    s3, settings, api_client, snapshot_study
):
    """moto checks neither signatures nor expiry of presigned URLs: the expiry is asserted on
    the URL S3 would enforce it from."""
    assert settings.AWS_S3_SIGNATURE_VERSION == "s3v4"
    settings.AWS_QUERYSTRING_EXPIRE = 600
    settings.STORAGES = {**settings.STORAGES}  # a fresh storage reads the new expiry
    snapshot = snapshot_export(study_id=snapshot_study.pk)
    snapshot_set_published(snapshot_id=snapshot.pk, published=True)
    [entry] = api_client.get(reverse("v1:catalogue")).json()["results"]

    response = api_client.get(entry["links"]["files"]["mean_ratings.parquet"])

    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == ["600"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    downloaded = httpx.get(response["Location"])
    assert downloaded.headers["content-type"] == "application/vnd.apache.parquet"
    expected = snapshot.manifest["files"]["mean_ratings.parquet"]["sha256"]
    assert hashlib.sha256(downloaded.content).hexdigest() == expected
