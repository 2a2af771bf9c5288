from __future__ import annotations

from celery import shared_task

from analysis.crosscultural.services import analysis_run


@shared_task(name="crosscultural.analysis_run")
def crosscultural_analysis_run(analysis_id: int) -> str:
    """Run one queued cross-cultural analysis; returns its final status."""
    return analysis_run(analysis_id=analysis_id).status
