from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from moodlab.studies.demo import demo_elicitation_study_create, demo_study_create


class Command(BaseCommand):
    help = (
        "Create the demo studies (idempotent): 'demo' ready for rating, 'demo-elicitation' "
        "collecting tags; with --with-admin, an admin login."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--songs-per-country", type=int, default=2)
        parser.add_argument(
            "--with-admin",
            action="store_true",
            help="Create or reset the superuser 'admin' with a new random password, printed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        studies = [
            demo_study_create(songs_per_country=options["songs_per_country"]),
            demo_elicitation_study_create(songs_per_country=options["songs_per_country"]),
        ]
        for study in studies:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo study '{study.slug}': {study.songs.count()} songs, "
                    f"locales {', '.join(study.locales.values_list('code', flat=True))}, "
                    f"phase {study.phase}."
                )
            )
        if options["with_admin"]:
            password = secrets.token_urlsafe(12)
            user, _ = get_user_model().objects.get_or_create(
                username="admin", defaults={"is_staff": True, "is_superuser": True}
            )
            user.set_password(password)
            user.save()
            for study in studies:
                study.researchers.add(user)
            self.stdout.write(f"Admin login: admin / {password}")
