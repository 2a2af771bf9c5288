"""From rating rows in PostgreSQL to the report page: the whole path a researcher uses."""

import json
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from analysis.crosscultural.computation import AnalysisParams
from analysis.crosscultural.figures import FIGURES
from analysis.crosscultural.models import CrossCulturalAnalysis, PredictionSet
from analysis.crosscultural.services import (
    analysis_create,
    analysis_run,
    analysis_start,
    prediction_set_import,
)
from moodlab.errors import Invalid
from moodlab.simulation import MoodModel
from tests.conftest import build_study
from tests.crosscultural.factories import predictions_csv, simulate_ratings
from tests.factories import UserFactory

MODEL = MoodModel(seed=4, term_overrides={("ko", "sad"): (0.0, 0.9)})


def researcher_with_analysis_rights(username: str):
    user = UserFactory(username=username)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="crosscultural"))
    return user


@pytest.fixture
def owner(db):
    return researcher_with_analysis_rights("owner")


@pytest.fixture
def study(owner):
    study = build_study(locales=("en-US", "ko-KR", "ar-EG"))
    study.researchers.add(owner)
    simulate_ratings(study, model=MODEL, raters_per_locale=12)
    prediction_set_import(study=study, name="truth", csv_source=predictions_csv(study, model=MODEL))
    return study


@pytest.fixture
def finished(study, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        analysis = analysis_start(
            study=study, params=AnalysisParams(split_half_repetitions=20), requested_by=owner
        )
    analysis.refresh_from_db()
    return analysis


def test_a_started_analysis_runs_on_commit_and_stores_nan_free_results(finished):
    assert finished.status == CrossCulturalAnalysis.Status.SUCCEEDED, finished.error
    assert (finished.progress, finished.stage) == (100, "done")
    assert finished.celery_task_id
    assert finished.finished_at >= finished.started_at
    json.dumps(finished.results, allow_nan=False)
    assert finished.results["locales"] == ["ar-EG", "en-US", "ko-KR"]
    assert finished.results["source"] == {
        "study": finished.study.slug,
        "snapshot_version": None,
        "analysis_id": finished.pk,
    }
    assert finished.results["model_agreement"][0]["prediction_set"] == "truth"
    assert [timing["stage"] for timing in finished.results["timings"]] == [
        "reading ratings",
        "reliability",
        "mood spaces",
        "across locales",
        "equivalent terms",
        "model agreement",
    ]


def test_the_report_page_shows_the_tables_and_links_every_figure(client, owner, finished):
    client.force_login(owner)

    page = client.get(reverse("admin:crosscultural_analysis_report", args=[finished.study.slug]))

    assert page.status_code == 200
    html = page.content.decode()
    assert f"Analysis #{finished.pk}" in html
    assert "슬픈" in html  # the equivalent-term table
    assert "Model agreement: truth" in html
    for name in FIGURES:
        assert (
            reverse("admin:crosscultural_analysis_figure", args=[finished.pk, name, "svg"]) in html
        )


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_is_a_valid_svg_captioned_with_its_source(client, owner, finished, name):
    client.force_login(owner)

    response = client.get(
        reverse("admin:crosscultural_analysis_figure", args=[finished.pk, name, "svg"])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    root = ElementTree.fromstring(response.content)
    assert root.tag.endswith("svg")
    text = "".join(root.itertext())
    assert f"Study {finished.study.slug}, live ratings" in text
    assert "20 split-half repetitions" in text


def test_figures_download_as_png_and_the_numbers_as_json(client, owner, finished):
    client.force_login(owner)

    png = client.get(
        reverse("admin:crosscultural_analysis_figure", args=[finished.pk, "reliability", "png"]),
        {"download": "1"},
    )
    numbers = client.get(reverse("admin:crosscultural_analysis_json", args=[finished.pk]))

    assert png.content.startswith(b"\x89PNG")
    assert "attachment" in png["Content-Disposition"]
    assert json.loads(numbers.content) == finished.results


def test_another_researcher_cannot_see_the_report_or_its_figures(client, finished):
    stranger = researcher_with_analysis_rights("stranger")
    client.force_login(stranger)

    report = client.get(reverse("admin:crosscultural_analysis_report", args=[finished.study.slug]))
    figure = client.get(
        reverse("admin:crosscultural_analysis_figure", args=[finished.pk, "congruence", "svg"])
    )
    listing = client.get(reverse("admin:crosscultural_crossculturalanalysis_changelist"))

    assert (report.status_code, figure.status_code) == (404, 404)
    assert finished.study.slug not in listing.content.decode()


def test_the_admin_run_form_queues_an_analysis_that_runs(
    client, owner, study, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    form = {
        "study": study.pk,
        "snapshot_version": "",
        "reliability_threshold": "0.8",
        "split_half_repetitions": "10",
        "seed": "3",
        "valence_positive": "happy, joy",
        "valence_negative": "sad",
        "arousal_positive": "energetic",
        "arousal_negative": "calm",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:crosscultural_analysis_run"), form)

    assert response.status_code == 302
    analysis = CrossCulturalAnalysis.objects.get(study=study)
    assert analysis.status == CrossCulturalAnalysis.Status.SUCCEEDED, analysis.error
    assert analysis.params["valence_positive"] == ["happy", "joy"]
    assert analysis.params["reliability_threshold"] == 0.8
    listing = client.get(reverse("admin:crosscultural_crossculturalanalysis_changelist"))
    assert '<progress max="100" value="100">' in listing.content.decode()


def test_a_run_over_a_missing_snapshot_is_refused_before_anything_is_queued(study):
    with pytest.raises(Invalid) as refusal:
        analysis_start(study=study, params=AnalysisParams(), snapshot_version="404")

    assert "no complete snapshot '404'" in refusal.value.fields["snapshot_version"][0]
    assert not CrossCulturalAnalysis.objects.exists()


def test_the_analyze_command_writes_the_report_and_figures(study, tmp_path):
    call_command("analyze", study=study.slug, out=tmp_path, repetitions=10)

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["source"]["study"] == study.slug
    assert report["params"]["split_half_repetitions"] == 10
    for name in FIGURES:
        ElementTree.parse(tmp_path / f"{name}.svg")
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert CrossCulturalAnalysis.objects.get(study=study).status == "succeeded"


def test_a_run_delivered_twice_is_computed_once(study):
    queued = analysis_create(study=study, params=AnalysisParams(split_half_repetitions=5))
    first = analysis_run(analysis_id=queued.pk)

    second = analysis_run(analysis_id=queued.pk)

    assert second.status == CrossCulturalAnalysis.Status.SUCCEEDED
    assert second.finished_at == first.finished_at
    assert second.results == first.results


def test_the_report_page_of_a_study_still_running_refreshes_itself(client, owner, study):
    analysis_create(study=study, params=AnalysisParams())
    client.force_login(owner)

    page = client.get(reverse("admin:crosscultural_analysis_report", args=[study.slug]))

    html = page.content.decode()
    assert "No finished analysis yet." in html
    assert 'http-equiv="refresh"' in html
    assert "(queued)" in html


def test_a_bad_prediction_upload_in_the_admin_shows_the_row_report(client, owner, study):
    client.force_login(owner)
    upload = SimpleUploadedFile(
        "p.csv", b"song,locale,term,score\nnope,en-US,sad,1\n", content_type="text/csv"
    )

    response = client.post(
        reverse("admin:crosscultural_predictionset_upload"),
        {"study": study.pk, "name": "bad", "csv_file": upload},
    )

    assert response.status_code == 200
    assert "unknown song &#x27;nope&#x27;" in response.content.decode()
    assert not PredictionSet.objects.filter(name="bad").exists()


def test_analyze_out_writes_the_report_the_admin_shows_beside_its_figures(
    client, owner, study, tmp_path
):
    call_command("analyze", study=study.slug, out=tmp_path, repetitions=10)

    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for name in FIGURES:
        assert f'src="{name}.svg"' in page
        assert f'href="{name}.png"' in page
    assert 'href="report.json"' in page
    client.force_login(owner)
    admin_page = client.get(
        reverse("admin:crosscultural_analysis_report", args=[study.slug])
    ).content.decode()
    for heading in ("Reliability per locale", "Dictionary-equivalent terms", "Model agreement"):
        assert heading in page and heading in admin_page
    # Terms as participants read them, isolated for right-to-left text.
    assert "<bdi>슬픈</bdi>" in page and "<bdi>슬픈</bdi>" in admin_page


def test_a_snapshot_analysis_compares_the_prediction_sets_stored_with_the_snapshot(study):
    from analysis.services.snapshots import snapshot_export

    snapshot = snapshot_export(study_id=study.pk)
    PredictionSet.objects.filter(study=study, name="truth").delete()
    prediction_set_import(study=study, name="later", csv_source=predictions_csv(study, model=MODEL))

    queued = analysis_create(
        study=study,
        params=AnalysisParams(split_half_repetitions=5),
        snapshot_version=str(snapshot.version),
    )
    analysis = analysis_run(analysis_id=queued.pk)

    assert analysis.status == CrossCulturalAnalysis.Status.SUCCEEDED, analysis.error
    assert [a["prediction_set"] for a in analysis.results["model_agreement"]] == ["truth"]
    assert analysis.results["model_agreement"][0]["per_locale"]
