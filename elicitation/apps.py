from django.apps import AppConfig


class ElicitationConfig(AppConfig):
    name = "elicitation"
    verbose_name = "Elicitation and term curation"

    def ready(self) -> None:
        from elicitation.extension import ELICITATION
        from moodlab.studies.extensions import extension_register

        extension_register(ELICITATION)
