"""The elicitation chains as one table: one row per tag per turn, like the reference release.

Rows stream from the database in chunks so a study of any size exports in constant memory;
the snapshot job pseudonymises the participant column and guards cells with csv_safety.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Prefetch

from elicitation.models import ChainTag, TagAddition, TagRating, Turn
from moodlab.studies.models import Study

CHAIN_EXPORT_COLUMNS = [
    "study",
    "locale",
    "song_external_id",
    "chain",
    "turn_index",
    "participant",
    "tag_text",
    "tag_key",
    "rating",
    "flagged",
    "state_after_turn",
    "turn_started_at",
    "turn_submitted_at",
]
CHUNK_SIZE = 500


def chain_export_rows(*, study: Study) -> Iterator[dict[str, object]]:
    """Every submitted turn's rated tags, then its new tags (rating empty), in chain order.

    A flag has rating 0 and flagged true; `state_after_turn` is the tag's state once the
    turn was recorded (a new or re-added tag is visible).
    """
    turns = (
        Turn.objects.filter(chain__study=study, status=Turn.Status.SUBMITTED)
        .select_related("chain__locale", "song", "participant")
        .prefetch_related(
            Prefetch(
                "ratings", queryset=TagRating.objects.select_related("chain_tag").order_by("pk")
            ),
            Prefetch("additions", queryset=TagAddition.objects.order_by("pk")),
        )
        .order_by("chain__locale__code", "song__external_id", "chain__index", "index")
    )
    for turn in turns.iterator(chunk_size=CHUNK_SIZE):
        base = {
            "study": study.slug,
            "locale": turn.chain.locale.code,
            "song_external_id": turn.song.external_id,
            "chain": turn.chain_id,
            "turn_index": turn.index,
            "participant": str(turn.participant.public_id),
        }
        times = {
            "turn_started_at": turn.started_at.isoformat(),
            "turn_submitted_at": turn.submitted_at.isoformat() if turn.submitted_at else "",
        }
        for rating in turn.ratings.all():
            yield {
                **base,
                "tag_text": rating.chain_tag.text,
                "tag_key": rating.chain_tag.key,
                "rating": rating.score,
                "flagged": rating.flagged,
                "state_after_turn": rating.state_after,
                **times,
            }
        for addition in turn.additions.all():
            yield {
                **base,
                "tag_text": addition.text,
                "tag_key": addition.key,
                "rating": "",
                "flagged": False,
                "state_after_turn": ChainTag.State.VISIBLE,
                **times,
            }
