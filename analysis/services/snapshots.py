"""Immutable, versioned dataset snapshots of a study: CSV + Parquet tables, README, manifest.

Each table is a (name, columns, rows) entry of SNAPSHOT_TABLES; rows stream from the
database through server-side cursors in batches, and each batch becomes one Parquet row
group and a block of CSV, so memory stays bounded however many ratings there are.

Files go to a temporary folder, then to the `snapshots` storage under
`<study>/<version>/`, manifest.json last; only then does one conditional UPDATE mark the
Snapshot complete. A crash (or a killed worker) leaves a row that is `building` or `failed`
and invisible to data users; the next export (or the task's retry, which first marks the
version it abandoned as failed) takes the next version.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import connection, transaction
from django.db.models import IntegerField, Max
from django.db.models.functions import Cast
from django.forms.models import model_to_dict
from django.utils import timezone

from analysis.crosscultural.models import Prediction
from analysis.dataset_card import write_card_files
from analysis.models import CellAggregate, ExclusionDecision, QualityResult, QualityRun, Snapshot
from analysis.selectors import TERM_TABLE_COLUMNS, participants_counted, study_terms_table
from analysis.services.aggregation import Progress, cells_aggregate
from analysis.services.batches import query_arrays, query_batches, regrouped
from elicitation.export import chain_export_rows
from moodlab.errors import Invalid
from moodlab.studies.csv_safety import guard_column
from moodlab.studies.models import Participant, Song, Study
from rating.models import Rating, Trial

BATCH_ROWS = 100_000
_STUDY_FIELDS_LEFT_OUT = {"id", "researchers", "created_at", "updated_at"}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    free_text: bool = False
    """Text participants typed (or keys made from it): guarded against formulas in CSV.
    Ids and researcher-supplied values are written exactly, so CSV and Parquet join alike."""


@dataclass
class ExportContext:
    """What every table's rows need: the study, its participants' pseudonyms, its terms."""

    study: Study
    pseudonyms: dict[int, str] = field(default_factory=dict)
    terms: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SnapshotTable:
    name: str
    description: str
    columns: Sequence[Column]
    batches: Callable[[ExportContext, pa.Schema], Iterator[pa.RecordBatch]]
    """Record batches of the table's `schema`: see `_from_rows` for tables built from tuples."""

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.type) for c in self.columns])


def _from_rows(
    rows: Callable[[ExportContext], Iterable[Sequence[Any]]],
) -> Callable[[ExportContext, pa.Schema], Iterator[pa.RecordBatch]]:
    """Batches of BATCH_ROWS from a function that yields tuples in the order of the columns."""

    def batches(context: ExportContext, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        iterator = iter(rows(context))
        while batch := list(islice(iterator, BATCH_ROWS)):
            columns = zip(*batch, strict=True)
            yield pa.record_batch(
                [pa.array(values, type=t) for values, t in zip(columns, schema.types, strict=True)],
                schema=schema,
            )

    return batches


def _song_rows(context: ExportContext) -> Iterator[Sequence[Any]]:
    songs = Song.objects.filter(study=context.study).order_by("external_id")
    for song in songs.iterator(chunk_size=2000):
        yield (
            song.external_id,
            song.title,
            song.artist,
            str(song.country),
            song.clip_seconds,
        )


def _term_rows(context: ExportContext) -> Iterator[Sequence[Any]]:
    for term in context.terms:
        yield tuple(term[name] for name in TERM_TABLE_COLUMNS)


# The study's ratings by participant, in the files' order of participants: the pseudonym's
# number (participants ranked by public id, as `_pseudonyms` numbers them), then trial, song,
# term and value. On PostgreSQL each participant's ratings come through the participant
# index in turn (OFFSET 0 keeps the planner from flattening that into a join and a sort of
# every rating, which took longer than the rest of the export); the order within a
# participant is set in Python (see _rating_numbers).
_RANKED = """
    SELECT id, public_id, ROW_NUMBER() OVER (ORDER BY public_id) AS number
    FROM studies_participant WHERE study_id = %(study)s
"""
_RATINGS_BY_PARTICIPANT = {
    "postgresql": f"""
        SELECT ranked.number, r.trial_id, r.song_id, r.term_id, r.value
        FROM ({_RANKED}) ranked CROSS JOIN LATERAL (
            SELECT trial_id, song_id, term_id, value FROM rating_rating
            WHERE participant_id = ranked.id OFFSET 0
        ) r
        ORDER BY ranked.public_id
    """,  # noqa: S608 - fixed SQL fragments, values are parameters
    "sqlite": f"""
        SELECT ranked.number, r.trial_id, r.song_id, r.term_id, r.value
        FROM rating_rating r JOIN ({_RANKED}) ranked ON ranked.id = r.participant_id
        ORDER BY ranked.number
    """,  # noqa: S608 - fixed SQL fragments, values are parameters
}
_RATING_COLUMNS = dict.fromkeys(["number", "trial", "song", "term", "value"], pa.int64())
_TRIAL_COLUMNS: dict[str, np.dtype[Any]] = {
    "id": np.dtype(np.int64),
    "position": np.dtype(np.int16),
    "is_repeat": np.dtype(np.int8),
}


def _rating_numbers(study_id: int) -> Iterator[pa.RecordBatch]:
    """Every rating as integers in the files' order: participant, trial position, term.

    Batches hold whole participants, so each is put in order on its own and memory holds
    one batch, never the study's ratings.
    """
    trials = (
        Trial.objects.filter(participant__study_id=study_id)
        .annotate(repeat=Cast("is_repeat", IntegerField()))
        .values_list("id", "position", "repeat")
    )
    trial = query_arrays(*trials.query.sql_with_params(), _TRIAL_COLUMNS)
    trial_ids, position, is_repeat = trial["id"], trial["position"], trial["is_repeat"]
    sql = _RATINGS_BY_PARTICIPANT[connection.vendor]
    with query_batches(sql, {"study": study_id}, _RATING_COLUMNS) as batches:
        for ratings in _whole_participants(batches()):
            trial = np.searchsorted(trial_ids, ratings.column("trial").to_numpy())
            number, term = ratings.column("number").to_numpy(), ratings.column("term").to_numpy()
            in_order = np.lexsort((term, position[trial], number))
            yield pa.record_batch(
                {
                    "number": number[in_order],
                    "song": ratings.column("song").to_numpy()[in_order],
                    "term": term[in_order],
                    "value": ratings.column("value").to_numpy()[in_order],
                    "position": position[trial][in_order],
                    "is_repeat": is_repeat[trial][in_order],
                }
            )


def _whole_participants(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.Table]:
    """The batches (ordered by participant number) cut so that no participant spans two."""
    held = None
    for batch in batches:
        table = (
            pa.Table.from_batches([batch])
            if held is None
            else pa.concat_tables([held, pa.Table.from_batches([batch])])
        )
        numbers = table.column("number").to_numpy()
        cut = int(np.searchsorted(numbers, numbers[-1]))  # where the last participant starts
        if cut:
            yield table.slice(0, cut).combine_chunks()
        held = table.slice(cut)
    if held is not None and held.num_rows:
        yield held.combine_chunks()


class _Texts:
    """The text columns the files show for ids, looked up by Arrow, not a Python string per row."""

    def __init__(self, context: ExportContext) -> None:
        self.pseudonyms = pa.array(list(context.pseudonyms.values()), type=pa.string())
        self._terms = pd.Index([term["term_id"] for term in context.terms])
        self._term_texts = {
            name: pa.array([term[name] for term in context.terms], type=pa.string())
            for name in ("locale", "label", "gloss")
        }
        songs = dict(Song.objects.filter(study=context.study).values_list("id", "external_id"))
        self._songs = pd.Index(list(songs))
        self._song_external_ids = pa.array(list(songs.values()), type=pa.string())

    def of_terms(self, term_ids: pa.Array) -> dict[str, pa.Array]:
        """The terms' locale, label and gloss."""
        at = self._terms.get_indexer(term_ids.to_numpy())
        return {name: texts.take(at) for name, texts in self._term_texts.items()}

    def song_external_ids(self, song_ids: pa.Array) -> pa.Array:
        return self._song_external_ids.take(self._songs.get_indexer(song_ids.to_numpy()))


def _rating_batches(context: ExportContext, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Numbers from the database, turned into the table's text columns by Arrow lookups."""
    texts = _Texts(context)
    for numbers in regrouped(BATCH_ROWS, _rating_numbers(context.study.pk)):
        term = texts.of_terms(numbers.column("term"))
        yield pa.record_batch(
            [
                texts.pseudonyms.take(pc.subtract(numbers.column("number"), 1)),
                term["locale"],
                texts.song_external_ids(numbers.column("song")),
                numbers.column("term"),
                term["label"],
                numbers.column("value").cast(pa.int8()),
                numbers.column("position").cast(pa.int16()),
                numbers.column("is_repeat").cast(pa.bool_()),
            ],
            schema=schema,
        )


_MEAN_COLUMNS = {
    "song": pa.int64(),
    "term": pa.int64(),
    "n": pa.int32(),
    **dict.fromkeys(["mean", "sd", "median", "sem"], pa.float64()),
}


def _mean_batches(context: ExportContext, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The study's cells in locale, song and term order, their texts looked up like ratings'."""
    texts = _Texts(context)
    cells = (
        CellAggregate.objects.filter(study=context.study)
        .order_by("locale__code", "song__external_id", "term_id")
        .values_list("song_id", "term_id", "n", "mean", "sd", "median", "sem")
    )
    with query_batches(*cells.query.sql_with_params(), _MEAN_COLUMNS) as batches:
        for numbers in regrouped(BATCH_ROWS, batches()):
            term = texts.of_terms(numbers.column("term"))
            yield pa.record_batch(
                [
                    term["locale"],
                    texts.song_external_ids(numbers.column("song")),
                    numbers.column("term"),
                    term["label"],
                    term["gloss"],
                    *(numbers.column(name) for name in ("n", "mean", "sd", "median", "sem")),
                ],
                schema=schema,
            )


def _prediction_rows(context: ExportContext) -> Iterator[Sequence[Any]]:
    return (
        Prediction.objects.filter(prediction_set__study=context.study)
        .order_by("prediction_set__name", "term__locale__code", "song__external_id", "term_id")
        .values_list(
            "prediction_set__name", "term__locale__code", "song__external_id", "term_id", "score"
        )
        .iterator(chunk_size=BATCH_ROWS)
    )


def _chain_rows(context: ExportContext) -> Iterator[Sequence[Any]]:
    pseudonym_of = {
        str(public_id): context.pseudonyms[pk]
        for pk, public_id in Participant.objects.filter(pk__in=context.pseudonyms).values_list(
            "pk", "public_id"
        )
    }
    for row in chain_export_rows(study=context.study):
        yield (
            row["locale"],
            row["song_external_id"],
            row["chain"],
            row["turn_index"],
            pseudonym_of[str(row["participant"])],
            row["tag_text"],
            row["tag_key"],
            None if row["rating"] == "" else row["rating"],
            row["flagged"],
            row["state_after_turn"],
            row["turn_started_at"],
            row["turn_submitted_at"] or None,
        )


def _participant_rows(context: ExportContext) -> Iterator[Sequence[Any]]:
    decisions = {d.participant_id: d for d in ExclusionDecision.objects.filter(study=context.study)}
    latest_run = QualityRun.objects.filter(study=context.study, finished_at__isnull=False).first()
    flags: dict[int, list[str]] = {}
    if latest_run is not None:
        # A rule switched off is not a flag: its results are kept only for researchers.
        enabled = [rule["name"] for rule in latest_run.rules if rule.get("enabled", True)]
        failed = QualityResult.objects.filter(
            run=latest_run, passed=False, rule__in=enabled
        ).order_by("rule")
        for participant_id, rule in failed.values_list("participant_id", "rule"):
            flags.setdefault(participant_id, []).append(rule)
    described = Participant.objects.filter(study=context.study).values_list(
        "pk", "locale__code", "phase", "status"
    )
    locale_phase_status = {pk: rest for pk, *rest in described}
    counted = set(participants_counted(study_id=context.study.pk).values_list("pk", flat=True))
    for participant_id, pseudonym in context.pseudonyms.items():
        decision = decisions.get(participant_id)
        excluded = participant_id not in counted
        yield (
            pseudonym,
            *locale_phase_status[participant_id],
            excluded,
            ";".join(r["rule"] for r in decision.reasons) if decision else "",
            decision.override if decision else "",
            decision.override_reason if decision and decision.override else "",
            ";".join(flags.get(participant_id, [])),
        )


SNAPSHOT_TABLES: list[SnapshotTable] = [
    SnapshotTable(
        name="songs",
        description="Song metadata, one row per song of the study.",
        columns=[
            Column("song_id", pa.string(), "The song's id at its source (e.g. YouTube video id)."),
            Column("title", pa.string(), "Song title."),
            Column("artist", pa.string(), "Performing artist."),
            Column("country", pa.string(), "ISO 3166-1 alpha-2 country the song represents."),
            Column("clip_seconds", pa.float64(), "Length of the clip participants heard."),
        ],
        batches=_from_rows(_song_rows),
    ),
    SnapshotTable(
        name="terms",
        description=(
            "The rating terms, one row per term of a locale: the label participants read, "
            "its English gloss and how curation grouped it. Ratings and means refer to term_id."
        ),
        columns=[
            Column("term_id", pa.int64(), "Term id (ratings.term_id, mean_ratings.term_id)."),
            Column("locale", pa.string(), "Locale of the term (language-COUNTRY)."),
            Column("label", pa.string(), "The term as shown to the locale's participants."),
            Column("gloss", pa.string(), "English gloss; empty when the term has none."),
            Column(
                "key",
                pa.string(),
                "Normalised grouping key of the elicited tags behind the term.",
                free_text=True,
            ),
            Column(
                "merged_keys",
                pa.string(),
                "Other grouping keys merged into the term during curation (;-separated).",
                free_text=True,
            ),
            Column("rank", pa.int16(), "Selection rank within the locale (1 = top score)."),
        ],
        batches=_from_rows(_term_rows),
    ),
    SnapshotTable(
        name="ratings",
        description="Raw ratings, one row per participant × song × term (repeats included).",
        columns=[
            Column("participant", pa.string(), "Pseudonymous participant id (this snapshot)."),
            Column("locale", pa.string(), "Locale the rating was made in (language-COUNTRY)."),
            Column("song_id", pa.string(), "Song id (see songs)."),
            Column("term_id", pa.int64(), "Term id (see terms)."),
            Column("term", pa.string(), "The term as the participant read it (terms.label)."),
            Column("value", pa.int8(), "Rating 1 (not expressing at all) … 5 (extremely)."),
            Column("trial_position", pa.int16(), "Position of the trial in the session."),
            Column("is_repeat", pa.bool_(), "True for the consistency-check repeat trial."),
        ],
        batches=_rating_batches,
    ),
    SnapshotTable(
        name="mean_ratings",
        description=(
            "Mean rating per song × term × locale over participants not excluded "
            "(see participants.excluded)."
        ),
        columns=[
            Column("locale", pa.string(), "Locale (language-COUNTRY)."),
            Column("song_id", pa.string(), "Song id (see songs)."),
            Column("term_id", pa.int64(), "Term id (see terms)."),
            Column("term", pa.string(), "The term as participants read it (terms.label)."),
            Column("term_gloss", pa.string(), "English gloss of the term; empty if none."),
            Column("n", pa.int32(), "Number of ratings."),
            Column("mean", pa.float64(), "Mean rating."),
            Column("sd", pa.float64(), "Sample standard deviation (empty when n = 1)."),
            Column("median", pa.float64(), "Median rating (continuous percentile)."),
            Column("sem", pa.float64(), "Standard error of the mean (empty when n = 1)."),
        ],
        batches=_mean_batches,
    ),
    SnapshotTable(
        name="participants",
        description="Participants of both phases under their pseudonymous ids.",
        columns=[
            Column("participant", pa.string(), "Pseudonymous participant id (this snapshot)."),
            Column("locale", pa.string(), "Locale the participant took part in."),
            Column("phase", pa.string(), "elicitation (tags) or rating."),
            Column("status", pa.string(), "Session outcome (completed, timed_out, …)."),
            Column("excluded", pa.bool_(), "True when their ratings are left out of the means."),
            Column(
                "exclusion_rules", pa.string(), "Quality rules that excluded them (;-separated)."
            ),
            Column("override", pa.string(), "A researcher's override: include, exclude or empty."),
            Column("override_reason", pa.string(), "Why the researcher overrode the rules."),
            Column(
                "quality_flags",
                pa.string(),
                "Every rule switched on that they failed (;-separated).",
            ),
        ],
        batches=_from_rows(_participant_rows),
    ),
    SnapshotTable(
        name="chains",
        description=(
            "Elicitation chains, one row per tag per turn: the tags each participant rated, "
            "flagged or added, as in the reference release's chains file."
        ),
        columns=[
            Column("locale", pa.string(), "Locale of the chain (language-COUNTRY)."),
            Column("song_id", pa.string(), "Song id (see songs)."),
            Column("chain", pa.int64(), "Chain id (a song has one or more chains per locale)."),
            Column("turn_index", pa.int16(), "0 for the chain's first turn, then 1, 2, …"),
            Column("participant", pa.string(), "Pseudonymous participant id (this snapshot)."),
            Column("tag_text", pa.string(), "The tag as the participant typed it.", free_text=True),
            Column("tag_key", pa.string(), "Normalised grouping key of the tag.", free_text=True),
            Column("rating", pa.int8(), "1–5 stars, 0 for a flag, empty for a tag added."),
            Column("flagged", pa.bool_(), "True when the participant flagged the tag."),
            Column("state_after_turn", pa.string(), "visible, frozen or hidden after the turn."),
            Column("turn_started_at", pa.string(), "When the turn was served (ISO 8601, UTC)."),
            Column("turn_submitted_at", pa.string(), "When it was submitted (ISO 8601, UTC)."),
        ],
        batches=_from_rows(_chain_rows),
    ),
    SnapshotTable(
        name="predictions",
        description=(
            "Model predictions uploaded for the study as of this snapshot, so an analysis of "
            "the snapshot compares models with exactly these ratings."
        ),
        columns=[
            Column("prediction_set", pa.string(), "Name of the prediction set."),
            Column("locale", pa.string(), "Locale of the term (language-COUNTRY)."),
            Column("song_id", pa.string(), "Song id (see songs)."),
            Column("term_id", pa.int64(), "Term id (see terms)."),
            Column("score", pa.float64(), "The model's score for the song on the term."),
        ],
        batches=_from_rows(_prediction_rows),
    ),
]


def snapshot_start(*, study_id: int, task_id: str = "") -> Snapshot:
    """Reserve the next version of the study's snapshots (a row marked building)."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study_id)
        latest = (
            Snapshot.objects.filter(study=study).aggregate(latest=Max("version"))["latest"] or 0
        )
        return Snapshot.objects.create(study=study, version=latest + 1, task_id=task_id)


def snapshot_export(
    *, study_id: int, task_id: str = "", progress: Progress | None = None
) -> Snapshot:
    """Aggregate, then build and publish the next version of the study's dataset."""
    if task_id:
        # The same task again (a retry, or redelivered after its worker was killed): a
        # version it left building will never finish.
        Snapshot.objects.filter(task_id=task_id, status=Snapshot.Status.BUILDING).update(
            status=Snapshot.Status.FAILED, error="abandoned: the worker building it was lost"
        )
    snapshot = snapshot_start(study_id=study_id, task_id=task_id)
    try:
        cells_aggregate(study_id=study_id)
        manifest = _build(snapshot, progress or (lambda _percent: None))
    except BaseException as error:  # a soft time limit or Ctrl-C must also mark it failed
        Snapshot.objects.filter(pk=snapshot.pk, status=Snapshot.Status.BUILDING).update(
            status=Snapshot.Status.FAILED, error=repr(error)[:2000]
        )
        raise
    Snapshot.objects.filter(pk=snapshot.pk, status=Snapshot.Status.BUILDING).update(
        status=Snapshot.Status.COMPLETE, manifest=manifest, completed_at=timezone.now()
    )
    snapshot.refresh_from_db()
    return snapshot


def _pseudonyms(study: Study) -> dict[int, str]:
    """P0001… by sorted public id: stable within a snapshot, unrelated to recruiter ids."""
    ids = list(
        Participant.objects.filter(study=study).order_by("public_id").values_list("id", flat=True)
    )
    width = max(4, len(str(len(ids))))
    return {pk: f"P{number:0{width}d}" for number, pk in enumerate(ids, start=1)}


def _build(snapshot: Snapshot, progress: Progress) -> dict[str, Any]:
    study = snapshot.study
    context = ExportContext(
        study=study, pseudonyms=_pseudonyms(study), terms=study_terms_table(study=study)
    )
    expected_rows = Rating.objects.filter(participant__study=study).count() + len(
        context.pseudonyms
    )
    written = 0
    tables: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="moodlab-snapshot-") as folder:
        work = Path(folder)
        for table in SNAPSHOT_TABLES:
            counts: Counter[str] = Counter()
            for rows in _write_table(table, context, work, counts):
                written += rows
                progress(min(95.0, 95.0 * written / max(expected_rows, 1)))
            tables[table.name] = {
                "description": table.description,
                "rows": sum(counts.values()),
                "rows_per_locale": {k: v for k, v in sorted(counts.items()) if k},
                "columns": [
                    {"name": c.name, "type": str(c.type), "description": c.description}
                    for c in table.columns
                ],
            }
        manifest = _manifest(snapshot, tables)
        (work / "README.md").write_text(_datasheet(manifest), encoding="utf-8")
        # The files are final once written: the dataset card and the manifest hash each once.
        sha256 = functools.cache(_sha256)
        write_card_files(work, snapshot=snapshot, manifest=manifest, sha256=sha256)
        storage = storages["snapshots"]
        for path in sorted(work.iterdir()):
            manifest["files"][path.name] = {"sha256": sha256(path), "bytes": path.stat().st_size}
            _save(storage, f"{snapshot.folder}/{path.name}", path)
        manifest_path = work / "manifest.json"
        manifest_path.write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        _save(storage, f"{snapshot.folder}/manifest.json", manifest_path)
    progress(100.0)
    return manifest


def _write_table(
    table: SnapshotTable, context: ExportContext, folder: Path, counts: Counter[str]
) -> Iterator[int]:
    """Write the table batch by batch; yields each batch's row count (for progress)."""
    schema = table.schema
    has_locale = "locale" in schema.names
    csv_options = pa_csv.WriteOptions(quoting_style="needed")
    with (
        pq.ParquetWriter(folder / f"{table.name}.parquet", schema, compression="zstd") as parquet,
        pa_csv.CSVWriter(folder / f"{table.name}.csv", schema, write_options=csv_options) as csv,
    ):
        wrote_any = False
        for record_batch in table.batches(context, schema):
            wrote_any = True
            parquet.write_batch(record_batch)
            csv.write_batch(
                pa.record_batch(
                    [
                        guard_column(values) if column.free_text else values
                        for values, column in zip(record_batch.columns, table.columns, strict=True)
                    ],
                    schema=schema,
                )
            )
            if has_locale:
                for item in pc.value_counts(record_batch.column("locale")).to_pylist():
                    counts[item["values"]] += item["counts"]
            else:
                counts[""] += record_batch.num_rows
            yield record_batch.num_rows
        if not wrote_any:
            parquet.write_table(schema.empty_table())


def _manifest(snapshot: Snapshot, tables: dict[str, Any]) -> dict[str, Any]:
    study = snapshot.study
    run = QualityRun.objects.filter(study=study, finished_at__isnull=False).first()
    parameters = {
        key: value
        for key, value in model_to_dict(study).items()
        if key not in _STUDY_FIELDS_LEFT_OUT
    }
    return {
        "study": {"slug": study.slug, "title": study.title, "parameters": parameters},
        "locales": list(study.locales.order_by("code").values_list("code", flat=True)),
        "version": snapshot.version,
        "created_at": timezone.now().isoformat(),
        "software_version": settings.MOODLAB_VERSION,
        "pseudonyms": "P0001… numbered by the participants' random public ids, sorted; "
        "stable within this snapshot only. Recruiter ids are never exported.",
        "quality_control": {
            "run_id": run.pk if run else None,
            "finished_at": run.finished_at.isoformat() if run and run.finished_at else None,
            "rules": run.rules if run else [],
        },
        "tables": tables,
        "files": {},
    }


def _datasheet(manifest: dict[str, Any]) -> str:
    study = manifest["study"]
    lines = [
        f"# {study['title']} — dataset snapshot v{manifest['version']}",
        "",
        f"Study `{study['slug']}`, created {manifest['created_at']} by MoodLab "
        f"{manifest['software_version']}. Locales: {', '.join(manifest['locales'])}.",
        "",
        "Every table comes as CSV (UTF-8) and Parquet with the same rows. In the CSV files a "
        "cell of text typed by participants (chains.tag_text, and the grouping keys made from "
        "it) starting with = + - @ (or a tab) carries a leading apostrophe so that spreadsheets "
        "do not run it as a formula; ids, labels and every other value are written exactly, "
        "and the Parquet files hold all text unchanged. Join tables on their ids (term_id, "
        "song_id, participant).",
        "",
        f"Participants: {manifest['pseudonyms']}",
        "",
        "`manifest.json` lists the study parameters, row counts per table and locale, the "
        "SHA-256 of every file and the quality-control rules (with versions and parameters) "
        "behind the exclusions.",
    ]
    for name, table in manifest["tables"].items():
        lines += ["", f"## {name} ({table['rows']} rows)", "", table["description"], ""]
        lines += ["| column | type | description |", "|---|---|---|"]
        lines += [f"| {c['name']} | {c['type']} | {c['description']} |" for c in table["columns"]]
    lines += ["", "## Quality-control rules applied", ""]
    rules = manifest["quality_control"]["rules"]
    lines += [
        f"- {r['name']} v{r['version']} ({'on' if r['enabled'] else 'off'}): {r['title']}; "
        f"parameters {json.dumps(r['params'])}"
        for r in rules
    ] or ["- none run yet: only participants excluded by status are left out of the means"]
    return "\n".join(lines) + "\n"


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _save(storage: Any, name: str, path: Path) -> None:
    with path.open("rb") as handle:
        saved = storage.save(name, File(handle, name=path.name))
    if saved != name:  # versions are never reused, so a clash means something is wrong
        raise RuntimeError(f"{name} already existed in the snapshot storage (saved as {saved})")


@transaction.atomic
def snapshot_set_published(*, snapshot_id: int, published: bool) -> Snapshot:
    """Publish a complete snapshot to everyone, or withdraw it; the files never change."""
    snapshot = Snapshot.objects.select_for_update().get(pk=snapshot_id)
    if published and snapshot.status != Snapshot.Status.COMPLETE:
        raise Invalid({"published": "Only a complete snapshot can be published."})
    snapshot.published = published
    snapshot.save(update_fields=["published"])
    return snapshot


def snapshot_file_name(snapshot: Snapshot, file_name: str) -> str:
    """The storage name of one of the snapshot's files, or KeyError if it has no such file."""
    if file_name != "manifest.json" and file_name not in snapshot.manifest.get("files", {}):
        raise KeyError(file_name)
    return f"{snapshot.folder}/{file_name}"
