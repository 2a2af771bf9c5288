"""MoodLab: the Django project and the shared study domain."""

from moodlab.celery import app as celery_app

__all__ = ["celery_app"]
