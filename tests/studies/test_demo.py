import pytest
from django.core.management import call_command

from moodlab.studies.models import Study

pytestmark = pytest.mark.django_db


def test_the_demo_study_is_ready_for_rating_and_the_command_can_run_again(capsys):
    call_command("create_demo_study", "--songs-per-country", "1", "--with-admin")
    first = capsys.readouterr().out
    call_command("create_demo_study", "--songs-per-country", "1")
    study = Study.objects.get(slug="demo")
    assert study.phase == Study.Phase.RATING
    assert sorted(study.locales.values_list("code", flat=True)) == [
        "ar-EG",
        "en-US",
        "es-MX",
        "fr-FR",
        "ko-KR",
    ]
    assert study.songs.count() == 59
    assert all(
        song.audio and song.duration_seconds == pytest.approx(6.0, abs=0.01)
        for song in study.songs.all()
    )
    for locale in study.locales.all():
        assert locale.terms.filter(is_selected=True).count() == 20
        assert locale.terms_frozen_at is not None
        # Every end page shows a code: completed, screened out, study full.
        assert locale.completion_code == "MOODLAB-DEMO"
        assert locale.screenout_code == "MOODLAB-DEMO-SCREENOUT"
        assert locale.no_places_code == "MOODLAB-DEMO-FULL"
    assert "Admin login: admin / " in first
    assert study.researchers.filter(username="admin", is_superuser=True).exists()
    tags_study = Study.objects.get(slug="demo-elicitation")
    assert tags_study.phase == Study.Phase.ELICITATION
    assert tags_study.researchers.filter(username="admin").exists()
