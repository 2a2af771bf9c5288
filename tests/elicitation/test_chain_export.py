import csv
import io

import pytest
from django.core.management import call_command

from elicitation.export import CHAIN_EXPORT_COLUMNS, chain_export_rows
from elicitation.models import ChainTag
from tests.elicitation.factories import elicitation_study, participant_in, take_turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    study = elicitation_study(max_turns_per_chain=10, hide_flag_count=1)
    opener = participant_in(study)
    take_turn(opener, new_tags=["Sad", "=cmd"])
    sad, formula = ChainTag.objects.order_by("pk")
    second = participant_in(study)
    take_turn(second, ratings={sad.pk: 4, formula.pk: "flag"}, new_tags=["calm"])
    return study


def test_each_turn_gives_one_row_per_rated_and_per_added_tag(study):
    rows = list(chain_export_rows(study=study))
    assert [list(row) for row in rows] == [CHAIN_EXPORT_COLUMNS] * 5
    cells = [
        (r["turn_index"], r["tag_text"], r["rating"], r["flagged"], r["state_after_turn"])
        for r in rows
    ]
    assert cells == [
        (0, "sad", "", False, "visible"),
        (0, "=cmd", "", False, "visible"),
        (1, "sad", 4, False, "visible"),
        (1, "=cmd", 0, True, "hidden"),
        (1, "calm", "", False, "visible"),
    ]
    first = rows[0]
    assert first["song_external_id"] == study.songs.get().external_id
    assert first["locale"] == "en-US" and first["tag_key"] == "sad"
    assert first["participant"] != rows[2]["participant"]
    assert first["turn_started_at"] <= first["turn_submitted_at"]


def test_the_command_writes_csv_with_formula_cells_guarded(study, tmp_path):
    output = tmp_path / "chains.csv"
    call_command("export_chains", "--study", study.slug, "-o", str(output), stderr=io.StringIO())
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert len(rows) == 5
    assert rows[1]["tag_text"] == "'=cmd"
    stdout = io.StringIO()
    call_command("export_chains", "--study", study.slug, stdout=stdout)
    assert stdout.getvalue() == output.read_bytes().decode("utf-8")


def test_the_export_streams_with_a_bounded_number_of_queries(study, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert len(list(chain_export_rows(study=study))) == 5


def test_the_admin_exports_the_chains_as_csv_and_shows_a_chains_turns_as_a_timeline(client, study):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_superuser=True))
    response = client.get("/admin/elicitation/chain/export/", {"study": study.pk})
    assert response["Content-Disposition"] == f'attachment; filename="{study.slug}-chains.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["tag_text"] for row in rows] == ["sad", "'=cmd", "sad", "'=cmd", "calm"]
    chain = ChainTag.objects.first().chain
    page = client.get(f"/admin/elicitation/chain/{chain.pk}/change/").content.decode()
    assert "Turn 1 · Submitted" in page and "Turn 2 · Submitted" in page
    assert "Rated: sad 4★" in page and "Added: calm" in page
