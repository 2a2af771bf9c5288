from datetime import timedelta

import pytest
from django.utils import timezone

from elicitation.models import Chain, ChainTag, TagAddition, TagRating, Turn
from elicitation.services.chains import (
    TurnSubmission,
    turn_claim,
    turn_submit,
    turn_time_budget_seconds,
    turns_expire,
)
from moodlab.errors import Conflict, Invalid
from moodlab.studies.models import MAX_NEW_TAGS_PER_TURN, Participant
from moodlab.studies.services.participants import EntryRefused
from moodlab.studies.services.recruitment import REASON_CHAINS_COMPLETE
from tests.elicitation.factories import elicitation_study, participant_in, take_turn

pytestmark = pytest.mark.django_db


def only_tag(study, key):
    return ChainTag.objects.get(chain__study=study, key=key)


def test_the_first_turn_of_a_chain_must_add_a_tag():
    study = elicitation_study()
    participant = participant_in(study)
    with pytest.raises(Invalid) as error:
        take_turn(participant)
    assert "new_tags" in error.value.fields
    assert not TagRating.objects.exists() and not ChainTag.objects.exists()
    assert Turn.objects.get().status == Turn.Status.HELD


def test_a_tag_freezes_after_enough_ratings_with_a_high_enough_mean():
    study = elicitation_study(max_turns_per_chain=10)
    take_turn(participant_in(study), new_tags=["Sad"])
    tag = only_tag(study, "sad")
    for stars in (4, 3):
        take_turn(participant_in(study), ratings={tag.pk: stars})
        tag.refresh_from_db()
        assert tag.state == ChainTag.State.VISIBLE
    take_turn(participant_in(study), ratings={tag.pk: 3})
    tag.refresh_from_db()
    assert (tag.ratings_count, tag.ratings_sum, tag.state) == (3, 10, ChainTag.State.FROZEN)


def test_flags_count_as_zero_and_keep_a_tag_from_freezing():
    study = elicitation_study(max_turns_per_chain=10, hide_flag_count=5)
    take_turn(participant_in(study), new_tags=["calm"])
    tag = only_tag(study, "calm")
    for value in (5, "flag", 3):
        take_turn(participant_in(study), ratings={tag.pk: value})
    tag.refresh_from_db()
    assert (tag.ratings_count, tag.ratings_sum, tag.flag_count) == (3, 8, 1)
    assert tag.state == ChainTag.State.VISIBLE  # mean 8/3 < 3.0


def test_frozen_tags_are_shown_but_not_rated():
    study = elicitation_study(max_turns_per_chain=10, freeze_min_ratings=1)
    take_turn(participant_in(study), new_tags=["happy", "sunny"])
    happy, sunny = only_tag(study, "happy"), only_tag(study, "sunny")
    take_turn(participant_in(study), ratings={happy.pk: 5, sunny.pk: 1})
    participant = participant_in(study)
    with pytest.raises(Invalid) as error:
        take_turn(participant, ratings={happy.pk: 5, sunny.pk: 2})
    assert error.value.fields["ratings"][0] == {str(happy.pk): "Not a tag to rate in this turn."}


def test_a_tag_is_hidden_when_its_flags_reach_the_limit_and_returns_with_its_history():
    study = elicitation_study(max_turns_per_chain=10)
    take_turn(participant_in(study), new_tags=["loud"])
    tag = only_tag(study, "loud")
    take_turn(participant_in(study), ratings={tag.pk: "flag"}, new_tags=["angry"])
    angry = only_tag(study, "angry")
    take_turn(participant_in(study), ratings={tag.pk: "flag", angry.pk: 2})
    tag.refresh_from_db()
    assert (tag.state, tag.flag_count) == (ChainTag.State.HIDDEN, 2)

    take_turn(participant_in(study), ratings={angry.pk: 2}, new_tags=["LOUD"])
    tag.refresh_from_db()
    assert tag.state == ChainTag.State.VISIBLE
    assert (tag.ratings_count, tag.flag_count) == (2, 2)
    assert list(tag.additions.values_list("text", flat=True).order_by("pk")) == ["loud", "loud"]
    assert ChainTag.objects.filter(key="loud").count() == 1


def test_a_tag_the_chain_already_shows_cannot_be_added_again():
    study = elicitation_study(max_turns_per_chain=10)
    take_turn(participant_in(study), new_tags=["sad"])
    tag = only_tag(study, "sad")
    with pytest.raises(Invalid) as error:
        take_turn(participant_in(study), ratings={tag.pk: 4}, new_tags=["Sad "])
    assert error.value.fields["new_tags"][0] == {"0": "This song already has that tag."}
    assert TagAddition.objects.count() == 1


def test_a_chain_completes_when_enough_tags_are_frozen():
    study = elicitation_study(complete_frozen_tags=2, freeze_min_ratings=1)
    take_turn(participant_in(study), new_tags=["happy", "bright"])
    happy, bright = only_tag(study, "happy"), only_tag(study, "bright")
    take_turn(participant_in(study), ratings={happy.pk: 4, bright.pk: 2})
    assert Chain.objects.get().status == Chain.Status.OPEN
    take_turn(participant_in(study), ratings={bright.pk: 5})
    chain = Chain.objects.get()
    assert chain.status == Chain.Status.COMPLETE and chain.completed_at is not None
    # No chain is left to complete: the locale's recruitment closes, with its reason.
    with pytest.raises(EntryRefused) as refusal:
        participant_in(study)
    assert refusal.value.code == "full"
    locale = study.locales.get()
    assert locale.recruitment_closed_at is not None
    assert locale.recruitment_closed_reason == REASON_CHAINS_COMPLETE


def test_a_chain_completes_after_its_maximum_number_of_turns():
    study = elicitation_study(max_turns_per_chain=2)
    take_turn(participant_in(study), new_tags=["dark"])
    take_turn(participant_in(study), ratings={only_tag(study, "dark").pk: 1})
    chain = Chain.objects.get()
    assert (chain.status, chain.turns_done) == (Chain.Status.COMPLETE, 2)


def test_the_least_advanced_chain_is_assigned_first():
    study = elicitation_study(songs=3)
    first = take_turn(participant_in(study), new_tags=["sad"])
    second = take_turn(participant_in(study), new_tags=["sad"])
    assert first.chain_id != second.chain_id
    third = turn_claim(participant=participant_in(study))
    assert third.chain_id not in {first.chain_id, second.chain_id}


def test_a_study_may_ask_for_several_chains_per_song_and_locale():
    study = elicitation_study(songs=2, chains_per_song=3, locales=("en-US", "fr-FR"))
    turn_claim(participant=participant_in(study, "fr-FR"))
    assert Chain.objects.filter(locale__code="fr-FR").count() == 6
    assert not Chain.objects.filter(locale__code="en-US").exists()


def test_a_participant_never_gets_the_same_song_twice_and_is_done_when_none_is_left():
    study = elicitation_study(songs=2, chains_per_song=2)
    participant = participant_in(study)
    songs = {take_turn(participant, new_tags=["sad"]).song_id for _ in range(2)}
    assert len(songs) == 2
    assert turn_claim(participant=participant) is None
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED


def test_a_participant_is_done_after_the_studys_number_of_turns():
    study = elicitation_study(songs=3, turns_per_participant=2)
    participant = participant_in(study)
    take_turn(participant, new_tags=["sad"])
    take_turn(participant, new_tags=["sad"])
    assert turn_claim(participant=participant) is None
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED


def test_claiming_again_returns_the_turn_already_held():
    study = elicitation_study(songs=3)
    participant = participant_in(study)
    assert turn_claim(participant=participant) == turn_claim(participant=participant)
    assert Turn.objects.count() == 1


def test_a_timed_out_turn_releases_its_chain_and_can_no_longer_be_submitted():
    study = elicitation_study()
    slow, other = participant_in(study), participant_in(study)
    turn = turn_claim(participant=slow)
    assert turn_claim(participant=other) is None  # the only chain is held by `slow`
    Turn.objects.filter(pk=turn.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    Chain.objects.update(held_until=timezone.now() - timedelta(seconds=1))
    assert turns_expire() == 1
    chain = Chain.objects.get()
    assert chain.held_by is None and chain.held_until is None
    later = participant_in(study)
    assert turn_claim(participant=later).chain_id == chain.pk
    with pytest.raises(Conflict) as error:
        turn_submit(
            participant=slow,
            turn_id=turn.pk,
            submission=TurnSubmission(ratings={}, new_tags=["sad"], audio_played_seconds=8),
        )
    assert error.value.code == "turn_expired"


def test_a_chain_held_past_its_deadline_is_claimed_even_before_the_expiry_task_runs():
    study = elicitation_study()
    turn = turn_claim(participant=participant_in(study))
    past = timezone.now() - timedelta(seconds=1)
    Turn.objects.filter(pk=turn.pk).update(deadline=past)
    Chain.objects.update(held_until=past)
    newcomer = turn_claim(participant=participant_in(study))
    assert newcomer.chain_id == turn.chain_id and newcomer.index == 0
    assert Turn.objects.get(pk=turn.pk).status == Turn.Status.EXPIRED


def test_a_retried_submission_is_stored_once_and_a_different_one_is_refused():
    study = elicitation_study(max_turns_per_chain=10)
    participant = participant_in(study)
    turn = turn_claim(participant=participant)
    submission = TurnSubmission(ratings={}, new_tags=["Sad"], audio_played_seconds=8.0)
    first = turn_submit(participant=participant, turn_id=turn.pk, submission=submission)
    again = turn_submit(participant=participant, turn_id=turn.pk, submission=submission)
    assert first.pk == again.pk
    assert (TagAddition.objects.count(), Chain.objects.get().turns_done) == (1, 1)
    with pytest.raises(Conflict) as error:
        turn_submit(
            participant=participant,
            turn_id=turn.pk,
            submission=TurnSubmission(ratings={}, new_tags=["happy"], audio_played_seconds=8.0),
        )
    assert error.value.code == "already_submitted"


def test_another_participants_turn_cannot_be_submitted():
    study = elicitation_study(songs=2)
    owner, intruder = participant_in(study), participant_in(study)
    turn = turn_claim(participant=owner)
    with pytest.raises(Conflict) as error:
        turn_submit(
            participant=intruder,
            turn_id=turn.pk,
            submission=TurnSubmission(ratings={}, new_tags=["sad"], audio_played_seconds=8),
        )
    assert error.value.code == "not_your_turn"


def test_a_turn_submitted_before_the_clip_could_have_played_is_refused():
    study = elicitation_study()
    participant = participant_in(study)
    with pytest.raises(Invalid) as error:
        take_turn(participant, new_tags=["sad"], audio_played_seconds=3.0)
    assert "audio_played_seconds" in error.value.fields
    take_turn(participant, new_tags=["sad"], audio_played_seconds=7.8)  # within tolerance


def test_a_turn_with_more_new_tags_than_the_limit_is_refused_whole():
    study = elicitation_study()
    participant = participant_in(study)
    words = "calm sad happy dark bright tender angry dreamy warm cold tense playful lonely"
    too_many = words.split()[: MAX_NEW_TAGS_PER_TURN + 1]
    with pytest.raises(Invalid) as error:
        take_turn(participant, new_tags=too_many)
    assert error.value.fields == {
        "new_tags": [f"Add at most {MAX_NEW_TAGS_PER_TURN} tags in one turn."]
    }
    assert not TagAddition.objects.exists()
    take_turn(participant, new_tags=too_many[:MAX_NEW_TAGS_PER_TURN])
    assert TagAddition.objects.count() == MAX_NEW_TAGS_PER_TURN


def test_the_time_budget_counts_three_seconds_per_rating_and_six_per_new_tag():
    study = elicitation_study()
    assert turn_time_budget_seconds(study=study, tags_rated=4, new_tags=2) == 24
