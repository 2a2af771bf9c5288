"""Beat gives held trials of ended sessions back every minute (editable in the admin)."""

from django.db import migrations

TASK_NAME = "rating.release_abandoned_trials"


def schedule(apps, schema_editor):
    interval_schedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = interval_schedule.objects.get_or_create(every=1, period="minutes")
    periodic_task.objects.update_or_create(
        name="Release trials held by ended sessions",
        defaults={"task": TASK_NAME, "interval": every_minute, "enabled": True},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rating", "0002_cells_and_admin_proxy"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
