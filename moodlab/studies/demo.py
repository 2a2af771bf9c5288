"""The demo studies: five locales, GlobalMood songs with synthesized clips, the real term lists.

`demo` is ready for rating; `demo-elicitation` is still collecting tags, so researchers can
watch chains fill (admin: Chains), curate the elicited tags and select each locale's rating
terms (admin: Terms to curate). Real recordings can't be shipped, so each song gets a short
clip whose tempo and mode follow the same latent valence–arousal model the simulated
participants use.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import IO

from django.db import transaction

from moodlab.audio import song_clip_wav
from moodlab.simulation import MoodModel, world_seed_for
from moodlab.studies.models import Study
from moodlab.studies.services.song_import import songs_import
from moodlab.studies.services.studies import study_add_reference_locales, study_set_phase
from moodlab.studies.services.term_import import terms_import

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
SONG_LIST = DEMO_DATA / "songmeta_GlobalMood.csv"
DEMO_SLUG = "demo"
DEMO_ELICITATION_SLUG = "demo-elicitation"
CLIP_SECONDS = 6.0


class GeneratedAudio:
    """Synthesized clips for a set of songs, served to the song importer like a folder."""

    def __init__(self, external_ids: list[str], model: MoodModel) -> None:
        self.external_ids = external_ids
        self.model = model

    def names(self) -> dict[str, str]:
        return {external_id: f"{external_id}.wav" for external_id in self.external_ids}

    def open(self, name: str) -> IO[bytes]:
        external_id = name.removesuffix(".wav")
        valence, arousal = self.model.song_coords(external_id)
        return io.BytesIO(
            song_clip_wav(
                external_id,
                seconds=CLIP_SECONDS,
                sample_rate=16000,
                valence=valence,
                arousal=arousal,
            )
        )


class ShortClips:
    """Short synthesised clips for songs of no particular mood: playable audio, cheap to make.

    Benchmarks and tests give their songs these, since a phase cannot start with songs a
    participant could not play.
    """

    def __init__(self, external_ids: list[str], *, seconds: float = 0.5) -> None:
        self.external_ids = external_ids
        self.seconds = seconds

    @classmethod
    def for_rows(cls, rows: str, *, seconds: float = 0.5) -> ShortClips:
        """Clips for every song of a GlobalMood song list (`demo_song_rows`)."""
        return cls([row["videoID"] for row in csv.DictReader(io.StringIO(rows))], seconds=seconds)

    def names(self) -> dict[str, str]:
        return {external_id: f"{external_id}.wav" for external_id in self.external_ids}

    def open(self, name: str) -> IO[bytes]:
        return io.BytesIO(
            song_clip_wav(name.removesuffix(".wav"), seconds=self.seconds, sample_rate=8000)
        )


def demo_song_rows(songs_per_country: int) -> str:
    """The first N songs of each country in the GlobalMood list, as CSV text."""
    with SONG_LIST.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        taken: dict[str, int] = defaultdict(int)
        rows = []
        for row in reader:
            if taken[row["iso2"]] < songs_per_country:
                taken[row["iso2"]] += 1
                rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def demo_study_prepare(
    *, slug: str, completion_code: str, songs_per_country: int, **defaults: object
) -> Study:
    """A demo study with the five reference locales and GlobalMood songs with clips.

    Every way out has its code, so a newcomer sees each end page as a panel's participant
    would: completed, screened out (or declined, timed out), and study full.
    """
    study, _ = Study.objects.get_or_create(
        slug=slug, defaults={"require_recruiter_id": False, **defaults}
    )
    codes = {
        "completion_code": completion_code,
        "screenout_code": f"{completion_code}-SCREENOUT",
        "no_places_code": f"{completion_code}-FULL",
    }
    for locale in study_add_reference_locales(study=study):
        missing = [field for field in codes if not getattr(locale, field)]
        for field in missing:
            setattr(locale, field, codes[field])
        if missing:
            locale.save(update_fields=missing)
    rows = demo_song_rows(songs_per_country)
    external_ids = [row["videoID"] for row in csv.DictReader(io.StringIO(rows))]
    # The clips sound like the world the study's simulated participants hear.
    world = MoodModel(seed=world_seed_for(slug))
    songs_import(study=study, csv_source=rows, audio=GeneratedAudio(external_ids, world))
    return study


@transaction.atomic
def demo_study_create(*, songs_per_country: int = 2) -> Study:
    """Create (or bring up to date) the `demo` study, ready for rating. Safe to run again."""
    study = demo_study_prepare(
        slug=DEMO_SLUG,
        completion_code="MOODLAB-DEMO",
        songs_per_country=songs_per_country,
        title="GlobalMood demo",
        description="Songs from 59 countries rated on each locale's own mood terms.",
        trials_per_participant=12,
    )
    for locale in study.locales.filter(terms_frozen_at=None):
        terms_import(
            locale=locale, csv_source=(DEMO_DATA / f"terms_{locale.language}.csv").read_bytes()
        )
    if study.phase == Study.Phase.DRAFT:
        # The demo has no panel: its missing completion links are a known, confirmed warning.
        study = study_set_phase(study=study, phase=Study.Phase.RATING, confirm=True)
    return study


@transaction.atomic
def demo_elicitation_study_create(*, songs_per_country: int = 1) -> Study:
    """Create (or bring up to date) `demo-elicitation`, in the elicitation phase. Safe to rerun.

    Prescreens stay on, as in a real study; chains are created when the first participant
    of each locale asks for a turn.
    """
    study = demo_study_prepare(
        slug=DEMO_ELICITATION_SLUG,
        completion_code="MOODLAB-DEMO-TAGS",
        songs_per_country=songs_per_country,
        title="GlobalMood elicitation demo",
        description="Participants describe the songs' mood in their own words.",
        turns_per_participant=10,
    )
    if study.phase == Study.Phase.DRAFT:
        study = study_set_phase(study=study, phase=Study.Phase.ELICITATION, confirm=True)
    return study
