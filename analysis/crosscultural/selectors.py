"""Reads for the cross-cultural analysis: ratings and predictions as pandas frames."""

from __future__ import annotations

import io

import pandas as pd
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.files.storage import storages
from django.db import connection
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast

from analysis.crosscultural.models import CrossCulturalAnalysis, Prediction, PredictionSet
from analysis.models import Snapshot
from analysis.selectors import (
    TERM_TABLE_COLUMNS,
    participants_counted,
    study_terms_table,
)
from moodlab.studies.models import Song, Study
from moodlab.studies.selectors import studies_visible_to
from rating.models import Rating, Trial

RATING_COLUMNS = ("participant", "locale", "song", "term", "gloss", "label", "value")


def study_ratings_frame(*, study: Study, snapshot_version: str | None = None) -> pd.DataFrame:
    """Raw ratings, one row per participant × song × term: ``RATING_COLUMNS``.

    ``song`` is the external id, ``term`` the term's key (unique within its locale),
    ``gloss`` its English gloss ("" when it has none), which makes terms of different
    locales comparable, and ``label`` the term as participants read it (for reports). Live
    data leaves out excluded participants; a snapshot is read as it was published.

    Only integer ids cross the database boundary (a values_list over the narrow rating
    table); labels are attached afterwards from the few hundred songs and terms, as
    categoricals, so a million ratings take seconds and little memory.
    """
    if snapshot_version:
        return _snapshot_ratings_frame(
            snapshot=study_snapshot(study=study, version=snapshot_version)
        )
    ids = _counted_rating_ids(study)
    terms = pd.DataFrame(
        study_terms_table(study=study), columns=list(TERM_TABLE_COLUMNS)
    ).set_index("term_id")
    terms = terms.rename(columns={"key": "term"})
    songs = pd.Series(
        dict(Song.objects.filter(study=study).values_list("pk", "external_id")), dtype=object
    )
    frame = pd.DataFrame(
        {
            "participant": ids["participant"].astype("int64"),
            "locale": _labels(terms["locale"], ids["term_id"]),
            "song": _labels(songs, ids["song_id"]),
            "term": _labels(terms["term"], ids["term_id"]),
            "gloss": _labels(terms["gloss"], ids["term_id"]),
            "label": _labels(terms["label"], ids["term_id"]),
            "value": ids["value"].astype("float64"),
        }
    )
    return frame


_RATING_ID_COLUMNS = ["participant", "song_id", "term_id", "value"]


def _counted_rating_ids(study: Study) -> pd.DataFrame:
    """The counted participants' ratings as integer ids, by COPY on PostgreSQL.

    COPY streams a million rows as CSV in about a second, four times faster than building
    a Python tuple per row; other databases (the embedded SQLite) take the ORM's way.
    Repeat trials are a consistency check, not a second opinion on the song.
    """
    counted = participants_counted(study_id=study.pk)
    columns = _RATING_ID_COLUMNS
    if connection.vendor != "postgresql":
        rows = Rating.objects.filter(participant__in=counted, trial__is_repeat=False)
        return pd.DataFrame(
            rows.values_list("participant_id", "song_id", "term_id", "value").iterator(
                chunk_size=20_000
            ),
            columns=columns,
            dtype="int64",
        )
    # The counted participants are a few thousand ids: one array parameter.
    counted_ids = list(counted.values_list("pk", flat=True))
    rating, trial = Rating._meta.db_table, Trial._meta.db_table
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        query = cursor.mogrify(
            f"""
            SELECT r.participant_id, r.song_id, r.term_id, r.value
            FROM {rating} r JOIN {trial} t ON t.id = r.trial_id
            WHERE r.participant_id = ANY(%s) AND NOT t.is_repeat
            """,  # noqa: S608 - table names come from the models, values are parameters
            [counted_ids],
        ).decode()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    if not buffer.tell():
        return pd.DataFrame({column: pd.Series(dtype="int64") for column in columns})
    buffer.seek(0)
    return pd.read_csv(buffer, names=columns, dtype="int64", engine="pyarrow")


def _labels(lookup: pd.Series, ids: pd.Series) -> pd.Categorical:
    """Map ids to labels as a categorical: integer lookups only, one string per label."""
    categories = pd.Index(lookup.unique())
    code_of_entry = categories.get_indexer(lookup.to_numpy())
    return pd.Categorical.from_codes(
        code_of_entry[lookup.index.get_indexer(ids.to_numpy())], categories=categories
    )


def study_snapshot(*, study: Study, version: str | int) -> Snapshot:
    """A complete snapshot of the study by its version number; ValueError names the known ones."""
    snapshot = Snapshot.objects.filter(
        study=study,
        version=int(version) if str(version).isdigit() else -1,
        status=Snapshot.Status.COMPLETE,
    ).first()
    if snapshot is None:
        known = ", ".join(
            str(v)
            for v in Snapshot.objects.filter(study=study, status=Snapshot.Status.COMPLETE)
            .order_by("version")
            .values_list("version", flat=True)
        )
        raise ValueError(
            f"{study.slug} has no complete snapshot {version!r} (complete: {known or 'none'})"
        )
    return snapshot


def _snapshot_table(snapshot: Snapshot, name: str, columns: list[str]) -> pd.DataFrame:
    with storages["snapshots"].open(f"{snapshot.folder}/{name}.parquet", "rb") as handle:
        return pd.read_parquet(handle, columns=columns)


def _has_terms_table(snapshot: Snapshot) -> bool:
    """Snapshots made before the terms table named terms by key in ratings and means."""
    return "terms.parquet" in snapshot.manifest.get("files", {})


def _snapshot_ratings_frame(*, snapshot: Snapshot) -> pd.DataFrame:
    """The ratings as the snapshot published them, with its own exclusions and glosses."""
    people = _snapshot_table(snapshot, "participants", ["participant", "excluded"])
    if _has_terms_table(snapshot):
        ratings = _snapshot_table(
            snapshot,
            "ratings",
            ["participant", "locale", "song_id", "term_id", "value", "is_repeat"],
        )
        terms = _snapshot_table(snapshot, "terms", ["term_id", "key", "gloss", "label"])
        ratings = ratings.merge(terms, on="term_id", how="left").rename(columns={"key": "term"})
    else:
        ratings = _snapshot_table(
            snapshot, "ratings", ["participant", "locale", "song_id", "term", "value", "is_repeat"]
        )
        glosses = _snapshot_table(
            snapshot, "mean_ratings", ["locale", "term", "term_gloss"]
        ).drop_duplicates(["locale", "term"])
        ratings = ratings.merge(glosses, on=["locale", "term"], how="left").rename(
            columns={"term_gloss": "gloss"}
        )
        ratings["label"] = ratings["term"]
    counted = ratings[
        ~ratings["is_repeat"]
        & ratings["participant"].isin(people.loc[~people["excluded"], "participant"])
    ]
    frame = counted.rename(columns={"song_id": "song"})
    frame["gloss"] = frame["gloss"].fillna("")
    return frame[list(RATING_COLUMNS)].astype({"value": "float64"}).reset_index(drop=True)


def analysis_predictions(
    *, study: Study, snapshot_version: str | None = None
) -> dict[str, pd.DataFrame]:
    """Each prediction set's ``locale, song, term, score`` frame, by set name.

    A snapshot's analysis reads the sets stored with that snapshot (none for a snapshot made
    before they were), never the live tables: a set uploaded or deleted later changes nothing.
    """
    if not snapshot_version:
        return {
            prediction_set.name: prediction_frame(prediction_set=prediction_set)
            for prediction_set in prediction_sets_of(study=study)
        }
    snapshot = study_snapshot(study=study, version=snapshot_version)
    if "predictions.parquet" not in snapshot.manifest.get("files", {}):
        return {}
    scores = _snapshot_table(
        snapshot, "predictions", ["prediction_set", "locale", "song_id", "term_id", "score"]
    )
    keys = _snapshot_table(snapshot, "terms", ["term_id", "key"])
    scores = scores.merge(keys, on="term_id").rename(columns={"song_id": "song", "key": "term"})
    return {
        str(name): frame[["locale", "song", "term", "score"]].reset_index(drop=True)
        for name, frame in scores.groupby("prediction_set", sort=True)
    }


def prediction_frame(*, prediction_set: PredictionSet) -> pd.DataFrame:
    """A set's scores with columns ``locale, song, term, score`` (term key, song external id)."""
    rows = Prediction.objects.filter(prediction_set=prediction_set).values_list(
        "term__locale__code", "song__external_id", "term__key", "score"
    )
    return pd.DataFrame(
        rows.iterator(chunk_size=20_000), columns=["locale", "song", "term", "score"]
    )


def prediction_sets_of(*, study: Study) -> QuerySet[PredictionSet]:
    return PredictionSet.objects.filter(study=study).order_by("name")


def analyses_of(*, study: Study) -> QuerySet[CrossCulturalAnalysis]:
    return CrossCulturalAnalysis.objects.filter(study=study).select_related("study")


def analyses_readable_by(user: AbstractBaseUser | AnonymousUser) -> QuerySet[CrossCulturalAnalysis]:
    """Runs a user may read: every run of the studies a staff researcher manages, and for
    anyone the succeeded runs on a snapshot they may read (published, or granted)."""
    snapshots = (
        Snapshot.objects.filter(status=Snapshot.Status.COMPLETE, study=OuterRef("study"))
        .annotate(version_text=Cast("version", CharField()))
        .filter(version_text=OuterRef("snapshot_version"))
    )
    if user.is_authenticated:
        snapshots = snapshots.filter(Q(published=True) | Q(study__access_grants__user__pk=user.pk))
    else:
        snapshots = snapshots.filter(published=True)
    readable = Q(Exists(snapshots), status=CrossCulturalAnalysis.Status.SUCCEEDED)
    if getattr(user, "is_staff", False):
        readable |= Q(study__in=studies_visible_to(user))
    return CrossCulturalAnalysis.objects.filter(readable).select_related("study")
