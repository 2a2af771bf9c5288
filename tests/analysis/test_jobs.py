from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from analysis.models import CellAggregate, ExclusionDecision, JobRun, QualityRun, Snapshot
from analysis.services.jobs import job_request
from analysis.services.quality import quality_check
from analysis.services.snapshots import snapshot_export
from analysis.tasks import export_snapshot
from moodlab.studies.models import Study
from tests.factories import UserFactory


def test_a_requested_job_is_recorded_and_sent_only_when_the_transaction_commits(
    snapshot_study, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_request(study_id=snapshot_study.pk, kind=JobRun.Kind.AGGREGATE, user=None)
    assert not CellAggregate.objects.exists()

    callbacks[0]()  # the commit: the (eager) task runs

    assert CellAggregate.objects.filter(study=snapshot_study).count() == 3 * 10 * 3
    assert JobRun.objects.get().task_id == job.task_id


@pytest.mark.parametrize(
    ("kind", "made"),
    [(JobRun.Kind.QUALITY, QualityRun), (JobRun.Kind.EXPORT, Snapshot)],
)
def test_each_job_kind_runs_its_service(
    snapshot_study, django_capture_on_commit_callbacks, kind, made
):
    with django_capture_on_commit_callbacks(execute=True):
        job_request(study_id=snapshot_study.pk, kind=kind, user=None)

    assert made.objects.filter(study=snapshot_study).count() == 1


def test_the_commands_run_each_job_and_say_where_the_snapshot_went(snapshot_study, tmp_path):
    # Limit raised: three raters per locale, one careless, leave few to judge others by.
    Study.objects.filter(pk=snapshot_study.pk).update(max_excluded_share=0.9)
    out, err, warned = io.StringIO(), io.StringIO(), []
    for command in ("aggregate_ratings", "check_quality", "export_snapshot"):
        try:
            call_command(command, study=snapshot_study.slug, stdout=out, stderr=err)
        except CommandError as error:
            warned.append((command, error.returncode))

    text = out.getvalue()
    assert "90 cells aggregated" in text
    assert "9 participants checked, 5 excluded" in text
    # All three en-US raters excluded: the snapshot is written, and says what it lacks.
    assert warned == [("export_snapshot", 2)]
    assert "en-US: ratings but no mean" in err.getvalue()
    assert f"snapshot v1 written to {tmp_path / 'snapshots' / snapshot_study.slug / '1'}" in text
    assert (tmp_path / "snapshots" / snapshot_study.slug / "1" / "manifest.json").is_file()


@pytest.fixture
def admin_client_for(client, snapshot_study):
    user = UserFactory(username="boss", is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def test_the_admin_queues_a_job_and_shows_its_state(
    admin_client_for, snapshot_study, django_capture_on_commit_callbacks, monkeypatch
):
    # In-process tasks record a TaskResult only with CELERY_TASK_STORE_EAGER_RESULT (a worker
    # always does); asked of settings/base.py so the embedded default shows job states too.
    monkeypatch.setattr(export_snapshot, "store_eager_result", True)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_for.post(
            reverse("admin:analysis_studyjobs_changelist"),
            {"action": "run_export", "_selected_action": [snapshot_study.pk]},
        )
    assert response.status_code == 302
    page = admin_client_for.get(reverse("admin:analysis_studyjobs_changelist")).content.decode()
    assert "succeeded" in page
    history = admin_client_for.get(reverse("admin:analysis_jobrun_changelist")).content.decode()
    assert "Export snapshot" in history and "succeeded" in history
    assert "snapshot version: 1" in history  # counts from the job's result
    assert "100%" not in history  # progress shows only while the job runs
    snapshot = Snapshot.objects.get(study=snapshot_study)
    snapshots = admin_client_for.get(
        reverse("admin:analysis_snapshot_change", args=[snapshot.pk])
    ).content.decode()
    assert (
        reverse(
            "v1:snapshot-file",
            kwargs={
                "study_slug": snapshot_study.slug,
                "version": 1,
                "file_name": "ratings.parquet",
            },
        )
        in snapshots
    )


def test_an_override_in_the_admin_records_who_and_why(admin_client_for, snapshot_study):
    quality_check(study_id=snapshot_study.pk)
    decision = ExclusionDecision.objects.filter(excluded=True).first()
    url = reverse("admin:analysis_exclusiondecision_change", args=[decision.pk])

    refused = admin_client_for.post(url, {"override": "include", "override_reason": ""})
    accepted = admin_client_for.post(url, {"override": "include", "override_reason": "retested"})

    assert refused.status_code == 200  # the form asks for a reason
    assert accepted.status_code == 302
    decision.refresh_from_db()
    assert (decision.excluded, decision.overridden_by, decision.override_reason) == (
        False,
        admin_client_for.user,
        "retested",
    )


def test_admin_pages_of_results_render(admin_client_for, snapshot_study):
    quality_check(study_id=snapshot_study.pk)
    snapshot_export(study_id=snapshot_study.pk)
    for name in ("qualityresult", "cellaggregate", "exclusiondecision", "qualityrulesetting"):
        assert admin_client_for.get(reverse(f"admin:analysis_{name}_changelist")).status_code == 200


def test_the_admin_says_a_job_ran_when_it_ran_and_queued_when_it_waits(
    snapshot_study, django_capture_on_commit_callbacks, monkeypatch
):
    from analysis.admin import _outcome

    monkeypatch.setattr(export_snapshot, "store_eager_result", True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_request(study_id=snapshot_study.pk, kind=JobRun.Kind.EXPORT, user=None)
    message, _ = _outcome(job, "Export snapshot", snapshot_study)
    assert "is recorded but not sent" in message  # nothing went to a worker yet
    for callback in callbacks:
        callback()
    message, _ = _outcome(job, "Export snapshot", snapshot_study)
    assert (
        message == f"Export snapshot ran for “{snapshot_study}”: succeeded (snapshot version: 1)."
    )
