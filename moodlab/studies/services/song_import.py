"""Importing a study's songs from a CSV file, with their audio from a folder or a zip archive."""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from django.conf import settings
from django.db import transaction
from django_countries import countries

from moodlab.audio_codec import ProbedAudio
from moodlab.studies.csv_import import (
    ImportFailed,
    ImportReport,
    parse_float,
    read_csv_rows,
)
from moodlab.studies.models import Song, Study
from moodlab.studies.services.song_audio import (
    sha256_of,
    song_audio_probe,
    song_audio_store,
)

AUDIO_EXTENSIONS = frozenset({"wav", "mp3", "ogg", "oga", "opus", "m4a", "flac", "webm"})
MAX_AUDIO_BYTES = 50 * 1024 * 1024
# A zip member may inflate this much at most: music compresses 1–3× with deflate, while a
# zip bomb (silence, repeated bytes) reaches 1,000×. Small members are let through.
MAX_COMPRESSION_RATIO = 50
RATIO_CHECK_FROM_BYTES = 1024 * 1024
# Members are spooled to disk beyond this size, never held whole in memory.
_SPOOL_MEMORY_BYTES = 1024 * 1024
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

SONG_COLUMNS = {
    "external_id": ("external_id", "videoID", "video_id"),
    "title": ("title", "song"),
    "artist": ("artist",),
    # GlobalMood has both `iso2` (code) and `country` (name): the code wins.
    "country": ("country_code", "iso2", "country"),
    "duration_seconds": ("duration_seconds",),
    "clip_start_seconds": ("clip_start_seconds",),
    "clip_end_seconds": ("clip_end_seconds",),
}
REQUIRED_SONG_COLUMNS = ("external_id", "title", "country")


class AudioSource(Protocol):
    """Audio files keyed by the song's external id (the file name without its extension)."""

    def names(self) -> dict[str, str]: ...

    def open(self, name: str) -> IO[bytes]: ...


class AudioDirectory:
    def __init__(self, path: Path) -> None:
        self.path = path

    def names(self) -> dict[str, str]:
        return {p.stem: p.name for p in sorted(self.path.iterdir()) if _is_audio_name(p.name)}

    def open(self, name: str) -> IO[bytes]:
        path = self.path / name
        if path.stat().st_size > MAX_AUDIO_BYTES:
            raise ValueError(f"larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MB")
        return path.open("rb")


class AudioZip:
    """A zip of audio files; members in sub-folders count by their base name.

    Members are streamed to temporary files, counting the bytes really inflated (a member's
    declared size can lie): each stops at MAX_AUDIO_BYTES, the archive at
    SONG_IMPORT_MAX_TOTAL_BYTES, and a member inflating more than MAX_COMPRESSION_RATIO
    times is refused as a zip bomb.
    """

    def __init__(self, file: IO[bytes], *, max_total_bytes: int | None = None) -> None:
        self.archive = zipfile.ZipFile(file)
        self.max_total_bytes = max_total_bytes or settings.SONG_IMPORT_MAX_TOTAL_BYTES
        self.inflated = 0

    def names(self) -> dict[str, str]:
        return {
            Path(info.filename).stem: info.filename
            for info in self.archive.infolist()
            if not info.is_dir() and _is_audio_name(Path(info.filename).name)
        }

    def open(self, name: str) -> IO[bytes]:
        info = self.archive.getinfo(name)
        limit = min(MAX_AUDIO_BYTES, self.max_total_bytes - self.inflated)
        if limit <= 0:
            raise ValueError(_total_message(self.max_total_bytes))
        spooled = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES)  # noqa: SIM115
        size = 0
        try:
            with self.archive.open(info) as member:
                for chunk in iter(lambda: member.read(256 * 1024), b""):
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(
                            f"larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MB"
                            if limit == MAX_AUDIO_BYTES
                            else _total_message(self.max_total_bytes)
                        )
                    if size > RATIO_CHECK_FROM_BYTES and size > MAX_COMPRESSION_RATIO * max(
                        info.compress_size, 1
                    ):
                        raise ValueError(
                            f"inflates more than {MAX_COMPRESSION_RATIO}× (a zip bomb?)"
                        )
                    spooled.write(chunk)
        except BaseException:
            spooled.close()
            raise
        self.inflated += size
        spooled.seek(0)
        return spooled


def _total_message(total: int) -> str:
    return f"the archive inflates beyond {total // (1024 * 1024)} MB in all"


def _is_audio_name(name: str) -> bool:
    return not name.startswith(".") and name.rsplit(".", 1)[-1].lower() in AUDIO_EXTENSIONS


@dataclass
class _SongRow:
    line: int
    fields: dict[str, object]
    audio_name: str | None = None
    audio: IO[bytes] | None = None
    probed: ProbedAudio | None = None
    digest: str | None = None


def songs_import(
    *,
    study: Study,
    csv_source: str | bytes | IO[bytes] | IO[str],
    audio: AudioSource | None = None,
) -> ImportReport:
    """Create or update the study's songs from a CSV; all rows or none.

    Idempotent by external id: importing the same file again changes nothing. Raises
    ImportFailed (carrying the per-row report) when any row is bad.
    """
    report = ImportReport()
    rows = read_csv_rows(
        csv_source, columns=SONG_COLUMNS, required=REQUIRED_SONG_COLUMNS, report=report
    )
    audio_names = audio.names() if audio is not None else {}
    parsed = list(_validate_rows(rows, report))
    try:
        if audio is not None:
            for row in parsed:
                _attach_audio(row, audio, audio_names, report)
        if not report.ok:
            raise ImportFailed(report)
        with transaction.atomic():
            existing = {song.external_id: song for song in study.songs.select_for_update()}
            for row in parsed:
                _save_song(study, existing.get(str(row.fields["external_id"])), row, report)
    finally:
        for row in parsed:
            if row.audio is not None:
                row.audio.close()
    return report


def _validate_rows(
    rows: list[tuple[int, dict[str, str]]], report: ImportReport
) -> Iterator[_SongRow]:
    seen: dict[str, int] = {}
    for line, values in rows:
        external_id = values["external_id"]
        if not EXTERNAL_ID.match(external_id):
            report.add_error(line, "external_id", "must be 1–64 letters, digits, '_', '-' or '.'")
        elif external_id in seen:
            report.add_error(line, "external_id", f"duplicate of row {seen[external_id]}")
        else:
            seen[external_id] = line
        if not values["title"]:
            report.add_error(line, "title", "is empty")
        country = values["country"].upper()
        if not countries.alpha2(country) or len(country) != 2:
            report.add_error(
                line, "country", f"{values['country']!r} is not an ISO 3166 alpha-2 code"
            )
        numbers = {
            name: parse_float(
                values.get(name, ""), row=line, field_name=name, report=report, minimum=0
            )
            for name in ("duration_seconds", "clip_start_seconds", "clip_end_seconds")
        }
        start, end = numbers["clip_start_seconds"], numbers["clip_end_seconds"]
        if start is not None and end is not None and end <= start:
            report.add_error(line, "clip_end_seconds", "must be after clip_start_seconds")
        yield _SongRow(
            line,
            {
                "external_id": external_id,
                "title": values["title"][:300],
                "artist": values.get("artist", "")[:300],
                "country": country,
                **numbers,
            },
        )


def _attach_audio(
    row: _SongRow, audio: AudioSource, audio_names: dict[str, str], report: ImportReport
) -> None:
    name = audio_names.get(str(row.fields["external_id"]))
    if name is None:
        return  # a song may be imported before its audio
    try:
        source = audio.open(name)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        report.add_error(row.line, "audio", f"{name}: refused ({exc})")
        return
    try:
        probed = song_audio_probe(source)
    except ValueError as exc:
        source.close()
        report.add_error(row.line, "audio", f"{name}: unreadable audio ({exc})")
        return
    row.audio_name, row.audio, row.probed = name, source, probed
    row.digest = sha256_of(source)
    if row.fields["duration_seconds"] is None:
        row.fields["duration_seconds"] = round(probed.duration_seconds, 3)


def _save_song(study: Study, song: Song | None, row: _SongRow, report: ImportReport) -> None:
    if song is None:
        song = Song(study=study, **row.fields)
        report.created += 1
    else:
        changed = [name for name, value in row.fields.items() if getattr(song, name) != value]
        if not changed and (row.digest is None or row.digest == song.audio_sha256):
            report.unchanged += 1
            return
        for name in changed:
            setattr(song, name, row.fields[name])
        report.updated += 1
    song.save()
    if row.audio is not None:
        song_audio_store(song=song, source=row.audio, probed=row.probed)
