"""Simulated elicitation participants that drive the real HTTP API.

Each one enters by the entry endpoint, then takes turns until the server says it is done
(or the rater drops out): it rates the shown tags with the latent mood model, flags the
ones it finds irrelevant, and types new tags drawn from its language's mood vocabulary
(the GlobalMood term lists, with their English glosses). No Django import: it talks HTTP.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import httpx
import numpy as np

from elicitation.normalization import grouping_key, language_of
from moodlab.simulation import MoodModel, RaterProfile

VOCABULARY_DIR = Path(__file__).resolve().parents[1] / "moodlab" / "studies" / "demo_data"
TAGS_WHEN_NOTHING_TO_RATE = 2
TAG_CANDIDATES = 6
NEW_TAG_PROBABILITY = 0.5


@cache
def mood_vocabulary(language: str) -> tuple[tuple[str, str], ...]:
    """(tag, English gloss) pairs a simulated speaker of the language may type."""
    path = VOCABULARY_DIR / f"terms_{language}.csv"
    if not path.exists():
        path = VOCABULARY_DIR / "terms_en.csv"
    with path.open(encoding="utf-8") as handle:
        return tuple(
            (row["grouped_tag"], (row.get("translation") or row["grouped_tag"]).lower())
            for row in csv.DictReader(handle)
        )


@cache
def _glosses(language: str) -> dict[str, str]:
    return {grouping_key(tag, language=language): gloss for tag, gloss in mood_vocabulary(language)}


def simulate_elicitation_participant(
    client: httpx.Client,
    *,
    study_slug: str,
    locale_code: str,
    recruiter_id: str,
    model: MoodModel,
    rater: RaterProfile,
    rng: np.random.Generator,
) -> int:
    """Take part in an elicitation study through the API; returns the turns submitted."""
    entered = client.post(
        "/api/v1/participants/",
        json={"study": study_slug, "locale": locale_code, "recruiter_participant_id": recruiter_id},
    )
    entered.raise_for_status()
    headers = {"Authorization": f"Participant {entered.json()['token']}"}
    language = language_of(locale_code)
    glosses = _glosses(language)
    submitted = 0
    response = client.get("/api/v1/elicitation/turn/", headers=headers)
    response.raise_for_status()
    state = response.json()
    while not state["done"] and not rater.has_dropped_out(submitted):
        turn = state["turn"]
        song = turn["song_external_id"]
        ratings: dict[str, int | str] = {}
        for tag in turn["tags_to_rate"]:
            gloss = glosses.get(grouping_key(tag["text"], language=language), tag["text"])
            stars = model.rate_tag(rater, song, gloss, locale_code, rng)
            ratings[str(tag["id"])] = "flag" if stars is None else stars
        payload = {
            "turn": turn["id"],
            "ratings": ratings,
            "new_tags": _new_tags(turn, model, song, locale_code, language, rng),
            "audio_played_seconds": turn["clip_seconds"] or 0.0,
        }
        response = client.post("/api/v1/elicitation/turn/submit/", json=payload, headers=headers)
        if response.status_code == httpx.codes.CONFLICT:  # timed out meanwhile: take the next
            response = client.get("/api/v1/elicitation/turn/", headers=headers)
        else:
            submitted += 1
        response.raise_for_status()
        state = response.json()
    return submitted


def _new_tags(
    turn: dict[str, object],
    model: MoodModel,
    song: str,
    locale_code: str,
    language: str,
    rng: np.random.Generator,
) -> list[str]:
    shown = turn["frozen_tags"] + turn["tags_to_rate"]  # type: ignore[operator]
    taken = {grouping_key(tag["text"], language=language) for tag in shown}
    wanted = (
        TAGS_WHEN_NOTHING_TO_RATE
        if not turn["tags_to_rate"]
        else int(rng.random() < NEW_TAG_PROBABILITY)
    )
    candidates = model.describe(
        song, locale_code, mood_vocabulary(language), rng, count=TAG_CANDIDATES
    )
    fresh = [tag for tag in candidates if grouping_key(tag, language=language) not in taken]
    return fresh[:wanted]
