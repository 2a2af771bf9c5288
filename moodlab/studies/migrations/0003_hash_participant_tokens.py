"""Keep only a SHA-256 of each participant's token; sessions in progress keep working, since
their browsers present the raw token and the lookup hashes it the same way."""

import hashlib

from django.db import migrations, models

import moodlab.studies.models


def hash_existing_tokens(apps, schema_editor):
    Participant = apps.get_model("studies", "Participant")
    rows = Participant.objects.only("pk", "token").iterator(chunk_size=2000)
    batch = []
    for participant in rows:
        participant.token_hash = hashlib.sha256(participant.token.encode()).hexdigest()
        batch.append(participant)
        if len(batch) == 2000:
            Participant.objects.bulk_update(batch, ["token_hash"])
            batch = []
    Participant.objects.bulk_update(batch, ["token_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0002_schedule_participant_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="token_hash",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(hash_existing_tokens, migrations.RunPython.noop, elidable=False),
        migrations.RemoveField(model_name="participant", name="token"),
        migrations.AlterField(
            model_name="participant",
            name="token_hash",
            field=models.CharField(
                default=moodlab.studies.models.unheld_token_hash,
                editable=False,
                max_length=64,
                unique=True,
            ),
        ),
    ]
