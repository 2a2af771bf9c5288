"""Register the sweeper that sends jobs requested while the broker was down."""

from django.db import migrations

TASK = "analysis.requeue_unsent_jobs"
NAME = "Send jobs requested while the broker was unreachable"


def add_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = interval_model.objects.get_or_create(every=1, period="minutes")
    periodic_task_model.objects.get_or_create(
        name=NAME, defaults={"task": TASK, "interval": every_minute}
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0003_jobrun_queued_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
