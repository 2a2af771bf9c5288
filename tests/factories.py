"""Factories for the shared study domain; each app's tests add theirs beside them."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from moodlab.studies.models import Participant, Song, Study, StudyLocale, Term


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"researcher{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    is_staff = True
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def permissions(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        """`UserFactory(permissions=["app.codename", ...])`: model permissions, as the admin
        and the API's writes ask for."""
        from django.contrib.auth.models import Permission

        for name in extracted or ():
            app_label, codename = name.split(".")
            self.user_permissions.add(  # type: ignore[attr-defined]
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study

    slug = factory.Sequence(lambda n: f"study-{n}")
    title = factory.Sequence(lambda n: f"Study {n}")


class StudyLocaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StudyLocale
        django_get_or_create = ["study", "code"]

    study = factory.SubFactory(StudyFactory)
    code = "en-US"
    name = factory.LazyAttribute(lambda locale: locale.code)
    direction = factory.LazyAttribute(
        lambda locale: "rtl" if locale.code.startswith("ar") else "ltr"
    )


class SongFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Song

    study = factory.SubFactory(StudyFactory)
    external_id = factory.Sequence(lambda n: f"song{n:05d}")
    title = factory.Sequence(lambda n: f"Song {n}")
    artist = "Artist"
    country = "US"
    duration_seconds = 8.0


class TermFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Term

    locale = factory.SubFactory(StudyLocaleFactory)
    key = factory.Sequence(lambda n: f"term{n}")
    label = factory.LazyAttribute(lambda term: term.key)
    label_en = factory.LazyAttribute(lambda term: term.key)
    is_selected = True


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    study = factory.LazyAttribute(lambda participant: participant.locale.study)
    locale = factory.SubFactory(StudyLocaleFactory)
    phase = Participant.Phase.RATING

    @classmethod
    def _create(
        cls, model_class: type[Participant], *args: object, **kwargs: object
    ) -> Participant:
        """With a token the test can present, as the entry service issues one."""
        participant = model_class(*args, **kwargs)
        participant.issue_token()
        participant.save()
        return participant


def ready_for_trials(participant: Participant) -> Participant:
    """Record consent and passed prescreens, as the participant pages do before trials."""
    from django.utils import timezone

    from moodlab.studies.models import PrescreenResult
    from moodlab.studies.services.flow import PRESCREEN_STEPS

    participant.consented_at = timezone.now()
    participant.save(update_fields=["consented_at"])
    for kind, _flag in PRESCREEN_STEPS:
        PrescreenResult.objects.get_or_create(
            participant=participant, kind=kind, defaults={"passed": True}
        )
    return participant
