from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "rating"
    verbose_name = "Rating"

    def ready(self) -> None:
        from moodlab.studies.extensions import extension_register
        from rating.extension import RATING

        extension_register(RATING)
