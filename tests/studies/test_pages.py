"""The entry link and the session page, as a browser without JavaScript sees them."""

import json

import pytest

from moodlab.studies.api.permissions import PARTICIPANT_SESSION_KEY
from moodlab.studies.models import Participant, RecruiterIdentity, Study, StudyLocale
from moodlab.studies.selectors import participant_by_token
from moodlab.studies.services.participants import participant_finish
from tests.factories import StudyFactory, StudyLocaleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def locale():
    return StudyLocaleFactory(
        study=StudyFactory(slug="open", phase=Study.Phase.RATING), code="ko-KR"
    )


def test_the_entry_link_starts_a_session_and_redirects_to_the_session_page(client, locale):
    response = client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1&STUDY_ID=s1&SESSION_ID=x")
    assert response.status_code == 302
    assert response["Location"] == "/study/open/ko-KR/session/"
    participant = Participant.objects.get()
    assert participant_by_token(client.session[PARTICIPANT_SESSION_KEY]) == participant
    identity = RecruiterIdentity.objects.get()
    assert identity.recruiter_participant_id == "pid-1"
    assert identity.entry_parameters == {"STUDY_ID": "s1", "SESSION_ID": "x"}


def test_entering_gives_the_browser_a_new_session_key(client, locale):
    client.get("/study/open/ko-KR/session/")  # any earlier session, e.g. a planted cookie
    client.session.save()
    before = client.session.session_key
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    assert client.session.session_key != before


def test_the_locale_names_its_panels_id_parameter(client, locale):
    locale.recruiter_id_param = "RID"
    locale.save()
    client.get("/study/open/ko-KR/?RID=lucid-7")
    assert RecruiterIdentity.objects.get().recruiter_participant_id == "lucid-7"


def test_a_second_visit_with_the_same_id_resumes_the_session(client, locale):
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    other_browser = type(client)()
    response = other_browser.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    assert response.status_code == 302
    assert Participant.objects.count() == 1
    assert participant_by_token(other_browser.session[PARTICIPANT_SESSION_KEY]) == (
        Participant.objects.get()
    )


def test_the_browser_holding_the_session_opens_its_link_again_without_stranding_its_page(
    client, locale
):
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    token = client.session[PARTICIPANT_SESSION_KEY]
    # The first tab's request on its way while a second tab (or the panel's page, reloaded)
    # opens the link: it carries the session cookie as it was when sent.
    first_tab = type(client)()
    first_tab.cookies["sessionid"] = client.cookies["sessionid"].value

    reopened = client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    answer = first_tab.get("/api/v1/participants/me/")

    assert reopened.status_code == 302
    assert answer.status_code == 200, answer.content
    assert "sessionid" not in answer.cookies  # nothing deletes the browser's session cookie
    assert client.session[PARTICIPANT_SESSION_KEY] == token
    assert participant_by_token(token) == Participant.objects.get()


def test_a_browser_whose_session_was_taken_over_takes_it_back_by_opening_the_link(client, locale):
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    other_browser = type(client)()
    other_browser.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    assert participant_by_token(client.session[PARTICIPANT_SESSION_KEY]) is None

    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")

    assert (
        participant_by_token(client.session[PARTICIPANT_SESSION_KEY]) == Participant.objects.get()
    )
    assert participant_by_token(other_browser.session[PARTICIPANT_SESSION_KEY]) is None


def test_a_link_without_id_resumes_this_browsers_session_when_no_id_is_required(client, locale):
    Study.objects.update(require_recruiter_id=False)
    client.get("/study/open/ko-KR/")
    response = client.get("/study/open/ko-KR/")
    assert response.status_code == 302
    assert Participant.objects.count() == 1


def test_a_link_without_id_is_refused_politely_in_the_locales_language(client, locale):
    response = client.get("/study/open/ko-KR/")
    assert response.status_code == 400
    page = response.content.decode()
    assert '<html lang="ko" dir="ltr">' in page
    assert "이 링크는 완전하지 않습니다" in page
    assert not Participant.objects.exists()


def exit_config(page: str) -> dict:
    start = page.index('<script id="exit-config" type="application/json">')
    return json.loads(page[start:].split(">", 1)[1].split("</script>", 1)[0])


def test_a_completed_participant_reopening_the_link_sees_the_completion_code_again(client, locale):
    StudyLocale.objects.update(
        completion_code="DONE-1", completion_url="https://panel.example/done?cc={code}"
    )
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    participant_finish(participant=Participant.objects.get(), status=Participant.Status.COMPLETED)
    response = type(client)().get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    assert response.status_code == 200
    page = response.content.decode()
    assert "감사합니다!" in page
    assert exit_config(page)["exit"] == {
        "kind": "completed",
        "code": "DONE-1",
        "redirect_url": "https://panel.example/done?cc=DONE-1",
    }
    assert Participant.objects.count() == 1


def test_a_screened_out_participant_reopening_the_link_gets_the_screen_out_return(client, locale):
    StudyLocale.objects.update(screenout_code="OUT-1")
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    participant_finish(
        participant=Participant.objects.get(), status=Participant.Status.SCREENED_OUT
    )
    page = client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1").content.decode()
    assert "이미 참여하셨습니다" in page
    assert exit_config(page)["exit"]["code"] == "OUT-1"


def test_the_link_without_an_id_after_completing_shows_the_ending_not_a_new_session(client, locale):
    Study.objects.update(require_recruiter_id=False)
    client.get("/study/open/ko-KR/")
    participant_finish(participant=Participant.objects.get(), status=Participant.Status.COMPLETED)
    response = client.get("/study/open/ko-KR/")
    assert response.status_code == 302
    assert response["Location"] == "/study/open/ko-KR/session/"
    assert Participant.objects.count() == 1


def test_a_study_that_is_not_collecting_refuses_entry(client, locale):
    Study.objects.update(phase=Study.Phase.CURATION)
    response = client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    assert response.status_code == 403
    assert not Participant.objects.exists()


def test_an_unknown_locale_is_a_polite_404_in_the_links_language(client, locale):
    response = client.get("/study/open/ar-EG/?PROLIFIC_PID=pid-1")
    assert response.status_code == 404
    assert '<html lang="ar" dir="rtl">' in response.content.decode()


def test_the_session_page_without_a_session_is_a_polite_page(client, locale):
    response = client.get("/study/open/ko-KR/session/")
    assert response.status_code == 403
    assert "참여 정보를 찾을 수 없습니다" in response.content.decode()


def test_a_session_of_another_study_does_not_open_this_studys_page(client, locale):
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    StudyFactory(slug="other", phase=Study.Phase.RATING)
    assert client.get("/study/other/ko-KR/session/").status_code == 403


def test_the_session_page_is_in_the_participants_language_without_inline_script(client):
    StudyLocaleFactory(
        study=StudyFactory(slug="open", phase=Study.Phase.RATING), code="ar-EG", direction="rtl"
    )
    client.get("/study/open/ar-EG/?PROLIFIC_PID=pid-1")
    response = client.get("/study/open/ar-EG/session/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="ar-EG" dir="rtl">' in page
    assert "script-src 'self'" in response["Content-Security-Policy"]
    scripts = page.count("<script")
    assert scripts == page.count('type="application/json"') + page.count('type="module" src=')
    start = page.index('<script id="participant-config" type="application/json">')
    config = json.loads(page[start:].split(">", 1)[1].split("</script>", 1)[0])
    assert config["locale"] == "ar-EG"
    assert config["strings"]["audio_play"] == "تشغيل"
    assert config["urls"]["rating_submit"] == "/api/v1/rating/trials/{id}/submit/"


def test_only_get_opens_the_entry_link(client, locale):
    assert client.post("/study/open/ko-KR/?PROLIFIC_PID=pid-1").status_code == 405


def test_the_session_page_lives_at_the_participants_own_locale(client, locale):
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    response = client.get("/study/open/fr-FR/session/")
    assert response.status_code == 302
    assert response["Location"] == "/study/open/ko-KR/session/"


def test_the_session_page_is_never_cached(client, locale):
    client.get("/study/open/ko-KR/?PROLIFIC_PID=pid-1")
    response = client.get("/study/open/ko-KR/session/")
    assert "no-store" in response["Cache-Control"]
