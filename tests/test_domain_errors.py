"""Services refuse with `moodlab.errors`; only the API's handler knows the HTTP answers."""

import ast
from pathlib import Path

import pytest

from moodlab import errors
from moodlab.api.errors import json_exception_handler

ROOT = Path(__file__).resolve().parent.parent
APPS = ("moodlab", "elicitation", "rating", "analysis")


def service_modules() -> list[Path]:
    found = []
    for app in APPS:
        found += (ROOT / app).rglob("services.py")
        found += (ROOT / app).rglob("services/*.py")
    return sorted(found)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_services_are_all_found():
    found = {str(path.relative_to(ROOT)) for path in service_modules()}
    assert {
        "rating/services.py",
        "elicitation/services/chains.py",
        "moodlab/studies/services/steps.py",
        "analysis/crosscultural/services.py",
    } <= found


@pytest.mark.parametrize("path", service_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_service_imports_the_rest_framework(path):
    http = {name for name in imported_modules(path) if name.split(".")[0] == "rest_framework"}
    assert not http, f"{path.relative_to(ROOT)} imports {sorted(http)}: raise moodlab.errors"


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
