"""S3 unreachable during a snapshot export: the attempt fails cleanly (nothing visible),
the task retries with backoff, and the export succeeds once S3 answers again."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

from analysis.models import Snapshot
from analysis.tasks import export_snapshot
from tests.conftest import build_study
from tests.faults.conftest import free_port, wait_for

pytestmark = pytest.mark.worker
BUCKET = "moodlab-retry"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def test_an_export_while_s3_is_unreachable_fails_cleanly_and_is_retried(
    celery_worker_factory, monkeypatch
):
    study = build_study(slug="s3-down", songs_per_country=1)
    port = free_port()  # nothing listens here until the test starts S3
    endpoint = f"http://127.0.0.1:{port}"
    worker = celery_worker_factory(
        env={
            **CREDENTIALS,
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_S3_REGION_NAME": "us-east-1",
        }
    )

    result = export_snapshot.apply_async(args=(study.pk,), queue=worker.queue)
    failed = wait_for(
        lambda: Snapshot.objects.filter(study=study, status="failed").first(),
        what="the first attempt to fail",
    )
    assert "Could not connect" in failed.error or "Connect" in failed.error

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        for name, value in CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        outcome = result.get(timeout=120)
        keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    finally:
        server.stop()

    complete = Snapshot.objects.get(pk=outcome["snapshot_id"])
    assert complete.status == Snapshot.Status.COMPLETE
    attempts = Snapshot.objects.filter(study=study).exclude(pk=complete.pk)
    assert attempts and all(s.status == Snapshot.Status.FAILED for s in attempts)
    assert f"snapshots/{complete.folder}/manifest.json" in keys
    assert not [key for s in attempts for key in keys if key.startswith(f"snapshots/{s.folder}/")]
