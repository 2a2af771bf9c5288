"""Property-based fuzzing of every documented API operation against a live test server.

Schemathesis generates valid and invalid requests from the OpenAPI schema and sends each as
a participant and as a researcher of the study; whatever it sends, the server must never
answer 5xx, and every documented response must match its schema. New endpoints are covered
as soon as they appear in the schema.
"""

import json
from types import SimpleNamespace

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error, response_schema_conformance

from analysis.crosscultural.tasks import crosscultural_analysis_run
from moodlab.studies.models import Study
from moodlab.studies.services.participants import participant_enter
from tests.conftest import build_study
from tests.factories import UserFactory, ready_for_trials


@pytest.fixture
def fuzz_credentials(transactional_db, monkeypatch):
    # Started analyses stay queued, as behind a broker: computing each fuzzed run inside the
    # request (the tests' in-process mode) would cost seconds per example and test nothing
    # of the HTTP layer.
    monkeypatch.setattr(
        crosscultural_analysis_run, "delay", lambda *args: SimpleNamespace(id="fuzz-queued")
    )
    study = build_study(locales=("en-US", "ar-EG"), slug="fuzz", phase="rating")
    researcher = UserFactory(username="fuzzer")
    study.researchers.add(researcher)
    participant, _ = participant_enter(
        study=study, locale=study.locales.get(code="en-US"), recruiter_participant_id="FUZZ-1"
    )
    ready_for_trials(participant)
    return {
        "researcher": f"Token {Token.objects.create(user=researcher).key}",
        "participant": f"Participant {participant.token}",
        "study": Study.objects.get(pk=study.pk),
    }


# The same document /api/schema/ serves, built once at collection; requests go to a live server.
schema = schemathesis.openapi.from_dict(
    json.loads(json.dumps(SchemaGenerator(api_version="v1").get_schema(request=None, public=True)))
)


@schema.parametrize()
@settings(
    max_examples=12,  # × 2 roles; the per-operation database setup and flush cost more
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_api_operation_answers_5xx_or_breaks_its_schema(case, live_server, fuzz_credentials):
    # Every operation as both kinds of caller: the one it is for gets past authorization to
    # the validation and the services; the other must be refused as documented.
    for role in ("participant", "researcher"):
        response = case.call(
            base_url=live_server.url, headers={"Authorization": fuzz_credentials[role]}, timeout=30
        )
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
