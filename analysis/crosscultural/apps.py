from django.apps import AppConfig


class CrossCulturalConfig(AppConfig):
    name = "analysis.crosscultural"
    label = "crosscultural"
    verbose_name = "Cross-cultural analysis"
