"""A simulated participant's way through a study's steps, over the API a browser uses.

Both phases' simulators hand their trial loop to `simulate_session`, which enters and then
follows `next_step` from GET me/ after every answer, so it takes whatever consent,
prescreens and questionnaire the study enables, in the server's order. What a listener
perceives but the API keeps secret (which sound of a headphone trial differs, which words are
real) is read through the prescreen services, as the listener would hear or know it: the
simulator must share the server's database, as the local server of `simulate_participants`
does. Like the trial loops, it downloads no audio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from moodlab.simulation import MoodModel, RaterProfile
from moodlab.studies.models import Participant
from moodlab.studies.selectors import participant_by_token
from moodlab.studies.services.prescreens import (
    headphone_positions,
    vocabulary_items_for,
)

ME = "/api/v1/participants/me/"
AGES = (18, 70)
VOLUME_LEVELS = (0.3, 0.9)


@dataclass(frozen=True)
class SessionOutcome:
    trials: int
    status: str
    """The participant's status when the walk stopped; "started" for a dropout."""
    participant: str = ""
    """The participant's public id, to compare what quality control decided with the rater."""


@dataclass(frozen=True)
class SimulatedSession:
    """One simulated participant's session: its client, credentials and way of answering."""

    client: httpx.Client
    token: str
    locale_code: str
    model: MoodModel
    rater: RaterProfile
    rng: np.random.Generator

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Participant {self.token}"}

    def get(self, path: str) -> Any:
        return response_json(self.client.get(path, headers=self.headers))

    def post(
        self,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return response_json(
            self.client.post(path, json=payload, headers={**self.headers, **(headers or {})})
        )

    def answer(self, step: str) -> None:
        steps: dict[str, Callable[[], None]] = {
            "consent": self.consent,
            "volume_calibration": self.volume_calibration,
            "headphone_check": self.headphone_check,
            "vocabulary_check": self.vocabulary_check,
            "questionnaire": self.questionnaire,
        }
        if step not in steps:
            raise ValueError(f"the simulator cannot take the step {step!r}")
        steps[step]()

    def consent(self) -> None:
        self.post(ME + "consent/", {"agree": True})

    def volume_calibration(self) -> None:
        self.post(ME + "volume/", {"level": round(float(self.rng.uniform(*VOLUME_LEVELS)), 2)})

    def headphone_check(self) -> None:
        """Name each trial's odd sound as heard; inattentive, click the same button each time.

        The server balances the odd positions, so one button always scores a third: a fail.
        """
        test = self.get(ME + "headphones/")
        if self.rater.attentive:
            answers = headphone_positions(self._participant())
        else:
            answers = [int(self.rng.integers(1, test["choices"], endpoint=True))] * len(
                test["trials"]
            )
        self.post(ME + "headphones/", {"answers": answers})

    def vocabulary_check(self) -> None:
        """Tell words from pseudowords as a speaker of the language, with the rater's slips."""
        real = {item.id: item.real for item in vocabulary_items_for(self._participant())}
        items = self.get(ME + "vocabulary/")["items"]
        slips = self.rng.random(len(items)) < self.rater.vocabulary_error_rate
        answers = [
            {"id": item["id"], "is_word": real[item["id"]] != bool(slip)}
            for item, slip in zip(items, slips, strict=True)
        ]
        self.post(ME + "vocabulary/", {"answers": answers})

    def questionnaire(self) -> None:
        """Plausible answers: any choice, an adult's age, the locale's country and language."""
        language, _, region = self.locale_code.partition("-")
        answers: dict[str, object] = {}
        for field in self.get(ME + "questionnaire/")["fields"]:
            values = [choice["value"] for choice in field["choices"] or []]
            if field["type"] == "country" and region in values:
                answers[field["name"]] = region
            elif values:
                answers[field["name"]] = values[int(self.rng.integers(len(values)))]
            elif field["type"] == "integer":
                answers[field["name"]] = int(self.rng.integers(*AGES, endpoint=True))
            else:  # free text: the native language, and no technical problems to report
                answers[field["name"]] = language if field["name"] == "native_language" else ""
        self.post(ME + "questionnaire/", answers)

    def _participant(self) -> Participant:
        participant = participant_by_token(self.token)
        if participant is None:
            raise ValueError(
                "the prescreens can only be simulated on a server sharing this database"
            )
        return participant


TrialLoop = Callable[[SimulatedSession], int]
"""Takes one phase's trials until done or the rater drops out; returns how many it sent."""


def simulate_session(
    client: httpx.Client,
    *,
    study_slug: str,
    locale_code: str,
    recruiter_id: str,
    model: MoodModel,
    rater: RaterProfile,
    rng: np.random.Generator,
    take_trials: TrialLoop,
) -> SessionOutcome:
    """Enter, then take each step GET me/ names until the session ends or the rater drops out.

    The trials are taken once: a participant still sent to them afterwards dropped out and
    simply stops, as a closed browser tab would; their session times out and the beat task
    frees what they held.
    """
    entered = client.post(
        "/api/v1/participants/",
        json={"study": study_slug, "locale": locale_code, "recruiter_participant_id": recruiter_id},
    )
    if entered.status_code == httpx.codes.FORBIDDEN and _refusal_code(entered) == "full":
        # The locale's work is done: a person would be sent back to the panel, as here.
        return SessionOutcome(trials=0, status=Participant.Status.FULL, participant="")
    entry = response_json(entered)
    session = SimulatedSession(client, entry["token"], locale_code, model, rater, rng)
    trials: int | None = None
    while True:
        state = session.get(ME)
        step = state["next_step"]
        if step in ("complete", "ended") or (step == "trials" and trials is not None):
            return SessionOutcome(
                trials=trials or 0, status=state["status"], participant=str(entry["public_id"])
            )
        if step == "trials":
            trials = take_trials(session)
        else:
            session.answer(step)


class PatientTransport(httpx.BaseTransport):
    """Waits out a 429 for its Retry-After seconds and asks again, as a patient person would.

    Simulated participants all come from one address, so a run larger than the per-address
    entry limit (THROTTLE_PARTICIPANT_START) is paced by it rather than failed.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = transport or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        while True:
            response = self.transport.handle_request(request)
            if response.status_code != httpx.codes.TOO_MANY_REQUESTS:
                return response
            response.close()
            time.sleep(float(response.headers.get("Retry-After", 1)))

    def close(self) -> None:
        self.transport.close()


def _refusal_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def response_json(response: httpx.Response) -> Any:
    """The decoded body of a successful response; an error carries the server's explanation."""
    if response.is_error:
        raise httpx.HTTPStatusError(
            f"{response.request.method} {response.url.path}: {response.status_code} "
            f"{response.text[:300]}",
            request=response.request,
            response=response,
        )
    return response.json()
