from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis, quality control and snapshots"

    def ready(self) -> None:
        from analysis.extension import ANALYSIS
        from moodlab.studies.extensions import extension_register

        extension_register(ANALYSIS)
