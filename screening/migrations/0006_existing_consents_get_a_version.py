"""Issue 17: every consent already recorded gets a consent document version, so no verdict changes.

Before versions existed a consent was one date. P18 now also asks for a version in force on the consent
date, which would make every recorded consent "missing". This migration creates one initial version,
effective from the earliest consent date on file and never superseded, and gives it to every screening
that has a consent date: P18 then judges each of them exactly as before (the version is in force on every
consent date from the earliest on). Each change is written to the audit trail with the reason below. The
data centre can later rename the version (screening.consents.rename_version) and add the next one.
A database with no consent recorded gets nothing: the data centre enters the first version itself.
"""

from django.db import migrations
from django.db.models import Min
from django.utils import timezone

REASON = "Issue 17: the consents recorded before versions existed are on the initial version"
INITIAL_VERSION = "initial"


def give_existing_consents_a_version(apps, schema_editor):
    Screening = apps.get_model("screening", "Screening")
    ConsentDocument = apps.get_model("screening", "ConsentDocument")
    HistoricalScreening = apps.get_model("screening", "HistoricalScreening")
    HistoricalConsentDocument = apps.get_model("screening", "HistoricalConsentDocument")
    unversioned = Screening.objects.filter(consent_date__isnull=False, consent_version__isnull=True)
    earliest = unversioned.aggregate(earliest=Min("consent_date"))["earliest"]
    if earliest is None:
        return 0
    now = timezone.now()
    # The table is new (migration 0005), so this is the first version.
    document = ConsentDocument.objects.create(version=INITIAL_VERSION, effective_date=earliest)
    HistoricalConsentDocument.objects.create(
        **{f.attname: getattr(document, f.attname) for f in ConsentDocument._meta.concrete_fields},
        history_date=now, history_type="+", history_change_reason=REASON, history_user_id=None)
    fields = list(Screening._meta.concrete_fields)
    count = 0
    for screening in unversioned.order_by("pk").iterator():
        screening.consent_version_id = document.pk
        screening.save(update_fields=["consent_version"])
        HistoricalScreening.objects.create(
            **{f.attname: getattr(screening, f.attname) for f in fields},
            history_date=now, history_type="~", history_change_reason=REASON, history_user_id=None)
        count += 1
    return count


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0005_consent_versions"),
    ]

    operations = [
        migrations.RunPython(give_existing_consents_a_version, migrations.RunPython.noop),
    ]
