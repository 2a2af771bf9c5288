"""A simulated participant taking the rating phase through the real HTTP API."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from moodlab.simulation import MoodModel, RaterProfile


def simulate_rating_participant(
    client: httpx.Client,
    *,
    study_slug: str,
    locale_code: str,
    recruiter_id: str,
    model: MoodModel,
    rater: RaterProfile,
    rng: np.random.Generator,
) -> int:
    """Enter, rate trials as `rater` hears them until done (or dropping out), finish.

    Returns the number of trials submitted. A participant who drops out simply stops, as a
    closed browser tab would: their session times out and the beat task frees their trial.
    """
    entry = _json(
        client.post(
            "/api/v1/participants/",
            json={
                "study": study_slug,
                "locale": locale_code,
                "recruiter_participant_id": recruiter_id,
            },
        )
    )
    headers = {"Authorization": f"Participant {entry['token']}"}
    submitted = 0
    while not rater.has_dropped_out(submitted):
        trial = _json(client.get("/api/v1/rating/trial/", headers=headers))["trial"]
        if trial is None:
            _json(client.post("/api/v1/rating/finish/", headers=headers))
            break
        values, _seconds = model.rate_trial(
            rater,
            trial["song"]["external_id"],
            [term["gloss"] for term in trial["terms"]],
            locale_code,
            rng,
        )
        _json(
            client.post(
                f"/api/v1/rating/trials/{trial['id']}/submit/",
                json={
                    "ratings": {
                        str(term["id"]): value
                        for term, value in zip(trial["terms"], values, strict=True)
                    },
                    # The clip plays to its end before the answer can be sent.
                    "audio_played_seconds": trial["song"]["clip_seconds"] or 0.0,
                },
                headers=headers,
            )
        )
        submitted += 1
    return submitted


def _json(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()
