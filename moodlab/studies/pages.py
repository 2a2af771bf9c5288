"""The participant's pages: the entry link and the one session page the JavaScript drives.

Everything a participant does after entering goes through the participant API; these views
only bind the browser to a session, pick the language, and render the page shell.
"""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language_from_request
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from moodlab.studies.api.permissions import PARTICIPANT_SESSION_KEY
from moodlab.studies.api.throttles import session_start_allowed
from moodlab.studies.locales import split_locale_code
from moodlab.studies.models import MAX_NEW_TAGS_PER_TURN, Participant, StudyLocale
from moodlab.studies.scale import SCALE_MAX, SCALE_MIN
from moodlab.studies.selectors import participant_by_token
from moodlab.studies.services.participants import (
    MAX_ENTRY_PARAMETER_LENGTH,
    MAX_ENTRY_PARAMETERS,
    EntryRefused,
    participant_enter,
)
from moodlab.studies.services.steps import ParticipantExit, exit_for, no_places_exit

REFUSAL_STATUS = {
    "missing_id": 400,
    # Pages that end a visit as a session's end page would: the code and the panel's link.
    "already_taken": 200,
    "full": 200,
    "not_open": 403,
    "unknown_locale": 404,
    "no_session": 403,
    "too_many": 429,
    "session_mismatch": 403,
    "bad_request": 400,
}

# Strings the page's JavaScript shows; rendered into the page as JSON in the participant's
# language, so the scripts need no catalogue request of their own and no inline code.
SCRIPT_STRINGS = {
    "audio_loading": _("Loading the sound…"),
    "audio_failed": _("The sound could not be loaded. Check your connection and try again."),
    "audio_failed_skip": _(
        "This song still cannot be played. You can skip it: it will not count against you."
    ),
    "waiting_retry": _("Checking again in {seconds} s…"),
    "audio_play": _("Play"),
    "audio_replay": _("Play again"),
    "audio_playing": _("Playing…"),
    "audio_listen_first": _("Listen to the whole clip to continue."),
    "audio_listened": _("You have heard the whole clip."),
    "network_retrying": _("Connection problem. Trying again…"),
    "network_failed": _(
        "We could not reach the server. Your answers are kept: check your connection and "
        "press the button again."
    ),
    "server_refused": _("Something went wrong. Please reload the page."),
    "saving": _("Saving…"),
    "progress": _("{done} of {total} done"),
    "time_left": _("About {duration} left"),
    "time_left_short": _("Less than a minute left"),
    "trial_title": _("Song {number} of {total}"),
    "term_question": _("How much does this music express “{term}”?"),
    "answer_all_terms": _("Answer every word to continue."),
    "headphones_trial": _("Trial {number} of {total}"),
    "headphones_answer_first": _("Play the three sounds to the end, then choose one."),
    "vocabulary_answer_all": _("Answer every word to continue."),
    "vocabulary_word_unanswered": _("Please say whether this is a real word."),
    "tag_rate_question": _("How well does “{tag}” describe the music?"),
    "tag_stars": _("{stars} of 5 stars"),
    "tag_flag": _("Doesn’t fit / mistake"),
    "tag_remove": _("Remove {tag}"),
    "tag_too_long": _("A tag can have at most {words} words and {characters} characters."),
    "tag_duplicate": _("You have already added this tag."),
    "tag_limit": _("You can add at most {count} tags per song."),
    "add_tag_first": _("Add at least one word to continue."),
    "tags_rejected": _(
        "Some of your words can’t be used: they are too long or the song already has them. "
        "Please change them."
    ),
    "turn_expired": _("The time for that song ran out, so here is the next one."),
    "tags_none_yet": _("No one has described this song yet: you are the first."),
    "rate_all_tags": _("Rate or flag every earlier tag to continue."),
    "copied": _("Copied"),
    "redirect_countdown": _("Taking you back in {seconds} s…"),
    "choose": _("Choose…"),
    "field_required": _("Please answer this question."),
    "field_invalid": _("Please check this answer."),
}
# What the end of a visit needs of those strings, on pages that are not the session page.
EXIT_STRINGS = ("copied", "redirect_countdown")


def render_bad_request(request: HttpRequest, locale_code: str = "") -> HttpResponse:
    """The translated 400 page for input no page can use (a NUL in the address)."""
    return _render_refusal(request, "bad_request", language=_known_language(request, locale_code))


def _render_refusal(
    request: HttpRequest,
    code: str,
    *,
    language: str,
    panel_exit: ParticipantExit | None = None,
    completed: bool = False,
    locale_code: str = "",
) -> HttpResponse:
    """A polite page in the participant's language saying why they can't go on.

    With `panel_exit`, the page gives the panel's code and return link as a session's end page
    does (the same markup and script): a participant who comes back after finishing, or
    who arrives once the study is full, is never left without a way back to the panel.
    """
    translation.activate(language)
    direction = "rtl" if translation.get_language_bidi() else "ltr"
    context: dict[str, object] = {
        "code": code,
        "lang": language,
        "direction": direction,
        "completed": completed,
    }
    if panel_exit is not None:
        context["exit_config"] = {
            "strings": {key: str(SCRIPT_STRINGS[key]) for key in EXIT_STRINGS},
            # The locale's digits (ar-EG writes Arabic-Indic ones), as on the session page.
            "locale": locale_code or language,
            "exit": asdict(panel_exit),
        }
    return render(request, "participant/refused.html", context, status=REFUSAL_STATUS[code])


def _known_language(request: HttpRequest, locale_code: str = "") -> str:
    """The entry link's language when MoodLab has a catalogue for it, else the browser's."""
    language = split_locale_code(locale_code)[0] if locale_code else ""
    if language and translation.check_for_language(language):
        return language
    return get_language_from_request(request)


def _entry_parameters(request: HttpRequest, id_param: str) -> dict[str, str]:
    keys = [key for key in request.GET if key != id_param][:MAX_ENTRY_PARAMETERS]
    return {key[:40]: request.GET.get(key, "")[:MAX_ENTRY_PARAMETER_LENGTH] for key in keys}


def _session_participant(request: HttpRequest) -> Participant | None:
    token = request.session.get(PARTICIPANT_SESSION_KEY)
    if not token:
        return None
    return participant_by_token(token)


@never_cache
@require_safe
def participant_entry(request: HttpRequest, study_slug: str, locale_code: str) -> HttpResponse:
    """Start or resume a session from the panel's link, then redirect to the session page.

    Redirecting (rather than rendering) keeps the panel id out of reloads and the history.
    A link without an id resumes the session this browser already holds for the locale.
    """
    locale = (
        StudyLocale.objects.select_related("study")
        .filter(study__slug=study_slug, code=locale_code)
        .first()
    )
    if locale is None:
        return _render_refusal(
            request, "unknown_locale", language=_known_language(request, locale_code)
        )
    recruiter_id = request.GET.get(locale.recruiter_id_param, "")
    current = _session_participant(request)
    # A link without an id, in a browser whose session ran here: resume it, or show again
    # how it ended; never a second session.
    if not recruiter_id.strip() and current is not None and current.locale_id == locale.pk:
        return _to_session(locale)
    if not session_start_allowed(request):
        return _render_refusal(request, "too_many", language=locale.language)
    try:
        participant, _created = participant_enter(
            study=locale.study,
            locale=locale,
            recruiter_participant_id=recruiter_id,
            entry_parameters=_entry_parameters(request, locale.recruiter_id_param),
            user_agent=request.headers.get("User-Agent", ""),
            held=current,
        )
    except EntryRefused as refusal:
        if refusal.participant is not None:
            ended = refusal.participant
            return _render_refusal(
                request,
                refusal.code,
                language=ended.locale.language,
                panel_exit=exit_for(ended),
                completed=ended.status == Participant.Status.COMPLETED,
                locale_code=ended.locale.code,
            )
        panel_exit = no_places_exit(locale) if refusal.code == "full" else None
        return _render_refusal(
            request,
            refusal.code,
            language=locale.language,
            panel_exit=panel_exit,
            locale_code=locale.code,
        )
    if participant.token:
        # A fresh session key for the new identity, so a key planted before entry is
        # worthless. Not when this browser already held the session (no new token): the
        # old key's deletion would turn its open page's requests in flight away, and their
        # answers would delete the new key's cookie.
        request.session.cycle_key()
        request.session[PARTICIPANT_SESSION_KEY] = participant.token
    return _to_session(locale)


def _to_session(locale: StudyLocale) -> HttpResponseRedirect:
    return redirect("participant-session", study_slug=locale.study.slug, locale_code=locale.code)


@never_cache
@require_safe
def participant_session(request: HttpRequest, study_slug: str, locale_code: str) -> HttpResponse:
    """The page shell of a session; its scripts ask the API which step comes next."""
    participant = _session_participant(request)
    if participant is None or participant.study.slug != study_slug:
        return _render_refusal(
            request, "no_session", language=_known_language(request, locale_code)
        )
    locale = participant.locale
    if locale.code != locale_code:
        return _to_session(locale)
    study = participant.study
    translation.activate(locale.language)
    config = {
        "strings": {key: str(text) for key, text in SCRIPT_STRINGS.items()},
        "locale": locale.code,
        "csrf_token": get_token(request),
        "elicitation": {
            "max_tag_length": study.max_tag_length,
            "max_tag_words": study.max_tag_words,
            "max_new_tags": MAX_NEW_TAGS_PER_TURN,
            "scale_min": SCALE_MIN,
            "scale_max": SCALE_MAX,
        },
        "urls": {
            # The step endpoints hang below this one (the participant API contract).
            "participants": reverse("v1:participant-enter"),
            "rating_trial": reverse("v1:rating-trial-current"),
            "rating_submit": reverse("v1:rating-trial-submit", kwargs={"trial_id": 0}).replace(
                "/0/", "/{id}/"
            ),
            "rating_finish": reverse("v1:rating-finish"),
            "rating_audio_failed": reverse(
                "v1:rating-trial-audio-failed", kwargs={"trial_id": 0}
            ).replace("/0/", "/{id}/"),
            "elicitation_audio_failed": reverse("v1:elicitation-turn-audio-failed"),
            "elicitation_turn": reverse("v1:elicitation-turn"),
            "elicitation_submit": reverse("v1:elicitation-turn-submit"),
            "elicitation_tags": reverse("v1:elicitation-tags"),
        },
    }
    return render(
        request,
        "participant/session.html",
        {"lang": locale.code, "direction": locale.direction, "config": config},
    )
