"""Protocol deviations: the writes (keyword-only, one transaction, audited) and the suggestions from the data.

Who: a coordinator or investigator records deviations of their own site; the data centre (data manager)
records them at any site and is the one who closes them (after the corrective and preventive actions).
A monitor reads. A suggestion is a rule that sees a likely deviation in the data; recording it keeps the
rule and its finding, so the same finding is not suggested twice (a unique constraint decides).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from oligami_site import access, auditing, dataversion
from oligami_site.access import Action
from oligami_site.exceptions import DomainError
from registration.models import PrimaryRegistration, SecondaryRegistration
from screening import eligibility as rules
from screening.models import Patient

from . import checks
from .models import Deviation

TEXT_MAX_LENGTH = 2000
EDITABLE = ("date", "category", "description", "impact_safety", "impact_endpoint", "corrective_action",
            "preventive_action")


class DeviationRefused(DomainError):
    pass


def _audit(obj, user, reason: str) -> None:
    auditing.mark(obj, user=user, reason=reason)


def may_record(user, site_id: int) -> bool:
    return access.is_data_manager(user) or access.can(user, Action.EDIT, site_id)


def _validate(values: dict) -> dict:
    values = {key: values.get(key) for key in EDITABLE}
    day = values["date"]
    if not isinstance(day, date):
        raise DeviationRefused(_("Enter the date of the deviation."), code="date_required")
    if day > timezone.localdate():
        raise DeviationRefused(_("The date %(date)s is in the future.") % {"date": day.isoformat()},
                               code="future_date")
    if values["category"] not in Deviation.Category.values:
        raise DeviationRefused(_("Choose a category."), code="bad_category")
    for key in ("impact_safety", "impact_endpoint"):
        if values[key] not in Deviation.Impact.values:
            raise DeviationRefused(_("Say whether the deviation has an impact on safety and on the primary endpoint."),
                                   code="bad_impact")
    for key in ("description", "corrective_action", "preventive_action"):
        values[key] = (values[key] or "").strip()
        if len(values[key]) > TEXT_MAX_LENGTH:
            raise DeviationRefused(_("A text is too long (at most %(max)s characters).") % {"max": TEXT_MAX_LENGTH},
                                   code="text_too_long")
    if not values["description"]:
        raise DeviationRefused(_("Describe the deviation."), code="description_required")
    return values


@transaction.atomic
def record_deviation(*, user, site_id: int, values: dict, patient: Patient | None = None, rule: str = "",
                     finding: str = "") -> Deviation:
    if patient is not None:
        site_id = patient.site_id
    if not may_record(user, site_id):
        raise DeviationRefused(_("Your role may not record deviations at this site."), code="not_allowed")
    values = _validate(values)
    deviation = Deviation(site_id=site_id, patient=patient, rule=rule, finding=finding, recorded_by=user, **values)
    _audit(deviation, user, "Deviation recorded")
    try:
        with transaction.atomic():
            deviation.save()
    except IntegrityError:
        raise DeviationRefused(_("This finding is already recorded as a deviation."), code="duplicate") from None
    return deviation


@transaction.atomic
def update_deviation(*, user, deviation: Deviation, values: dict, reason: str) -> Deviation:
    deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
    if not may_record(user, deviation.site_id):
        raise DeviationRefused(_("Your role may not change deviations at this site."), code="not_allowed")
    if deviation.status == Deviation.Status.CLOSED:
        raise DeviationRefused(_("The deviation is closed: nothing was changed."), code="closed")
    reason = (reason or "").strip()
    if not reason:
        raise DeviationRefused(_("Give the reason for the change."), code="reason_required")
    for key, value in _validate(values).items():
        setattr(deviation, key, value)
    _audit(deviation, user, reason)
    deviation.save()
    return deviation


@transaction.atomic
def close_deviation(*, user, deviation: Deviation, reason: str) -> Deviation:
    deviation = Deviation.objects.select_for_update().get(pk=deviation.pk)
    if not access.is_data_manager(user):
        raise DeviationRefused(_("Only the data centre closes a deviation."), code="not_allowed")
    if deviation.status == Deviation.Status.CLOSED:
        raise DeviationRefused(_("The deviation is already closed."), code="closed")
    if not (deviation.corrective_action and deviation.preventive_action):
        raise DeviationRefused(_("Record the corrective and the preventive action before closing."),
                               code="actions_missing")
    deviation.status = Deviation.Status.CLOSED
    _audit(deviation, user, (reason or "").strip() or "Deviation closed")
    deviation.save()
    return deviation


# --- suggestions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    rule: str
    finding: str
    site_id: int
    patient_id: int
    patient_number: str
    site_code: str
    date: date
    category: str
    text: str  # in the reader's language


SUGGESTION_TITLES = {
    "labs_out_of_window": _("Labs out of window at registration (P16 / S8)"),
    "wrong_regimen": _("Therapy plan of another subtype"),
    "mdt_late": _("Metastasis-directed therapy not started in time (arm B)"),
}


def _labs_out_of_window(site_ids) -> Iterable[Suggestion]:
    """P16 / S8: labs drawn 0 to rules.LAB_WINDOW_DAYS days before the registration they support. A
    registration stored with labs outside that window (a date corrected afterwards) is a deviation."""
    window = timedelta(days=rules.LAB_WINDOW_DAYS)
    sources = (
        ("primary", PrimaryRegistration.objects, "screening__labs__date"),
        ("secondary", SecondaryRegistration.objects, "evaluation__labs__date"),
    )
    for kind, manager, labs_date in sources:
        queryset = manager.filter(Q(**{f"{labs_date}__lt": F("registration_date") - window})
                                  | Q(**{f"{labs_date}__gt": F("registration_date")}))
        if site_ids is not None:
            queryset = queryset.filter(patient__site_id__in=site_ids)
        for row in queryset.values("pk", "patient_id", "patient__screening_number", "patient__site_id",
                                   "patient__site__code", "registration_date", labs_date):
            label = gettext("primary registration") if kind == "primary" else gettext("secondary registration")
            yield Suggestion(
                "labs_out_of_window", f"{kind}:{row['pk']}", row["patient__site_id"], row["patient_id"],
                row["patient__screening_number"], row["patient__site__code"], row["registration_date"],
                Deviation.Category.ELIGIBILITY,
                gettext("Labs drawn %(drawn)s for the %(registration)s on %(registered)s: outside 0 to %(days)s "
                        "days before it.") % {"drawn": row[labs_date].isoformat(), "registration": label,
                                              "registered": row["registration_date"].isoformat(),
                                              "days": rules.LAB_WINDOW_DAYS})


def _wrong_regimen(site_ids) -> Iterable[Suggestion]:
    """The therapy plan given at primary registration must be one of the patient's subtype (S1 counts its
    courses); a plan of another subtype means the wrong regimen."""
    queryset = PrimaryRegistration.objects.exclude(plan__subtype=F("subtype"))
    if site_ids is not None:
        queryset = queryset.filter(patient__site_id__in=site_ids)
    for row in queryset.values("pk", "patient_id", "patient__screening_number", "patient__site_id",
                               "patient__site__code", "registration_date", "subtype", "plan__subtype"):
        yield Suggestion("wrong_regimen", f"primary:{row['pk']}", row["patient__site_id"], row["patient_id"],
                         row["patient__screening_number"], row["patient__site__code"], row["registration_date"],
                         Deviation.Category.TREATMENT,
                         gettext("Subtype %(subtype)s registered with the plan of subtype %(plan)s.")
                         % {"subtype": row["subtype"], "plan": row["plan__subtype"]})


def _mdt_late(site_ids) -> Iterable[Suggestion]:
    """Arm B with metastasis-directed therapy not started within the configured days of randomization: the
    same finding as the automatic check (checks.mdt_late), suggested as a treatment deviation."""
    patients = Patient.objects.all() if site_ids is None else Patient.objects.filter(site_id__in=site_ids)
    for finding, (number, site_id, site_code) in checks.mdt_late(patients, timezone.localdate(), "screening_number",
                                                                 "site_id", "site__code"):
        details = finding.details
        yield Suggestion("mdt_late", finding.key, site_id, finding.patient_id, number, site_code,
                         date.fromisoformat(details["deadline"]), Deviation.Category.TREATMENT,
                         gettext("Arm B randomized %(randomized)s: metastasis-directed therapy not started within "
                                 "%(days)s days (by %(deadline)s; first start: %(started)s).") % details)


SUGGESTERS = [_labs_out_of_window, _wrong_regimen, _mdt_late]


def cached_suggestions(*, site_ids: set[int] | None) -> list[Suggestion]:
    """`suggestions`, reused while no audited write has committed and the day is the same
    (oligami_site.dataversion): each rule searches the whole scope (at 100,000 bench patients the list page took
    0.45-0.6 s on every view). Their texts are in the reader's language, so the language is in the name."""
    return dataversion.cached(f"deviation-suggestions-{get_language()}", dataversion.scope_key(site_ids),
                              timezone.localdate(), lambda: suggestions(site_ids=site_ids))


def suggestions(*, site_ids: set[int] | None) -> list[Suggestion]:
    """Likely deviations not recorded yet, in the given sites (None: all). Bounded: one query per rule
    plus one for the recorded findings."""
    found = [s for suggester in SUGGESTERS for s in suggester(site_ids)]
    if not found:
        return []
    recorded = Deviation.objects.exclude(rule="")  # the findings already recorded, of the same sites
    if site_ids is not None:
        recorded = recorded.filter(site_id__in=site_ids)
    recorded = set(recorded.values_list("rule", "patient_id", "finding"))
    return sorted((s for s in found if (s.rule, s.patient_id, s.finding) not in recorded),
                  key=lambda s: (s.site_code, s.date, s.patient_number))
