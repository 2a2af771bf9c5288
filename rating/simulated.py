"""A simulated participant taking the rating phase through the real HTTP API."""

from __future__ import annotations

from functools import partial

from moodlab.studies.simulated import SimulatedSession, simulate_session
from rating.timing import SIMULATED_CLOCK_HEADER, simulated_clock_signature


def rate_trials(session: SimulatedSession) -> int:
    """Rate trials as the rater hears them until none is left (then finish) or dropping out."""
    model, rater = session.model, session.rater
    submitted = 0
    while not rater.has_dropped_out(submitted):
        view = session.get("/api/v1/rating/trial/")
        trial = view["trial"]
        if trial is None:
            # Waiting for a free song, or the study filled up: a simulated rater leaves.
            if view["finished"] and not view["session_ended"]:
                session.post("/api/v1/rating/finish/")
            break
        clip_seconds = trial["song"]["clip_seconds"] or 0.0
        values, seconds = model.rate_trial(
            rater,
            trial["song"]["external_id"],
            [term["gloss"] for term in trial["terms"]],
            session.locale_code,
            session.rng,
            clip_seconds=clip_seconds,
        )
        # The rater's time is simulated, not waited: the signed header has it believed.
        session.post(
            f"/api/v1/rating/trials/{trial['id']}/submit/",
            {
                "ratings": {
                    str(term["id"]): value
                    for term, value in zip(trial["terms"], values, strict=True)
                },
                # The clip plays to its end before the answer can be sent.
                "audio_played_seconds": clip_seconds,
                "response_seconds": round(seconds, 3),
            },
            headers={SIMULATED_CLOCK_HEADER: simulated_clock_signature(trial["id"])},
        )
        submitted += 1
    return submitted


simulate_rating_participant = partial(simulate_session, take_trials=rate_trials)
"""Enter a rating study, take its steps, rate the trials: `simulate_session`'s arguments."""
