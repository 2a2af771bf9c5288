"""Simulated elicitation participants that drive the real HTTP API.

Each one walks the study's steps (moodlab.studies.simulated), and at the trials takes turns
until the server says it is done (or the rater drops out): it rates the shown tags with the
latent mood model, flags the ones it finds irrelevant, and types new tags drawn from its
language's mood vocabulary (the GlobalMood term lists, with their English glosses).
"""

from __future__ import annotations

import csv
from functools import cache, partial
from pathlib import Path

import httpx
import numpy as np

from moodlab.simulation import MoodModel
from moodlab.studies.normalization import grouping_key, language_of
from moodlab.studies.simulated import SimulatedSession, response_json, simulate_session

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


def take_turns(session: SimulatedSession) -> int:
    """Take turns until the server says the participant is done or the rater drops out."""
    model, rater, rng, locale_code = session.model, session.rater, session.rng, session.locale_code
    language = language_of(locale_code)
    glosses = _glosses(language)
    submitted = 0
    state = session.get("/api/v1/elicitation/turn/")
    while state["turn"] is not None and not rater.has_dropped_out(submitted):
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
        response = session.client.post(
            "/api/v1/elicitation/turn/submit/", json=payload, headers=session.headers
        )
        if response.status_code == httpx.codes.CONFLICT:  # timed out meanwhile: take the next
            state = session.get("/api/v1/elicitation/turn/")
        else:
            submitted += 1
            state = response_json(response)
    return submitted


simulate_elicitation_participant = partial(simulate_session, take_trials=take_turns)
"""Enter an elicitation study, take its steps and turns: `simulate_session`'s arguments."""


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
