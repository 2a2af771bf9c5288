"""Register the aggregation job with beat; researchers change its interval in the admin."""

from django.db import migrations

TASK = "analysis.aggregate_studies_in_rating"
NAME = "Aggregate ratings of studies in the rating phase"


def add_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    periodic_task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every_five_minutes, _ = interval_model.objects.get_or_create(every=5, period="minutes")
    periodic_task_model.objects.get_or_create(
        name=NAME, defaults={"task": TASK, "interval": every_five_minutes}
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
