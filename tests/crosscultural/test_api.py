import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token

from analysis.crosscultural.admin import AnalysisRunForm
from analysis.crosscultural.computation import ANCHOR_FIELDS, PARAM_BOUNDS, AnalysisParams
from analysis.crosscultural.models import CrossCulturalAnalysis, PredictionSet
from analysis.crosscultural.services import analysis_create, analysis_params_validate
from moodlab.errors import Invalid
from moodlab.simulation import MoodModel
from moodlab.studies.models import Study
from tests.conftest import build_study
from tests.crosscultural.factories import simulate_ratings
from tests.factories import UserFactory

FORM_DEFAULTS = {
    "split_half_repetitions": AnalysisParams.split_half_repetitions,
    "seed": AnalysisParams.seed,
    **{name: ", ".join(getattr(AnalysisParams(), name)) for name in ANCHOR_FIELDS},
}


@pytest.fixture
def owner(db):
    return UserFactory(
        username="owner",
        permissions=["crosscultural.add_crossculturalanalysis", "crosscultural.add_predictionset"],
    )


@pytest.fixture
def study(owner):
    study = build_study(locales=("en-US", "ko-KR"))
    study.researchers.add(owner)
    return study


@pytest.fixture
def analysis(study):
    return analysis_create(study=study, params=AnalysisParams())


def analyses_url(study) -> str:
    return reverse("v1:crosscultural-analysis-list", args=[study.slug])


def detail_url(analysis) -> str:
    return reverse("v1:crosscultural-analysis-detail", args=[analysis.pk])


def predictions_url(study) -> str:
    return reverse("v1:crosscultural-prediction-set-list", args=[study.slug])


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("predictions.csv", text.encode(), content_type="text/csv")


def test_anonymous_clients_are_refused_everywhere(api_client, study, analysis):
    for url in (analyses_url(study), detail_url(analysis), predictions_url(study)):
        assert api_client.get(url).status_code in (401, 403)
    assert api_client.post(analyses_url(study), {}, format="json").status_code in (401, 403)
    assert not CrossCulturalAnalysis.objects.exclude(pk=analysis.pk).exists()


def test_another_researcher_gets_404_for_the_study_and_its_runs(api_client, study, analysis):
    api_client.force_authenticate(
        UserFactory(
            username="stranger",
            permissions=[
                "crosscultural.add_crossculturalanalysis",
                "crosscultural.add_predictionset",
            ],
        )
    )

    for url in (analyses_url(study), detail_url(analysis), predictions_url(study)):
        response = api_client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["status"] == 404
    assert api_client.post(analyses_url(study), {}, format="json").status_code == 404


def test_a_non_staff_user_is_refused(api_client, study, analysis):
    user = UserFactory(username="visitor", is_staff=False)
    study.researchers.add(user)
    api_client.force_authenticate(user)

    assert api_client.get(detail_url(analysis)).status_code == 403


def test_the_owner_lists_runs_and_reads_one_with_its_results(api_client, owner, study, analysis):
    api_client.force_authenticate(owner)

    listing = api_client.get(analyses_url(study))
    detail = api_client.get(detail_url(analysis))

    assert listing.status_code == 200
    assert [run["id"] for run in listing.json()["results"]] == [analysis.pk]
    assert "results" not in listing.json()["results"][0]
    assert detail.status_code == 200
    assert detail.json()["status"] == "queued"
    assert detail.json()["results"] is None
    assert detail.json()["params"]["reliability_threshold"] == 0.7


def test_the_token_authenticated_owner_starts_a_run_that_completes(
    api_client, owner, study, django_capture_on_commit_callbacks
):
    simulate_ratings(study, model=MoodModel(seed=2), raters_per_locale=8)
    token, _ = Token.objects.get_or_create(user=owner)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            analyses_url(study),
            {"params": {"split_half_repetitions": 10, "seed": 4, "arousal_positive": ["upbeat"]}},
            format="json",
        )

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    detail = api_client.get(
        reverse("v1:crosscultural-analysis-detail", args=[response.json()["id"]])
    )
    body = detail.json()
    assert body["status"] == "succeeded", body["error"]
    assert body["params"]["arousal_positive"] == ["upbeat"]
    assert body["params"]["valence_negative"] == ["sad", "sadness", "sorrowful"]
    assert body["results"]["mood_space"]["en-US"]["anchors"]["arousal_positive"] == ["upbeat"]


def test_bad_analysis_parameters_are_a_400_with_field_errors(api_client, owner, study):
    api_client.force_authenticate(owner)

    response = api_client.post(
        analyses_url(study),
        {"params": {"reliability_threshold": 3, "split_half_repetitions": 0}},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]["params"]) == {
        "reliability_threshold",
        "split_half_repetitions",
    }
    assert not CrossCulturalAnalysis.objects.exists()


def test_the_owner_uploads_predictions_as_multipart_csv(api_client, owner, study):
    api_client.force_authenticate(owner)
    song = study.songs.order_by("external_id").first().external_id

    response = api_client.post(
        predictions_url(study),
        {"name": "clap-v1", "file": csv_upload(f"song,locale,term,score\n{song},en-US,sad,0.3\n")},
        format="multipart",
    )

    assert response.status_code == 201
    assert response.json()["row_count"] == 1
    assert response.json()["uploaded_by"] == "owner"
    assert [s["name"] for s in api_client.get(predictions_url(study)).json()["results"]] == [
        "clap-v1"
    ]


def test_a_bad_prediction_upload_answers_the_row_report_and_stores_nothing(
    api_client, owner, study
):
    api_client.force_authenticate(owner)
    song = study.songs.order_by("external_id").first().external_id
    text = f"song,locale,term,score\nnope,en-US,sad,1\n{song},en-US,sad,x\n{song},en-US,sad,2\n"

    response = api_client.post(
        predictions_url(study), {"name": "bad", "file": csv_upload(text)}, format="multipart"
    )

    assert response.status_code == 400
    problems = response.json()["error"]["fields"]["file"]
    assert problems == [
        "row 2, song: unknown song 'nope'",
        "row 3, score: 'x' is not a number",
    ]
    assert not PredictionSet.objects.exists()


def test_another_researcher_cannot_upload_predictions(api_client, study):
    api_client.force_authenticate(
        UserFactory(
            username="stranger",
            permissions=[
                "crosscultural.add_crossculturalanalysis",
                "crosscultural.add_predictionset",
            ],
        )
    )

    response = api_client.post(
        predictions_url(study),
        {"name": "x", "file": csv_upload("song,locale,term,score\n")},
        format="multipart",
    )

    assert response.status_code == 404
    assert not PredictionSet.objects.exists()


def test_the_schema_documents_the_analysis_endpoints(api_client):
    schema = api_client.get(reverse("schema"), {"format": "json"}).json()

    assert "/api/v1/studies/{study_slug}/analyses/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/studies/{study_slug}/analyses/"]
    assert "/api/v1/analyses/{analysis_id}/" in schema["paths"]
    upload = schema["paths"]["/api/v1/studies/{study_slug}/predictions/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]


@pytest.mark.parametrize("threshold", [0.005, 1.5])
def test_the_api_the_admin_form_and_the_service_refuse_a_threshold_alike(
    api_client, owner, study, threshold
):
    said = [PARAM_BOUNDS["reliability_threshold"].message]
    api_client.force_authenticate(owner)

    response = api_client.post(
        analyses_url(study), {"params": {"reliability_threshold": threshold}}, format="json"
    )
    form = AnalysisRunForm(
        data={"study": study.pk, "reliability_threshold": threshold, **FORM_DEFAULTS},
        studies=Study.objects.all(),
    )
    with pytest.raises(Invalid) as refused:
        analysis_params_validate({"reliability_threshold": threshold})

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["params"]["reliability_threshold"] == said
    assert not form.is_valid()
    assert form.errors["reliability_threshold"] == said
    assert refused.value.fields == {"reliability_threshold": said}


def test_the_lowest_threshold_is_accepted_by_the_admin_form_and_the_service(study):
    form = AnalysisRunForm(
        data={"study": study.pk, "reliability_threshold": 0.01, **FORM_DEFAULTS},
        studies=Study.objects.all(),
    )

    assert form.is_valid(), form.errors
    assert form.params().reliability_threshold == 0.01
    assert analysis_params_validate({"reliability_threshold": 0.01}).reliability_threshold == 0.01
