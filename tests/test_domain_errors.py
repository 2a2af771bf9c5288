"""Services refuse with `moodlab.errors`; only the API's handler knows the HTTP answers."""

import pytest

from moodlab import errors
from moodlab.api.errors import json_exception_handler

# That no service imports rest_framework is an import contract (pyproject.toml,
# tests/test_import_contracts.py); here, what the one handler answers for each refusal.


def answer(error):
    response = json_exception_handler(error, {})
    return response.status_code, response.data["error"]


@pytest.mark.parametrize(
    ("error", "status", "code", "message"),
    [
        (errors.NotFound("No such trial."), 404, "not_found", "No such trial."),
        (errors.Conflict("Answered.", code="already_submitted"), 409, "already_submitted", "Answ"),
        (errors.StepsPending(["consent", "volume"]), 403, "steps_pending", "consent, volume"),
        (errors.SessionEnded("This session has ended."), 403, "session_ended", "has ended"),
        (errors.Invalid(message="No such step.", code="step_disabled"), 400, "step_disabled", "No"),
    ],
)
def test_each_refusal_answers_its_status_code_and_message(error, status, code, message):
    status_given, body = answer(error)
    assert (status_given, body["status"], body["code"]) == (status, status, code)
    assert message in body["message"] and body["fields"] == {}


def test_invalid_fields_answer_400_keyed_by_field_as_forms_do():
    error = errors.Invalid({"ratings": ["Missing a rating for term 3."], "terms": "Too few."})
    status, body = answer(error)
    assert (status, body["code"], body["message"]) == (400, "invalid", "Invalid input.")
    assert body["fields"] == {"ratings": ["Missing a rating for term 3."], "terms": ["Too few."]}
    assert str(error) == "Missing a rating for term 3. Too few."  # what admin messages show
