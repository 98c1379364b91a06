"""P14 round-2 data migration: what it inferred, and the screenings whose verdict it kept.

Before round 2 a blank initial-treatment date was read as "not given" (the latest *recorded* date was
the end of initial treatment). From round 2 each part is a date or "not given", and a blank is not
recorded ("Recording the initial treatment (P14)", ELIGIBILITY.md). Migration 0002 keeps every
existing screening's meaning: where the disease is recurrent, at least one part has a date and another
is blank, the blank part is marked "not given" -- exactly how the screening was evaluated -- and the
change is written to the audit trail with ``REASON``. Nothing silently changes verdict; the screenings
whose verdict *would* change if the blank were read as not recorded are listed by
``python manage.py p14_review`` so the site can confirm the parts (or correct them, with a reason).

No models imported: the migration uses these helpers with its historical models.
"""

from __future__ import annotations

from dataclasses import replace

from . import eligibility as rules

REASON = "P14 migration: blank initial-treatment part kept as not given (its meaning when evaluated)"

PARTS = (
    ("initial_surgery_date", "initial_surgery_not_given"),
    ("perioperative_chemotherapy_end_date", "perioperative_chemotherapy_not_given"),
    ("targeted_therapy_end_date", "targeted_therapy_not_given"),
)


def parts_to_infer(row) -> list[str]:
    """The "not given" fields the migration sets on a screening row (any object with the fields).

    Only recurrent disease with at least one dated part: de novo disease does not use P14 and an
    unknown presentation or no date at all left P14 missing before and after, so nothing is inferred.
    """
    presentation = rules.Presentation(history=row.presentation_history, breast_tumour=row.breast_tumour)
    if rules.is_recurrent(presentation) is not True:
        return []
    dated = [date for date, _flag in PARTS if getattr(row, date) is not None]
    if not dated:
        return []
    return [flag for date, flag in PARTS if getattr(row, date) is None and not getattr(row, flag)]


def keep_meaning(apps, schema_editor) -> int:
    """Migration 0002: mark the blank parts "not given" where the old reading relied on it; audited."""
    from django.utils import timezone

    Screening = apps.get_model("screening", "Screening")
    Historical = apps.get_model("screening", "HistoricalScreening")
    changed = 0
    now = timezone.now()
    fields = list(Screening._meta.concrete_fields)
    for row in Screening.objects.filter(presentation_history__isnull=False).order_by("pk").iterator():
        flags = parts_to_infer(row)
        if not flags:
            continue
        for flag in flags:
            setattr(row, flag, True)
        row.save(update_fields=flags)
        # simple-history's signals do not run in migrations: write the trail's row here, with the reason.
        Historical.objects.create(
            **{f.attname: getattr(row, f.attname) for f in fields},
            history_date=now, history_type="~", history_change_reason=REASON, history_user_id=None,
        )
        changed += 1
    return changed


def verdict_if_blank_not_recorded(screening) -> rules.Verdict:
    """The verdict a screening still as the migration left it would get if the parts the migration
    inferred were read as not recorded (the round-2 rule without the migration)."""
    facts = screening.to_primary_facts()
    flags = set(inferred_parts(screening))
    parts = [
        None if flag in flags else part
        for (date, flag), part in zip(PARTS, screening.initial_treatment_parts(), strict=True)
    ]
    return rules.evaluate(replace(facts, initial_treatment_end_date=rules.initial_treatment_end(*parts)))


def inferred_parts(screening) -> list[str]:
    """The "not given" fields of a screening still as the migration left it: all were inferred, since
    no "not given" could be recorded before it."""
    return [flag for date, flag in PARTS if getattr(screening, flag) and getattr(screening, date) is None]
