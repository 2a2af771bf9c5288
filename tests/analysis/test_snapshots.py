from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.storage import storages

from analysis.dataset_card import CARD_FILES
from analysis.models import Snapshot
from analysis.selectors import snapshots_visible_to, study_terms_table
from analysis.services import batches as database_batches
from analysis.services import snapshots
from analysis.services.quality import quality_check
from analysis.services.snapshots import SNAPSHOT_TABLES, snapshot_export
from elicitation.models import ChainTag
from moodlab.studies.csv_safety import guard_column
from moodlab.studies.models import Participant, RecruiterIdentity
from rating.models import Rating
from tests.factories import UserFactory


def read(snapshot: Snapshot, name: str) -> bytes:
    with storages["snapshots"].open(f"{snapshot.folder}/{name}", "rb") as handle:
        return handle.read()


def csv_rows(snapshot: Snapshot, table: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read(snapshot, f"{table}.csv").decode("utf-8"))))


def parquet(snapshot: Snapshot, table: str) -> pa.Table:
    return pq.read_table(io.BytesIO(read(snapshot, f"{table}.parquet")))


def test_every_file_matches_the_sha256_in_the_manifest(snapshot_study):
    snapshot = snapshot_export(study_id=snapshot_study.pk)

    manifest = json.loads(read(snapshot, "manifest.json"))
    assert manifest == snapshot.manifest
    expected = {f"{t.name}.{ext}" for t in SNAPSHOT_TABLES for ext in ("csv", "parquet")}
    assert set(manifest["files"]) == expected | {"README.md", *CARD_FILES}
    for name, described in manifest["files"].items():
        content = read(snapshot, name)
        assert hashlib.sha256(content).hexdigest() == described["sha256"]
        assert len(content) == described["bytes"]


def test_csv_and_parquet_hold_the_same_rows_counted_in_the_manifest(snapshot_study):
    snapshot = snapshot_export(study_id=snapshot_study.pk)

    for table in SNAPSHOT_TABLES:
        rows = csv_rows(snapshot, table.name)
        frame = parquet(snapshot, table.name)
        assert len(rows) == frame.num_rows == snapshot.manifest["tables"][table.name]["rows"]
        header = next(csv.reader(io.StringIO(read(snapshot, f"{table.name}.csv").decode())))
        assert header == frame.column_names == [c.name for c in table.columns]
    assert snapshot.manifest["tables"]["ratings"]["rows"] == Rating.objects.count()
    assert snapshot.manifest["tables"]["ratings"]["rows_per_locale"] == {
        "ar-EG": 3 * 11 * 3,
        "en-US": 3 * 11 * 3,
        "ko-KR": 3 * 11 * 3,
    }


def test_text_in_arabic_and_korean_survives_both_formats(snapshot_study):
    snapshot = snapshot_export(study_id=snapshot_study.pk)

    korean = snapshot_study.locales.get(code="ko-KR").terms.filter(is_selected=True)
    korean_keys = set(korean.values_list("label_ko", flat=True))
    csv_terms = {row["term"] for row in csv_rows(snapshot, "ratings") if row["locale"] == "ko-KR"}
    parquet_terms = set(
        parquet(snapshot, "ratings")
        .filter(pa.compute.equal(pa.compute.field("locale"), "ko-KR"))
        .column("term")
        .to_pylist()
    )
    assert csv_terms == parquet_terms
    assert csv_terms <= korean_keys
    arabic = {row["term"] for row in csv_rows(snapshot, "mean_ratings") if row["locale"] == "ar-EG"}
    assert any("\u0600" <= ch <= "\u06ff" for term in arabic for ch in term)


def test_participants_appear_only_under_pseudonyms_with_their_exclusion(snapshot_study):
    quality_check(study_id=snapshot_study.pk)
    participant = Participant.objects.filter(study=snapshot_study).first()
    RecruiterIdentity.objects.create(
        participant=participant, study=snapshot_study, recruiter_participant_id="PROLIFIC-5f3a9"
    )

    snapshot = snapshot_export(study_id=snapshot_study.pk)

    everything = b"".join(read(snapshot, name) for name in snapshot.manifest["files"])
    for secret in Participant.objects.values_list("public_id", flat=True):
        assert str(secret).encode() not in everything
    assert b"PROLIFIC-5f3a9" not in everything
    people = csv_rows(snapshot, "participants")
    assert [p["participant"] for p in people] == [f"P{n:04d}" for n in range(1, 10)]
    assert {p["participant"] for p in csv_rows(snapshot, "ratings")} == {
        p["participant"] for p in people
    }
    excluded = [p for p in people if p["excluded"] == "true"]
    assert excluded and all("agreement" in p["quality_flags"] for p in excluded)
    rules = snapshot.manifest["quality_control"]["rules"]
    assert {(r["name"], r["version"]) for r in rules} >= {("agreement", 1), ("too_fast", 1)}
    assert snapshot.manifest["software_version"]


def test_means_leave_out_excluded_participants(snapshot_study):
    quality_check(study_id=snapshot_study.pk)

    snapshot = snapshot_export(study_id=snapshot_study.pk)

    counts = {int(row["n"]) for row in csv_rows(snapshot, "mean_ratings")}
    assert max(counts) <= 2  # the random rater of each locale is excluded


def test_the_guard_prefixes_only_dangerous_text():
    column = pa.array(["=1+1", "+3", "-2", "@x", "\tcmd", "ok", "a=b", None])
    assert guard_column(column).to_pylist() == [
        "'=1+1",
        "'+3",
        "'-2",
        "'@x",
        "'\tcmd",
        "ok",
        "a=b",
        None,
    ]
    assert guard_column(pa.array([-1, 2])).to_pylist() == [-1, 2]


def test_the_readme_describes_every_column(snapshot_study):
    snapshot = snapshot_export(study_id=snapshot_study.pk)

    readme = read(snapshot, "README.md").decode("utf-8")
    for table in SNAPSHOT_TABLES:
        assert f"## {table.name}" in readme
        for column in table.columns:
            assert f"| {column.name} |" in readme


def test_a_crash_mid_export_leaves_no_visible_snapshot_and_the_next_run_succeeds(
    snapshot_study, monkeypatch
):
    real_save, saved = snapshots._save, []

    def save_then_crash(storage, name, path):
        if len(saved) == 3:
            raise OSError("disk full")
        saved.append(name)
        real_save(storage, name, path)

    monkeypatch.setattr(snapshots, "_save", save_then_crash)
    with pytest.raises(OSError, match="disk full"):
        snapshot_export(study_id=snapshot_study.pk)
    monkeypatch.undo()

    failed = Snapshot.objects.get()
    assert failed.status == Snapshot.Status.FAILED
    assert "disk full" in failed.error
    superuser = UserFactory(is_superuser=True)
    assert not snapshots_visible_to(superuser, snapshot_study).exists()

    snapshot = snapshot_export(study_id=snapshot_study.pk)

    assert (snapshot.version, snapshot.status) == (2, Snapshot.Status.COMPLETE)
    assert list(snapshots_visible_to(superuser, snapshot_study)) == [snapshot]


def test_a_snapshot_left_building_by_a_killed_worker_stays_invisible(snapshot_study):
    snapshots.snapshot_start(study_id=snapshot_study.pk)  # the worker died right after this

    snapshot = snapshot_export(study_id=snapshot_study.pk)

    assert snapshot.version == 2
    visible = snapshots_visible_to(UserFactory(is_superuser=True), snapshot_study)
    assert list(visible.values_list("version", flat=True)) == [2]


@pytest.mark.django_db
def test_the_elicitation_chains_are_a_table_under_the_same_pseudonyms():
    from tests.elicitation.factories import elicitation_study, participant_in, take_turn

    study = elicitation_study(songs=1, freeze_min_ratings=1)
    first, second = participant_in(study), participant_in(study)
    take_turn(first, new_tags=["=HYPERLINK(x)", "Calm"])
    tags = {tag.text: tag.pk for tag in ChainTag.objects.all()}
    take_turn(second, ratings={tags["calm"]: 4, tags["=hyperlink(x)"]: "flag"})

    snapshot = snapshot_export(study_id=study.pk)

    chains = csv_rows(snapshot, "chains")
    assert [
        (row["turn_index"], row["tag_text"], row["rating"], row["flagged"]) for row in chains
    ] == [
        ("0", "'=hyperlink(x)", "", "false"),
        ("0", "calm", "", "false"),
        ("1", "calm", "4", "false"),
        ("1", "'=hyperlink(x)", "0", "true"),
    ]
    people = {row["participant"]: row for row in csv_rows(snapshot, "participants")}
    assert {row["participant"] for row in chains} == set(people) == {"P0001", "P0002"}
    assert {row["phase"] for row in people.values()} == {"elicitation"}
    assert parquet(snapshot, "chains").column("rating").to_pylist() == [None, None, 4, 0]
    everything = b"".join(read(snapshot, name) for name in snapshot.manifest["files"])
    assert str(first.public_id).encode() not in everything


def test_batches_are_cut_between_participants_never_inside_one():
    numbers = [[1, 1, 2], [2, 2], [2, 3, 3], [4]]
    read = [pa.record_batch({"number": n, "value": range(len(n))}) for n in numbers]

    cut = [table.column("number").to_pylist() for table in snapshots._whole_participants(read)]

    assert cut == [[1, 1], [2, 2, 2, 2], [3, 3], [4]]


def test_the_streamed_ratings_files_are_those_the_row_by_row_export_wrote(
    snapshot_study, monkeypatch, tmp_path
):
    """Ratings stream as numbers (COPY on PostgreSQL) into Arrow lookups; the bytes are
    those of the earlier export that made a tuple of each rating, row groups included."""
    monkeypatch.setattr(snapshots, "BATCH_ROWS", 7)
    # Blocks of a few rows read from the database, so participants span them.
    monkeypatch.setattr(database_batches, "_CSV_BLOCK_BYTES", 256)
    monkeypatch.setattr(database_batches, "FETCH_ROWS", 5)
    snapshot = snapshot_export(study_id=snapshot_study.pk)

    def rows_one_by_one(context):
        label_of = {term["term_id"]: term["label"] for term in context.terms}
        for participant, locale, song, term, *rest in (
            Rating.objects.filter(participant__study=context.study)
            .order_by("participant__public_id", "trial__position", "term_id")
            .values_list(
                "participant_id",
                "term__locale__code",
                "song__external_id",
                "term_id",
                "value",
                "trial__position",
                "trial__is_repeat",
            )
        ):
            yield (
                context.pseudonyms[participant],
                locale,
                song,
                term,
                label_of[term],
                *rest,
            )

    ratings = next(t for t in SNAPSHOT_TABLES if t.name == "ratings")
    reference = dataclasses.replace(ratings, batches=snapshots._from_rows(rows_one_by_one))
    context = snapshots.ExportContext(
        study=snapshot_study,
        pseudonyms=snapshots._pseudonyms(snapshot_study),
        terms=study_terms_table(study=snapshot_study),
    )
    batches = list(snapshots._write_table(reference, context, tmp_path, Counter()))

    assert len(batches) > 1
    assert pq.ParquetFile(tmp_path / "ratings.parquet").num_row_groups == len(batches)
    for name in ("ratings.csv", "ratings.parquet"):
        written = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        assert written == snapshot.manifest["files"][name]["sha256"], name
