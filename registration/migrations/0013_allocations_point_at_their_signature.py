"""Each allocation points at its signature row (issue 14) instead of only copying it.

randomize() has always run inside the secondary registration's transaction, signed by the secondary
registration's signature: an allocation's signature is that of the same patient's secondary registration,
by the same user. An allocation without such a row (none exists in the data the services wrote; a row
loaded by hand might) is left without one (`signature` null) and nothing is invented: its pages show the
copied name, time and meaning it always had. The copies stay as the hash chain's inputs (randomization.
ledger), so the chain verifies as before. Each linked allocation gets a history row with the reason.
Lives in registration, the app that knows both the secondary registration and the allocation.
"""

from django.db import migrations
from django.utils import timezone

REASON = "Linked to its signature row"  # oligami_site.reasons translates it


def link(apps, schema_editor):
    Allocation = apps.get_model("randomization", "Allocation")
    History = apps.get_model("randomization", "HistoricalAllocation")
    SecondaryRegistration = apps.get_model("registration", "SecondaryRegistration")
    signed = {patient_id: (signature_id, user_id) for patient_id, signature_id, user_id in
              SecondaryRegistration.objects.values_list("patient_id", "signature_id", "signature__user_id")}
    now = timezone.now()
    for allocation in Allocation.objects.filter(signature__isnull=True).order_by("sequence"):
        signature_id, user_id = signed.get(allocation.patient_id, (None, None))
        if signature_id is None or user_id != allocation.user_id:
            continue
        allocation.signature_id = signature_id
        allocation.save(update_fields=["signature"])
        values = {field.attname: getattr(allocation, field.attname) for field in Allocation._meta.concrete_fields}
        History.objects.create(**values, history_date=now, history_type="~", history_change_reason=REASON,
                               history_user=None)


def unlink(apps, schema_editor):
    apps.get_model("randomization", "Allocation").objects.update(signature=None)


class Migration(migrations.Migration):

    dependencies = [
        ('randomization', '0003_allocation_signature'),
        ('registration', '0012_signature_meanings_as_codes'),
    ]

    operations = [
        migrations.RunPython(link, unlink),
    ]
