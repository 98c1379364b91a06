"""Registration's signature meanings stored as codes (issue 14): shown in the reader's language.

A signature written before stored its meaning as text in the signer's language. A text that is exactly one
of registration's meanings, in English or in Japanese (the texts and their translation as they were, frozen
here), becomes its code (registration.services.SIGNATURE_MEANINGS). Any other text stays as stored and is
shown verbatim (oligami_site.signatures.meaning_text). Each changed signature gets a history row with the
reason, so the trail keeps the text it had.
"""

from django.db import migrations
from django.utils import timezone

KNOWN = {
    "primary_registration_confirm": (
        "I confirm this patient meets all primary registration criteria",
        "この患者が一次登録のすべての規準を満たしていることを確認します",
    ),
    "secondary_registration_confirm": (
        "I confirm this patient meets all secondary registration criteria",
        "この患者が二次登録のすべての規準を満たしていることを確認します",
    ),
}
REASON = "Signature meaning stored as its code"  # oligami_site.reasons translates it


def to_codes(apps, schema_editor):
    Signature = apps.get_model("oligami_site", "Signature")
    History = apps.get_model("oligami_site", "HistoricalSignature")
    now = timezone.now()
    for code, texts in KNOWN.items():
        for signature in Signature.objects.filter(meaning__in=texts).order_by("pk"):
            signature.meaning = code
            signature.save(update_fields=["meaning"])
            History.objects.create(
                id=signature.pk, printed_name=signature.printed_name, signed_at=signature.signed_at,
                meaning=code, kind=signature.kind, subject=signature.subject, user_id=signature.user_id,
                history_date=now, history_type="~", history_change_reason=REASON, history_user=None)


def to_texts(apps, schema_editor):
    """Back to the English text (which language a signer used is not kept: the history rows show it)."""
    Signature = apps.get_model("oligami_site", "Signature")
    for code, (english, _japanese) in KNOWN.items():
        for signature in Signature.objects.filter(meaning=code):
            signature.meaning = english
            signature.save(update_fields=["meaning"])


class Migration(migrations.Migration):

    dependencies = [
        ('registration', '0011_signatures_moved_to_the_core'),
    ]

    operations = [
        migrations.RunPython(to_codes, to_texts),
    ]
