"""Issue 15: a screening with any criterion not met (or an exclusion that applies) is a screen failure
whatever else is still missing. Existing drafts whose stored verdict already fails become "not
eligible", and the patient whose latest screening it is moves from "screening" to "screen failed"
(CONSORT counts her as a screen failure). Decided from the stored verdict snapshot, not re-evaluated,
so no verdict changes; each change is written to the audit trail with the reason below.
"""

from django.db import migrations
from django.utils import timezone

REASON = "Issue 15: a criterion not met is a screen failure whatever is missing"


def reclassify(apps, schema_editor):
    Screening = apps.get_model("screening", "Screening")
    Patient = apps.get_model("screening", "Patient")
    HistoricalScreening = apps.get_model("screening", "HistoricalScreening")
    HistoricalPatient = apps.get_model("screening", "HistoricalPatient")
    Lesion = apps.get_model("screening", "Lesion")
    now = timezone.now()
    screening_fields = list(Screening._meta.concrete_fields)
    patient_fields = list(Patient._meta.concrete_fields)
    for screening in Screening.objects.filter(outcome="draft").exclude(verdict=None).order_by("pk").iterator():
        verdict = screening.verdict or {}
        failing = list(verdict.get("failed") or []) + list(verdict.get("excluded_by") or [])
        if failing == ["P5"] and not Lesion.objects.filter(screening_id=screening.pk).exists():
            continue  # no lesion entered yet, as screening.services decides: still a draft
        if not failing:
            continue
        screening.outcome = "not_eligible"
        screening.save(update_fields=["outcome"])
        HistoricalScreening.objects.create(
            **{f.attname: getattr(screening, f.attname) for f in screening_fields},
            history_date=now, history_type="~", history_change_reason=REASON, history_user_id=None)
        patient = Patient.objects.get(pk=screening.patient_id)
        latest = Screening.objects.filter(patient_id=patient.pk).order_by("-number").values_list("pk", flat=True)[0]
        if patient.stage == "screening" and latest == screening.pk:
            patient.stage = "screen_failed"
            patient.save(update_fields=["stage"])
            HistoricalPatient.objects.create(
                **{f.attname: getattr(patient, f.attname) for f in patient_fields},
                history_date=now, history_type="~", history_change_reason=REASON, history_user_id=None)


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0003_patient_stage_without_ready_to_randomize"),
    ]

    operations = [
        migrations.RunPython(reclassify, migrations.RunPython.noop),
    ]
