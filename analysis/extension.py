"""What the analysis app tells the core (registered in `AnalysisConfig.ready()`): moving to
rating warns about quality-control rules turned off. See `moodlab.studies.extensions`."""

from __future__ import annotations

from analysis.services.quality import quality_rules_of
from moodlab.studies.extensions import Extension
from moodlab.studies.models import Study
from moodlab.studies.preflight import Preflight


def preflight_quality_rules(preflight: Preflight) -> None:
    if preflight.phase != Study.Phase.RATING:
        return
    rules = quality_rules_of(study_id=preflight.study.pk)
    off = [rule.rule.title for rule in rules if not rule.enabled]
    preflight.add(
        "Quality-control rules",
        "warning" if off else None,
        f"Turned off: {'; '.join(off)}. Participants failing them will be kept.",
        f"All {len(rules)} rules are on.",
    )


ANALYSIS = Extension(app="analysis", preflight=preflight_quality_rules)
