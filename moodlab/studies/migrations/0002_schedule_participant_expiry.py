"""Beat times out abandoned sessions every minute (editable in the admin's periodic tasks)."""

from django.db import migrations

TASK_NAME = "studies.expire_stale_participants"


def schedule(apps, schema_editor):
    interval_schedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = interval_schedule.objects.get_or_create(every=1, period="minutes")
    periodic_task.objects.update_or_create(
        name="Time out abandoned participant sessions",
        defaults={"task": TASK_NAME, "interval": every_minute, "enabled": True},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0001_initial"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
