"""The registration counter moves into the kit's numbering (oligami_site.Counter, issue 14).

Its rows are copied into the core's counter table under the series name ``registration.<name>`` (the
registration number's series is ``registration.primary``), then the old table goes. Reversible: the rows
are copied back.
"""

from django.db import migrations

PREFIX = "registration."


def forwards(apps, schema_editor):
    old = apps.get_model("registration", "RegistrationCounter")
    counter = apps.get_model("oligami_site", "Counter")
    for row in old.objects.all():
        counter.objects.update_or_create(series=PREFIX + row.name, defaults={"value": row.value})


def backwards(apps, schema_editor):
    old = apps.get_model("registration", "RegistrationCounter")
    counter = apps.get_model("oligami_site", "Counter")
    for row in counter.objects.filter(series__startswith=PREFIX):
        old.objects.update_or_create(name=row.series.removeprefix(PREFIX), defaults={"value": row.value})
        row.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("oligami_site", "0007_counter"),
        ("registration", "0007_signature_safety_report"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(name="RegistrationCounter"),
    ]
