#!/bin/sh
# Roles: web (migrate, then gunicorn), worker (Celery worker), beat (Celery beat, database scheduler).
set -eu
role="${1:-web}"
case "$role" in
  web)
    python manage.py migrate --noinput
    exec gunicorn moodlab.wsgi:application --config /app/platform/gunicorn.conf.py
    ;;
  worker)
    exec celery -A moodlab worker --loglevel=INFO --concurrency="${CELERY_CONCURRENCY:-2}"
    ;;
  beat)
    exec celery -A moodlab beat --loglevel=INFO \
      --scheduler django_celery_beat.schedulers:DatabaseScheduler
    ;;
  *)
    exec "$@"
    ;;
esac
