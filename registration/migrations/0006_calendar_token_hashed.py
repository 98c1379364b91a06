"""Calendar feed tokens stored hashed (issue 13): the column keeps the SHA-256 of each token, in hex.

Existing tokens keep working: their URLs carry the token, the feed hashes it and finds the row. The
hash is computed here as in registration.ical.token_hash (written out: a migration must not import code
that may change later).
"""

import hashlib

from django.db import migrations, models


def hash_tokens(apps, schema_editor):
    CalendarToken = apps.get_model("registration", "CalendarToken")
    for row in CalendarToken.objects.all().only("pk", "token_hash").iterator():
        row.token_hash = hashlib.sha256(row.token_hash.encode("utf-8")).hexdigest()
        row.save(update_fields=["token_hash"])


def revoke_all(apps, schema_editor):
    """Backwards: a token cannot be recovered from its hash, so every feed in force is revoked."""
    from django.utils import timezone

    apps.get_model("registration", "CalendarToken").objects.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ("registration", "0005_evaluation_void"),
    ]

    operations = [
        migrations.RenameField(model_name="calendartoken", old_name="token", new_name="token_hash"),
        migrations.RunPython(hash_tokens, revoke_all),
        migrations.AlterField(
            model_name="calendartoken",
            name="token_hash",
            field=models.CharField(editable=False, max_length=64, unique=True, verbose_name="token (SHA-256)"),
        ),
    ]
