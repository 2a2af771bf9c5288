from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "moodlab.studies"
    label = "studies"
    verbose_name = "Studies"

    def ready(self) -> None:
        from moodlab.studies.api import schema  # noqa: F401 - registers the schema extension
