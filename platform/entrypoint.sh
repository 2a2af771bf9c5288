#!/bin/sh
# Roles: web (collect static files, migrate, then gunicorn), worker (Celery worker), beat
# (Celery beat, database scheduler).
set -eu
role="${1:-web}"
case "$role" in
  web)
    # The pages name their scripts through the manifest this writes (the image has one from
    # its build; a mounted var/ or a new STATIC_ROOT needs it again). Without it, gunicorn
    # refuses to start rather than answer 500 on every page.
    python manage.py collectstatic --noinput --verbosity 0
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
