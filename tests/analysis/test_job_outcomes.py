"""A job that produced nothing useful, or excluded too many, says so: on its job run, in the
admin and in the exit status of its command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from analysis.models import JobOutcome, JobRun
from analysis.services.jobs import job_request
from analysis.services.quality import exclusion_override
from moodlab.studies.models import Participant, Study
from tests.factories import UserFactory


@pytest.fixture
def everyone_excluded(snapshot_study):
    boss = UserFactory(username="boss", is_superuser=True)
    for participant in Participant.objects.filter(study=snapshot_study):
        exclusion_override(
            participant_id=participant.pk, override="exclude", reason="pilot run", user=boss
        )
    return snapshot_study


def test_an_empty_mean_table_fails_the_aggregation_command(everyone_excluded):
    with pytest.raises(CommandError, match="mean table is empty") as failure:
        call_command("aggregate_ratings", study=everyone_excluded.slug, stdout=io.StringIO())

    assert failure.value.returncode == 1
    assert "every rating's participant is excluded; reasons: overrides" in str(failure.value)


def test_a_study_without_ratings_fails_aggregation_saying_there_are_none_yet(db):
    study = Study.objects.create(slug="elicitation-only", title="Elicitation only")

    with pytest.raises(CommandError, match=r"no rating counts \(no rating yet\)"):
        call_command("aggregate_ratings", study=study.slug, stdout=io.StringIO())


def test_an_empty_mean_table_fails_the_job_run_and_the_admin_says_why(
    everyone_excluded, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_request(study_id=everyone_excluded.pk, kind=JobRun.Kind.AGGREGATE, user=None)

    job.refresh_from_db()
    assert job.outcome == JobOutcome.FAILED
    assert "mean table is empty" in job.problems[0]
    client.force_login(UserFactory(username="admin", is_superuser=True))
    page = client.get(reverse("admin:analysis_studyjobs_changelist")).content.decode()
    assert "failed: The mean table is empty" in page


def test_an_export_whose_means_are_all_excluded_fails(everyone_excluded):
    with pytest.raises(CommandError, match="empty mean table") as failure:
        call_command("export_snapshot", study=everyone_excluded.slug, stdout=io.StringIO())

    assert failure.value.returncode == 1


def test_quality_control_over_the_study_s_limit_warns_with_exit_status_2(snapshot_study):
    Study.objects.filter(pk=snapshot_study.pk).update(max_excluded_share=0.1)
    err = io.StringIO()

    with pytest.raises(CommandError) as warned:
        call_command("check_quality", study=snapshot_study.slug, stdout=io.StringIO(), stderr=err)

    assert warned.value.returncode == 2
    assert "More than the study's limit of 10% excluded" in err.getvalue()


def test_quality_control_within_the_limit_is_a_plain_success(
    snapshot_study, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_request(study_id=snapshot_study.pk, kind=JobRun.Kind.QUALITY, user=None)
    Study.objects.filter(pk=snapshot_study.pk).update(max_excluded_share=1.0)
    with django_capture_on_commit_callbacks(execute=True):
        again = job_request(study_id=snapshot_study.pk, kind=JobRun.Kind.QUALITY, user=None)

    job.refresh_from_db()
    again.refresh_from_db()
    assert job.outcome == JobOutcome.WARNINGS  # 5 of 9 excluded, above the default 50 %
    assert again.outcome == JobOutcome.SUCCEEDED and again.problems == []
