"""The snapshot's terms table, and tables that join on ids alike in CSV and Parquet."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from analysis.models import QualityRuleSetting
from analysis.services.quality import exclusion_override, quality_check
from analysis.services.snapshots import snapshot_export
from elicitation.services.curation import term_rename, terms_merge
from moodlab.studies.models import Participant
from tests.analysis.test_snapshots import csv_rows, parquet
from tests.conftest import build_study
from tests.factories import UserFactory


def test_ratings_and_means_name_terms_by_id_and_the_label_participants_read(snapshot_study):
    snapshot = snapshot_export(study_id=snapshot_study.pk)

    terms = {int(row["term_id"]): row for row in csv_rows(snapshot, "terms")}
    korean = snapshot_study.locales.get(code="ko-KR").terms.filter(is_selected=True)
    assert {t.pk for t in korean} <= set(terms)
    for term in korean:
        row = terms[term.pk]
        assert row["label"] == term.label_ko
        assert row["gloss"] == term.label_en and row["gloss"].isascii()
        assert row["key"] == term.key
    for table in ("ratings", "mean_ratings"):
        rows = csv_rows(snapshot, table)
        assert rows and {int(r["term_id"]) for r in rows} <= set(terms)
        assert all(r["term"] == terms[int(r["term_id"])]["label"] for r in rows)
    assert parquet(snapshot, "terms").column("term_id").to_pylist() == [
        int(row["term_id"]) for row in csv_rows(snapshot, "terms")
    ]


@pytest.mark.django_db
def test_a_renamed_and_merged_term_keeps_its_label_and_merged_keys():
    study = build_study(locales=("ko-KR",), phase="draft")
    locale = study.locales.get()
    first, second = locale.terms.filter(is_selected=True).order_by("rank")[:2]
    merged = terms_merge(locale=first.locale, term_ids=[first.pk, second.pk], into_id=first.pk).term
    term_rename(term=merged, label="평화로운", gloss="peaceful")

    snapshot = snapshot_export(study_id=study.pk)

    row = next(r for r in csv_rows(snapshot, "terms") if int(r["term_id"]) == merged.pk)
    assert (row["label"], row["gloss"], row["key"]) == ("평화로운", "peaceful", first.key)
    assert row["merged_keys"] == second.key


def test_ids_and_researcher_values_are_exact_in_csv_and_equal_to_parquet(snapshot_study):
    song = snapshot_study.songs.first()
    song.external_id = "-7zYPOvPABo"
    song.title = '=HYPERLINK("http://evil.example","click")'
    song.save()

    snapshot = snapshot_export(study_id=snapshot_study.pk)

    row = next(r for r in csv_rows(snapshot, "songs") if r["song_id"] == "-7zYPOvPABo")
    assert row["title"] == song.title
    for table, keys in {
        "songs": ("song_id",),
        "ratings": ("participant", "locale", "song_id", "term_id"),
        "mean_ratings": ("locale", "song_id", "term_id"),
        "terms": ("term_id", "locale"),
    }.items():
        rows, frame = csv_rows(snapshot, table), parquet(snapshot, table)
        for key in keys:
            assert [r[key] for r in rows] == [str(v) for v in frame.column(key).to_pylist()]
    assert "-7zYPOvPABo" in set(
        pc.unique(parquet(snapshot, "ratings").column("song_id")).to_pylist()
    )


def test_a_manual_exclusion_exports_its_reason_and_rules_switched_off_flag_nobody(
    snapshot_study,
):
    QualityRuleSetting.objects.create(study=snapshot_study, rule="agreement", enabled=False)
    quality_check(study_id=snapshot_study.pk)
    participant = Participant.objects.filter(study=snapshot_study).order_by("public_id").first()
    exclusion_override(
        participant_id=participant.pk,
        override="exclude",
        reason="Told us they played the clips muted",
        user=UserFactory(),
    )

    snapshot = snapshot_export(study_id=snapshot_study.pk)

    people = csv_rows(snapshot, "participants")
    assert people[0]["override"] == "exclude"
    assert people[0]["override_reason"] == "Told us they played the clips muted"
    assert all("agreement" not in p["quality_flags"].split(";") for p in people)
