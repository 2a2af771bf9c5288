"""The Celery app: configured from Django settings (CELERY_*), tasks found in every app."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from moodlab.log_redaction import install_on

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")

app = Celery("moodlab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The worker sets up its own log handlers: database errors lose their values there too.
after_setup_logger.connect(install_on, weak=False)
after_setup_task_logger.connect(install_on, weak=False)
