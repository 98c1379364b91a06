"""Every write of the safety app (protocol/SAFETY.md): keyword-only functions, one transaction each, the
audit user and reason on every history row (oligami_site.auditing).

Reportability is never decided here: ``_judge`` hands the facts (primary registration date, protocol
treatment from followup.selectors.treatment_facts, the event) to safety/reportability.py and stores its
answer on the event. The clock of a reportable event starts at the awareness of the fact that made it
reportable: its own awareness when it is reportable from the first entry, the awareness of the change
when a later change (grade raised, hospitalization, a death assessed) makes it so. An event that was
already reportable keeps its clock: a correction does not give the site more time.

Locking: the patient row first (as followup/services.py), so two entries for one patient are serialized.

Refused, nothing saved: no primary registration; onset before primary registration (the trial's events
start there, R0) or in the future; resolution before onset or in the future; grade outside 1-4 (5 is a
death: code ``grade_5``, the form sends the user to follow-up); awareness in the future, before the onset
day, or without a time zone; an unknown causality, action or outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from followup import selectors as followup_selectors
from followup.models import RADIOTHERAPY, Death, MetastasisDirectedTherapy, Modality
from oligami_site import access, auditing, signatures
from oligami_site.access import Action
from registration.models import PrimaryRegistration
from screening.models import Patient

from . import reportability, tasks
from .exceptions import InvalidEntry, NotAllowed, OutOfOrder
from .models import (
    ActionTaken,
    AdverseEvent,
    Causality,
    ExpectedEvent,
    ExpeditedReport,
    Outcome,
    ReportKind,
    SafetySettings,
    Treatment,
)

TEXT_MAX_LENGTH = 4000
TERM_MAX_LENGTH = 200
DEATH_TERM = "Death NOS"  # CTCAE v5.0 "General disorders": the term of a death without a graded AE of its own

# What safety signs (declared to the core's e-signatures in apps.py): one kind, a meaning per report, stored
# as codes and shown in the reader's language.
SIGNATURE_KIND = "safety_report"
REPORT_MEANING = {
    ReportKind.FIRST: "safety_first_report_confirm",
    ReportKind.SECOND: "safety_second_report_confirm",
    ReportKind.FOLLOWUP: "safety_followup_report_confirm",
}
SIGNATURE_KINDS = {SIGNATURE_KIND: _("Expedited safety report")}
SIGNATURE_MEANINGS = {
    REPORT_MEANING[ReportKind.FIRST]: _("I confirm this first expedited safety report as the site investigator"),
    REPORT_MEANING[ReportKind.SECOND]: _(
        "I confirm this second (detailed) expedited safety report as the site investigator"),
    REPORT_MEANING[ReportKind.FOLLOWUP]: _("I confirm this follow-up safety report as the site investigator"),
}


def _d(value: date) -> str:
    return value.isoformat()


def _reason(reason) -> str:
    reason = auditing.clean_reason(reason if isinstance(reason, str) else "", error=InvalidEntry)
    if not reason:
        raise InvalidEntry(_("Give the reason for the change."), code="reason_required")
    return reason


def _text(value, label, *, required=False, max_length=TEXT_MAX_LENGTH) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidEntry(_("%(field)s must be text.") % {"field": label}, code="wrong_type")
    value = (value or "").strip()
    if required and not value:
        raise InvalidEntry(_("%(field)s is required.") % {"field": label}, code="missing_fields")
    if len(value) > max_length:
        raise InvalidEntry(_("%(field)s is too long (at most %(max)s characters).")
                           % {"field": label, "max": max_length}, code="too_long")
    return value


def _past_date(value, label, *, required=True) -> date | None:
    if value in (None, ""):
        if required:
            raise InvalidEntry(_("%(field)s is required.") % {"field": label}, code="missing_fields")
        return None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidEntry(_("%(field)s must be a date.") % {"field": label}, code="wrong_type")
    today = timezone.localdate()
    if value > today:
        raise InvalidEntry(_("%(field)s %(date)s is in the future (today is %(today)s).")
                           % {"field": label, "date": _d(value), "today": _d(today)}, code="future_date")
    return value


def _awareness(value, *, not_before: date | None, label=None) -> datetime:
    """When the site learned of the event (or of the change): an aware date-time, not in the future."""
    label = label or _("Site aware at")
    if value in (None, ""):
        raise InvalidEntry(_("%(field)s is required.") % {"field": label}, code="missing_fields")
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidEntry(_("%(field)s must be a date and time with its time zone.") % {"field": label},
                           code="wrong_type")
    if value > timezone.now():
        raise InvalidEntry(_("%(field)s %(when)s is in the future.")
                           % {"field": label, "when": timezone.localtime(value).strftime("%Y-%m-%d %H:%M")},
                           code="future_awareness")
    if not_before is not None and timezone.localtime(value).date() < not_before:
        raise InvalidEntry(_("%(field)s %(when)s is before the event began (%(date)s).")
                           % {"field": label, "when": timezone.localtime(value).strftime("%Y-%m-%d %H:%M"),
                              "date": _d(not_before)}, code="awareness_before_onset")
    return value


def _bool(value) -> bool:
    return value is True


def _choice(value, choices, label) -> str:
    if value not in choices.values:
        raise InvalidEntry(_("Choose the %(field)s.") % {"field": label}, code="missing_fields")
    return value


def _grade(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except (TypeError, ValueError):
            raise InvalidEntry(_("The grade must be a whole number from 1 to 4."), code="wrong_type") from None
    if value == reportability.DEATH_GRADE:
        # SAFETY.md: "A Grade 5 AE is a death: record it as a death" (one fact, entered once, in follow-up).
        raise InvalidEntry(_("Grade 5 is a death: record the death in follow-up, then its safety assessment."),
                           code="grade_5")
    if value not in reportability.GRADES:
        raise InvalidEntry(_("The grade must be a whole number from 1 to 4 (5 is a death)."), code="out_of_range")
    return value


# --- configuration ------------------------------------------------------------------------------------


def current_settings() -> SafetySettings:
    """The trial's safety settings; the defaults (unsaved) until a data manager saves them."""
    return SafetySettings.objects.order_by("pk").first() or SafetySettings()


def _freeze_settings(user) -> SafetySettings:
    """The first judged event freezes the settings it was judged with (DESIGN.md: frozen once used)."""
    settings = SafetySettings.objects.select_for_update().order_by("pk").first() or SafetySettings()
    if settings.frozen_at is None:
        settings.frozen_at = timezone.now()
        auditing.save(settings, user=user, reason="Frozen: first adverse event judged with these settings")
    return settings


@transaction.atomic
def save_settings(*, settings: SafetySettings, user, reason) -> SafetySettings:
    """Change the safety settings (data managers, admin); refused once frozen."""
    if SafetySettings.objects.filter(frozen_at__isnull=False).exists():
        raise InvalidEntry(_("The safety settings are frozen: adverse events were already judged with them."),
                           code="frozen")
    if settings.pk is None and SafetySettings.objects.exists():
        raise InvalidEntry(_("The safety settings exist already: change that row."), code="one_row")
    auditing.save(settings, user=user, reason=reason or "Safety settings")
    return settings


def expected_terms(patient, primary: PrimaryRegistration | None = None) -> set[str]:
    """The CTCAE terms expected of the patient's treatment (casefolded): the systemic regimen of the subtype
    registered, and for arm B the radiotherapy, surgery or ablation recorded (SAFETY.md "Expected")."""
    primary = primary or PrimaryRegistration.objects.filter(patient=patient).first()
    treatments = []
    if primary is not None:
        treatments.append(f"systemic_{primary.subtype}")
    modalities = set(MetastasisDirectedTherapy.objects.filter(patient=patient).values_list("modality", flat=True))
    if modalities & set(RADIOTHERAPY):
        treatments.append(Treatment.RADIOTHERAPY)
    if Modality.SURGERY in modalities:
        treatments.append(Treatment.SURGERY)
    if Modality.ABLATION in modalities:
        treatments.append(Treatment.ABLATION)
    return {term.casefold() for term in
            ExpectedEvent.objects.filter(treatment__in=treatments).values_list("term", flat=True)}


# --- judging an event ------------------------------------------------------------------------------


def _treatment(patient) -> reportability.Treatment:
    facts = followup_selectors.treatment_facts(patient)
    return reportability.Treatment(start_date=facts.start_date, last_day=facts.last_day, ongoing=facts.ongoing)


def decide(event: AdverseEvent, primary: PrimaryRegistration,
           treatment: reportability.Treatment | None = None) -> tuple[bool, reportability.Rule]:
    """Reportable or not and the rule (R0-R4), from the event and the patient's facts as they are now
    (``treatment``: the patient's facts when the caller has them already, else read here)."""
    return reportability.decide(primary_registration_date=primary.registration_date,
                                treatment=treatment or _treatment(event.patient_id), event=judged_event(event))


def judged_event(event: AdverseEvent, *, death_date=None) -> reportability.Event:
    """The event as reportability.py judges it: a death by its date and causality, any other event by its
    grade, expectedness and hospitalization. ``death_date``: the death's date when its row is not saved yet
    (the bench generator builds deaths and their events in memory)."""
    if event.death_id or death_date is not None:
        return reportability.Event(kind=reportability.Kind.DEATH, onset_date=death_date or event.death.date,
                                   causality=reportability.Causality(event.causality))
    return reportability.Event(kind=reportability.Kind.ADVERSE_EVENT, onset_date=event.onset_date,
                               grade=event.grade, expected=event.expected,
                               hospitalization_24h=event.hospitalization_24h,
                               causality=reportability.Causality(event.causality))


def _judge(event: AdverseEvent, primary: PrimaryRegistration, *, change_awareness: datetime, user,
           treatment: reportability.Treatment | None = None) -> None:
    """Store reportability.py's decision on the event; start the clock when it becomes reportable."""
    settings = _freeze_settings(user)
    reportable, rule = decide(event, primary, treatment)
    event.rule = str(rule)
    if not reportable:
        event.reportable = False
        event.clock_start = event.first_report_due = event.second_report_due = None
        return
    if not event.reportable or event.clock_start is None:
        event.clock_start = change_awareness  # the awareness of the fact that made it reportable
    event.reportable = True
    event.first_report_due, event.second_report_due = reportability.deadlines(
        event.clock_start, first_report_hours=settings.first_report_hours,
        second_report_days=settings.second_report_days)


def _lock(patient) -> tuple[Patient, PrimaryRegistration]:
    pk = patient.pk if isinstance(patient, Patient) else patient
    locked = Patient.objects.select_for_update(of=("self",)).select_related("site").get(pk=pk)
    primary = PrimaryRegistration.objects.filter(patient=locked).first()
    if primary is None:
        raise OutOfOrder(_("%(patient)s is not registered: adverse events are recorded from primary registration "
                           "on.") % {"patient": locked.screening_number}, code="not_registered")
    return locked, primary


def _event_values(data: Mapping, primary: PrimaryRegistration) -> dict:
    onset = _past_date(data.get("onset_date"), _("Onset date"))
    if onset < primary.registration_date:
        # R0: not the trial's event. Refused rather than stored: the trial collects AEs from registration on.
        raise InvalidEntry(_("The onset %(date)s is before the primary registration on %(primary)s: not an adverse "
                             "event of the trial (R0).")
                           % {"date": _d(onset), "primary": _d(primary.registration_date)}, code="before_registration")
    resolution = _past_date(data.get("resolution_date"), _("Resolution date"), required=False)
    if resolution is not None and resolution < onset:
        raise InvalidEntry(_("The resolution date %(end)s is before the onset date %(start)s.")
                           % {"end": _d(resolution), "start": _d(onset)}, code="resolution_before_onset")
    return {
        "term": _text(data.get("term"), _("CTCAE term"), required=True, max_length=TERM_MAX_LENGTH),
        "grade": _grade(data.get("grade")),
        "onset_date": onset,
        "resolution_date": resolution,
        "hospitalization_24h": _bool(data.get("hospitalization_24h")),
        "life_threatening": _bool(data.get("life_threatening")),
        "disability": _bool(data.get("disability")),
        "other_serious": _bool(data.get("other_serious")),
        "causality": _choice(data.get("causality"), Causality, _("causality")),
        "action_taken": _choice(data.get("action_taken") or ActionTaken.NONE, ActionTaken, _("action taken")),
        "outcome": _choice(data.get("outcome") or Outcome.UNKNOWN, Outcome, _("outcome")),
    }


def _after_commit(event: AdverseEvent) -> None:
    """A deadline already 24 hours away or passed when the event is entered (a late entry) is escalated at
    once, by a task sent when the transaction commits (not the next scan, not the morning digest)."""
    tasks.escalate_event.delay_on_commit(event.pk)


@transaction.atomic
def record_event(*, patient, data: Mapping, user) -> AdverseEvent:
    """A new adverse event; its expectedness from the trial's list, its reportability from the rules."""
    locked, primary = _lock(patient)
    values = _event_values(data, primary)
    if values["outcome"] == Outcome.FATAL:
        raise InvalidEntry(_("A fatal outcome is a death: record the death in follow-up, then its safety "
                             "assessment."), code="grade_5")
    awareness = _awareness(data.get("awareness"), not_before=values["onset_date"])
    event = AdverseEvent(patient=locked, ctcae_version=current_settings().ctcae_version, awareness=awareness,
                         recorded_by=user, **values)
    event.expected = values["term"].casefold() in expected_terms(locked, primary)
    _judge(event, primary, change_awareness=awareness, user=user)
    auditing.save(event, user=user, reason=f"Adverse event recorded ({event.rule})")
    _after_commit(event)
    return event


@transaction.atomic
def update_event(*, event: AdverseEvent, data: Mapping, user, reason) -> AdverseEvent:
    """Correct or follow an event (grade raised, resolved...). ``data["change_awareness"]``: when the site
    learned of the change; it starts the clock if the change makes the event reportable."""
    reason = _reason(reason)
    locked, primary = _lock(event.patient_id)
    event = AdverseEvent.objects.select_for_update().get(pk=event.pk, patient=locked)
    if event.death_id:
        raise OutOfOrder(_("This is the safety assessment of a death: change it on its own page."),
                         code="death_assessment")
    values = _event_values(data, primary)
    if values["outcome"] == Outcome.FATAL:
        raise InvalidEntry(_("A fatal outcome is a death: record the death in follow-up, then its safety "
                             "assessment."), code="grade_5")
    change_awareness = _awareness(data.get("change_awareness"), not_before=values["onset_date"],
                                  label=_("Site aware of this change at"))
    if change_awareness < event.awareness:
        raise InvalidEntry(_("The site cannot have learned of the change before it learned of the event."),
                           code="awareness_order")
    for name, value in values.items():
        setattr(event, name, value)
    event.expected = values["term"].casefold() in expected_terms(locked, primary)
    _judge(event, primary, change_awareness=change_awareness, user=user)
    auditing.save(event, user=user, reason=reason)
    _after_commit(event)
    return event


@transaction.atomic
def assess_death(*, death: Death, data: Mapping, user) -> AdverseEvent:
    """The safety assessment of a death recorded in follow-up (R1): causality and the site's awareness.
    The date of death stays on the Death row; a reportable death starts its clock at the awareness."""
    locked, primary = _lock(death.patient_id)
    death = Death.objects.get(pk=death.pk, patient=locked)
    if AdverseEvent.objects.filter(death=death).exists():
        raise OutOfOrder(_("The safety assessment of this death is already recorded."), code="already_recorded")
    awareness = _awareness(data.get("awareness"), not_before=death.date)
    event = AdverseEvent(patient=locked, death=death, term=DEATH_TERM, grade=reportability.DEATH_GRADE,
                         ctcae_version=current_settings().ctcae_version, expected=False,
                         causality=_choice(data.get("causality"), Causality, _("causality")),
                         action_taken=ActionTaken.NOT_APPLICABLE, outcome=Outcome.FATAL, awareness=awareness,
                         recorded_by=user)
    _judge(event, primary, change_awareness=awareness, user=user)
    auditing.save(event, user=user, reason=f"Safety assessment of the death ({event.rule})")
    _after_commit(event)
    return event


# --- re-judging when the treatment facts change ---------------------------------------------------

JUDGED_FIELDS = ("expected", "reportable", "rule", "clock_start", "first_report_due", "second_report_due")


@transaction.atomic
def rejudge_after_treatment_change(*, patient, user, reason, changed_at: datetime) -> list[AdverseEvent]:
    """Judge the patient's events again after a change of their protocol treatment facts (a course or a
    metastasis-directed therapy recorded or corrected; hooked into followup.services, SafetyConfig.ready).
    Runs inside the follow-up write's transaction: both are saved, or neither.

    The facts that moved are the first course start and the last protocol treatment day (the a/b/c phase of
    R1-R3) and, for arm B, the local therapies the expected-event list reads (R3 against R4):
    - an event that becomes reportable starts its clock at ``changed_at``, when the change was recorded (the
      site's awareness of the fact that made it reportable; SAFETY.md "Deadlines", issue 18);
    - an event that stays reportable keeps its clock (a correction gives no extra time), its rule may move;
    - an event that stops being reportable leaves the open deadlines; its signed reports, sent alerts and
      earlier decisions stay (history rows; ``rejudged_from`` keeps the rule it had), and further reports
      can still be signed to tell the study office;
    - an event whose decision does not change is not written.
    Every changed event gets ``rejudged_at`` / ``rejudged_from`` and a history row with the change's reason.
    """
    pk = patient.pk if isinstance(patient, Patient) else patient
    locked = Patient.objects.select_for_update(of=("self",)).get(pk=pk)  # patient first, as every safety write
    events = list(AdverseEvent.objects.select_for_update(of=("self",)).filter(patient=locked)
                  .select_related("death").order_by("pk"))
    primary = PrimaryRegistration.objects.filter(patient=locked).first()
    if not events or primary is None:
        return []
    treatment = _treatment(locked.pk)
    terms = expected_terms(locked, primary)
    changed = []
    for event in events:
        before = {name: getattr(event, name) for name in JUDGED_FIELDS}
        if not event.death_id:
            event.expected = event.term.casefold() in terms  # arm B's local therapy may make it expected
        _judge(event, primary, change_awareness=changed_at, user=user, treatment=treatment)
        if all(getattr(event, name) == value for name, value in before.items()):
            continue
        event.rejudged_at = changed_at
        event.rejudged_from = before["rule"]
        auditing.save(event, user=user, reason=f"Re-judged {before['rule']} to {event.rule} after: {reason}")
        if event.reportable:
            _after_commit(event)  # a clock that starts now may already be near its deadline (short settings)
        changed.append(event)
    return changed


# --- expedited reports -------------------------------------------------------------------------------


def may_sign(user, site_id) -> bool:
    return access.can(user, Action.SIGN_REPORT, site_id)


def _sign_report(*, user, patient, event_id, report_kind, narrative, password) -> ExpeditedReport:
    kind = report_kind
    with transaction.atomic():
        locked, _primary = _lock(patient)
        event = AdverseEvent.objects.select_for_update().get(pk=event_id, patient=locked)
        if not may_sign(user, locked.site_id):
            raise NotAllowed(_("Expedited reports are signed by the site investigator."), code="not_investigator")
        if kind not in ReportKind.values:
            raise InvalidEntry(_("Choose the report."), code="missing_fields")
        narrative = _text(narrative, _("Narrative"), required=True)
        kinds = set(event.reports.values_list("kind", flat=True))
        if not event.reportable and ReportKind.FIRST not in kinds:
            raise OutOfOrder(_("This event is not reportable at once (%(rule)s): it is collected on the routine "
                               "forms.") % {"rule": event.rule}, code="not_reportable")
        if kind != ReportKind.FOLLOWUP and kind in kinds:
            raise OutOfOrder(_("The %(report)s is already signed.") % {"report": ReportKind(kind).label},
                             code="already_signed")
        if kind != ReportKind.FIRST and ReportKind.FIRST not in kinds:
            raise OutOfOrder(_("Sign the first report first."), code="first_report_missing")
        number = event.reports.count() + 1
        signature = signatures.sign(user=user, password=password, kind=SIGNATURE_KIND, meaning=REPORT_MEANING[kind],
                                    subject=f"{locked.screening_number} AE {event.pk} report {number}")
        due = {ReportKind.FIRST: event.first_report_due, ReportKind.SECOND: event.second_report_due}.get(kind)
        report = ExpeditedReport(adverse_event=event, kind=kind, number=number, narrative=narrative,
                                 signature=signature, signed_at=signature.signed_at, due_at=due)
        auditing.save(report, user=user, reason=f"{ReportKind(kind).label} signed")
        return report


def sign_report(*, event: AdverseEvent, kind: str, narrative: str, user, password: str,
                request=None) -> ExpeditedReport:
    """The site investigator signs a report (re-entered password). A wrong password saves nothing and is
    counted like a failed login (oligami_site.signatures)."""
    return signatures.counting_failures(_sign_report, kind=SIGNATURE_KIND, user=user, patient=event.patient_id,
                                        request=request, event_id=event.pk, report_kind=kind, narrative=narrative,
                                        password=password)


@transaction.atomic
def acknowledge_report(*, report: ExpeditedReport, comment: str, user) -> ExpeditedReport:
    """The study office (a data manager, for now) acknowledges a signed report with a comment, once."""
    if not access.is_data_manager(user):
        raise NotAllowed(_("Reports are acknowledged by the study office (data managers)."), code="not_data_manager")
    report = ExpeditedReport.objects.select_for_update().get(pk=report.pk)
    if report.acknowledged_at is not None:
        raise OutOfOrder(_("This report is already acknowledged."), code="already_acknowledged")
    report.acknowledgement = _text(comment, _("Comment"), required=True)
    report.acknowledged_at = timezone.now()
    report.acknowledged_by = user
    auditing.save(report, user=user, reason="Report acknowledged by the study office")
    return report
