"""The expedited reports' signature meanings stored as codes (issue 14): shown in the reader's language.

As registration's 0012: a meaning stored as one of safety's texts, in English or in Japanese (frozen here as
they were), becomes its code (safety.services.SIGNATURE_MEANINGS); any other text stays and is shown as
stored. Each changed signature gets a history row with the reason.
"""

from django.db import migrations
from django.utils import timezone

KNOWN = {
    "safety_first_report_confirm": (
        "I confirm this first expedited safety report as the site investigator",
        "施設研究責任者として、この一次報告（緊急報告）の内容を確認します",
    ),
    "safety_second_report_confirm": (
        "I confirm this second (detailed) expedited safety report as the site investigator",
        "施設研究責任者として、この二次報告（詳細、緊急報告）の内容を確認します",
    ),
    "safety_followup_report_confirm": (
        "I confirm this follow-up safety report as the site investigator",
        "施設研究責任者として、この追加報告の内容を確認します",
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
    Signature = apps.get_model("oligami_site", "Signature")
    for code, (english, _japanese) in KNOWN.items():
        for signature in Signature.objects.filter(meaning=code):
            signature.meaning = english
            signature.save(update_fields=["meaning"])


class Migration(migrations.Migration):

    dependencies = [
        ('safety', '0003_signature_in_the_core'),
    ]

    operations = [
        migrations.RunPython(to_codes, to_texts),
    ]
