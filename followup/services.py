"""Every write of the follow-up app (protocol/FOLLOWUP.md): keyword-only functions, one transaction each,
the audit user and reason on every history row.

Locking: the patient row first (select_for_update, as in registration/services.py), so two entries for
one patient are serialized and each sees the other's result (a death recorded at the same time as an
assessment after it: the second is refused). The survey services lock nothing trial-wide.

What is refused, and why (nothing is saved when a service raises):
- a date in the future (the trial's local date, Asia/Tokyo);
- follow-up records (assessments, death, last date known alive, MDT, contamination, withdrawal) before
  randomization, or dated before the randomization date (F4 would ignore them; a death before it is F5's
  `death_before_origin`: never stored);
- anything that F5 would call a contradiction: an assessment or a last date known alive after a recorded
  death, a death before a recorded assessment or date known alive;
- after a withdrawal, what its kind stops: `treatment` no new protocol treatment after its date;
  `visits` no study visit after its date (assessments from medical records continue, and say so);
  `all_data` nothing dated after its date (F3);
- a second death or a second withdrawal; MDT outside arm B, contamination outside arm A.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oligami_site import auditing
from randomization.models import Allocation, Arm
from registration.models import PrimaryRegistration, TherapyPlan
from screening.models import Lesion, Patient

from .exceptions import AlreadyRecorded, InvalidEntry, OutOfOrder
from .models import (
    PROGRESSION_SITE_CHOICES,
    RADIOTHERAPY,
    Assessment,
    Contamination,
    Death,
    FollowupSettings,
    FollowupSurvey,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    Modality,
    ScheduleRule,
    SurveyEntry,
    SystemicCourse,
    Withdrawal,
)

REASON_MAX_LENGTH = auditing.REASON_MAX_LENGTH  # the core kit's, written once (issue 14)
TEXT_MAX_LENGTH = 2000


def _save(obj, user, reason, **kwargs):
    """Save with the audit user and reason on the simple-history row."""
    auditing.save(obj, user=user, reason=str(reason)[:REASON_MAX_LENGTH], **kwargs)


def _today() -> date:
    return timezone.localdate()  # trial-local (Asia/Tokyo) date


def _d(value: date) -> str:
    return value.isoformat()


def _text(value, label, *, required=False) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if value is None:
        raise InvalidEntry(_("%(field)s must be text.") % {"field": label}, code="wrong_type")
    if required and not value:
        raise InvalidEntry(_("%(field)s is required.") % {"field": label}, code="missing_fields")
    if len(value) > TEXT_MAX_LENGTH:
        raise InvalidEntry(_("%(field)s is too long (at most %(max)s characters).")
                           % {"field": label, "max": TEXT_MAX_LENGTH}, code="too_long")
    return value


def _reason(reason) -> str:
    reason = (reason or "").strip() if isinstance(reason, str) or reason is None else ""
    if not reason:
        raise InvalidEntry(_("Give the reason for the change."), code="reason_required")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidEntry(_("The reason is too long (at most %(max)s characters).") % {"max": REASON_MAX_LENGTH},
                           code="reason_too_long")
    return reason


def _date(value, label, *, required=True) -> date | None:
    if value is None or value == "":
        if required:
            raise InvalidEntry(_("%(field)s is required.") % {"field": label}, code="missing_fields")
        return None
    if not isinstance(value, date):
        raise InvalidEntry(_("%(field)s must be a date.") % {"field": label}, code="wrong_type")
    today = _today()
    if value > today:
        raise InvalidEntry(_("%(field)s %(date)s is in the future (today is %(today)s).")
                           % {"field": label, "date": _d(value), "today": _d(today)}, code="future_date")
    return value


def _bool(value, label) -> bool:
    if not isinstance(value, bool):
        raise InvalidEntry(_("%(field)s: answer yes or no.") % {"field": label}, code="missing_fields")
    return value


# --- hooks of the apps above (docs/architecture.md: follow-up cannot import them) ---------------------

_after_treatment_change: list[Callable] = []


def register_after_treatment_change(hook: Callable) -> None:
    """``hook(*, patient, user, reason, changed_at)`` runs inside the transaction of every write that can move
    the patient's protocol treatment facts (selectors.treatment_facts: first course start, last protocol
    treatment day, ongoing): a course or a metastasis-directed therapy recorded or corrected. ``changed_at``
    is when the change was recorded. A hook that raises a DomainError refuses the whole write (nothing
    saved). Safety registers its re-judging of the patient's events here (SafetyConfig.ready)."""
    if hook not in _after_treatment_change:
        _after_treatment_change.append(hook)


def _treatment_changed(state: PatientState, *, user, reason) -> None:
    changed_at = timezone.now()
    for hook in _after_treatment_change:
        hook(patient=state.patient, user=user, reason=str(reason), changed_at=changed_at)


# --- the patient's state ----------------------------------------------------------------------------


@dataclass
class PatientState:
    patient: Patient
    primary: PrimaryRegistration | None
    origin: date | None  # the randomization date (day of secondary registration), None before it
    arm: str | None
    death: Death | None
    withdrawal: Withdrawal | None


def _lock(patient) -> PatientState:
    pk = patient.pk if isinstance(patient, Patient) else patient
    # of=("self",): the patient row only (see registration/services.py).
    locked = Patient.objects.select_for_update(of=("self",)).select_related("site").get(pk=pk)
    primary = PrimaryRegistration.objects.select_related("plan", "secondary").filter(patient=locked).first()
    secondary = getattr(primary, "secondary", None) if primary is not None else None
    arm = None
    if locked.stage == Patient.Stage.RANDOMIZED:
        arm = Allocation.objects.filter(patient=locked).values_list("arm", flat=True).first()
    return PatientState(
        patient=locked, primary=primary,
        origin=secondary.registration_date if secondary is not None and arm else None, arm=arm,
        death=Death.objects.filter(patient=locked).first(),
        withdrawal=Withdrawal.objects.filter(patient=locked).first())


def _require_randomized(state: PatientState, what) -> date:
    if state.origin is None:
        raise OutOfOrder(_("%(patient)s is not randomized: %(what)s is recorded after randomization.")
                         % {"patient": state.patient.screening_number, "what": what}, code="not_randomized")
    return state.origin


def _not_before_origin(state: PatientState, when: date, label) -> None:
    if when < state.origin:
        raise InvalidEntry(_("%(field)s %(date)s is before the randomization date %(origin)s.")
                           % {"field": label, "date": _d(when), "origin": _d(state.origin)}, code="before_origin")


def _alive_on(state: PatientState, when: date, label) -> None:
    """F5: nothing that says the patient was alive strictly after the recorded death."""
    if state.death is not None and when > state.death.date:
        raise InvalidEntry(_("%(field)s %(date)s is after the recorded death on %(death)s.")
                           % {"field": label, "date": _d(when), "death": _d(state.death.date)},
                           code="after_death")


def _withdrawal_allows(state: PatientState, when: date, label, *, treatment=False, visit=False) -> None:
    w = state.withdrawal
    if w is None or when <= w.date:
        return
    params = {"field": label, "date": _d(when), "withdrawal": _d(w.date)}
    if w.kind == Withdrawal.Kind.ALL_DATA:  # F3: nothing after the date may be used, so none is recorded
        raise InvalidEntry(_("%(field)s %(date)s is after the withdrawal of consent to any further data use on "
                             "%(withdrawal)s.") % params, code="after_withdrawal")
    if treatment:
        raise InvalidEntry(_("%(field)s %(date)s is after the withdrawal from protocol treatment on "
                             "%(withdrawal)s.") % params, code="after_withdrawal")
    if visit and w.kind == Withdrawal.Kind.VISITS:
        raise InvalidEntry(_("%(field)s %(date)s is after the withdrawal from study visits on %(withdrawal)s: "
                             "record it from the medical records.") % params, code="after_withdrawal")


def _latest_alive_fact(patient) -> date | None:
    dates = [d for d in (Assessment.objects.filter(patient=patient).order_by("-date").values_list("date", flat=True)
                         .first(),
                         LastKnownAlive.objects.filter(patient=patient).order_by("-date")
                         .values_list("date", flat=True).first()) if d is not None]
    return max(dates, default=None)


# --- systemic therapy courses ------------------------------------------------------------------------

COURSE_STAGES = (Patient.Stage.REGISTERED, Patient.Stage.RANDOMIZED)


def _plans_of(primary: PrimaryRegistration):
    """The regimens the patient may be given: the plan versions of their subtype in force at registration."""
    return TherapyPlan.objects.filter(subtype=primary.subtype, effective_from__lte=primary.registration_date)


def course_plans(patient):
    """The regimens a course of the patient may follow (a queryset; empty before primary registration)."""
    primary = PrimaryRegistration.objects.filter(patient=patient).first()
    return _plans_of(primary).order_by("-version") if primary else TherapyPlan.objects.none()


def _course_values(state: PatientState, data: Mapping, *, course: SystemicCourse | None):
    primary = state.primary
    plan = data.get("plan") or (course.plan if course else primary.plan)
    plan_id = plan.pk if isinstance(plan, TherapyPlan) else plan
    if not _plans_of(primary).filter(pk=plan_id).exists():
        raise InvalidEntry(_("The regimen is not a therapy plan of this patient's subtype."), code="wrong_plan")
    start = _date(data.get("start_date"), _("Start date"))
    end = _date(data.get("end_date"), _("End date"), required=False)
    if start < primary.registration_date:
        raise InvalidEntry(_("The course starts on %(date)s, before the primary registration on %(primary)s.")
                           % {"date": _d(start), "primary": _d(primary.registration_date)}, code="before_registration")
    if end is not None and end < start:
        raise InvalidEntry(_("The end date %(end)s is before the start date %(start)s.")
                           % {"end": _d(end), "start": _d(start)}, code="end_before_start")
    for when, label in ((start, _("Start date")), (end, _("End date"))):
        if when is not None:
            _alive_on(state, when, label)
            _withdrawal_allows(state, when, label, treatment=True)
    stopped_early = _bool(data.get("stopped_early"), _("Stopped early"))
    reason = _text(data.get("stopped_early_reason"), _("Reason stopped early"), required=stopped_early)
    if stopped_early and end is None:
        raise InvalidEntry(_("A course stopped early needs its end date."), code="missing_fields")
    return {"plan_id": plan_id, "start_date": start, "end_date": end,
            "dose_modified": _bool(data.get("dose_modified"), _("Dose modified")),
            "stopped_early": stopped_early, "stopped_early_reason": reason if stopped_early else ""}


def _course_stage(state: PatientState):
    if state.patient.stage not in COURSE_STAGES or state.primary is None:
        raise OutOfOrder(_("%(patient)s is not on protocol treatment (stage: %(stage)s): courses are recorded from "
                           "primary registration on.") % {"patient": state.patient.screening_number,
                                                          "stage": state.patient.get_stage_display()},
                         code="stage")


@transaction.atomic
def record_course(*, patient, data: Mapping, user) -> SystemicCourse:
    """A new systemic therapy course (numbered in start order). One course at a time: the previous one
    must have ended, and the new one starts on or after that end."""
    state = _lock(patient)
    _course_stage(state)
    values = _course_values(state, data, course=None)
    previous = SystemicCourse.objects.filter(patient=state.patient).order_by("-number").first()
    if previous is not None:
        if previous.end_date is None:
            raise InvalidEntry(_("Course %(number)s is still ongoing: record its end date first.")
                               % {"number": previous.number}, code="course_ongoing")
        if values["start_date"] < previous.end_date:
            raise InvalidEntry(_("The course starts on %(date)s, before course %(number)s ended on %(end)s.")
                               % {"date": _d(values["start_date"]), "number": previous.number,
                                  "end": _d(previous.end_date)}, code="overlap")
    course = SystemicCourse(patient=state.patient, number=(previous.number + 1) if previous else 1, **values)
    _save(course, user, f"Course {course.number} recorded")
    _treatment_changed(state, user=user, reason=f"Course {course.number} recorded")
    return course


@transaction.atomic
def update_course(*, course: SystemicCourse, data: Mapping, user, reason) -> SystemicCourse:
    """End an ongoing course or correct one, with the reason for the change."""
    reason = _reason(reason)
    state = _lock(course.patient_id)
    _course_stage(state)
    course = SystemicCourse.objects.get(pk=course.pk, patient=state.patient)
    values = _course_values(state, data, course=course)
    later = SystemicCourse.objects.filter(patient=state.patient, number__gt=course.number).order_by("number").first()
    if later is not None and (values["end_date"] is None or values["end_date"] > later.start_date):
        raise InvalidEntry(_("Course %(number)s starts on %(date)s: this course must end by then.")
                           % {"number": later.number, "date": _d(later.start_date)}, code="overlap")
    earlier = SystemicCourse.objects.filter(patient=state.patient, number__lt=course.number).order_by("-number").first()
    if earlier is not None and earlier.end_date and values["start_date"] < earlier.end_date:
        raise InvalidEntry(_("The course starts on %(date)s, before course %(number)s ended on %(end)s.")
                           % {"date": _d(values["start_date"]), "number": earlier.number,
                              "end": _d(earlier.end_date)}, code="overlap")
    for name, value in values.items():
        setattr(course, name, value)
    _save(course, user, reason)
    _treatment_changed(state, user=user, reason=f"Course {course.number} corrected: {reason}")
    return course


# --- metastasis-directed therapy (arm B) and contamination (arm A) ------------------------------------


def remaining_lesions(patient):
    """The oligometastases of the screening the patient was registered on (the MDT targets; a queryset)."""
    primary = PrimaryRegistration.objects.filter(patient=patient).first()
    if primary is None:
        return Lesion.objects.none()
    return Lesion.objects.filter(screening_id=primary.screening_id).order_by("position", "id")


def _mdt_values(state: PatientState, data: Mapping) -> dict:
    lesion = data.get("lesion")
    lesion_id = lesion.pk if isinstance(lesion, Lesion) else lesion
    if not Lesion.objects.filter(pk=lesion_id, screening_id=state.primary.screening_id).exists():
        raise InvalidEntry(_("Choose one of the patient's registered lesions."), code="wrong_lesion")
    modality = data.get("modality")
    if modality not in Modality.values:
        raise InvalidEntry(_("Choose the modality."), code="missing_fields")
    start = _date(data.get("start_date"), _("Start date"))
    end = _date(data.get("end_date"), _("End date"), required=False)
    _not_before_origin(state, start, _("Start date"))
    if end is not None and end < start:
        raise InvalidEntry(_("The end date %(end)s is before the start date %(start)s.")
                           % {"end": _d(end), "start": _d(start)}, code="end_before_start")
    for when, label in ((start, _("Start date")), (end, _("End date"))):
        if when is not None:
            _alive_on(state, when, label)
            _withdrawal_allows(state, when, label, treatment=True)
    dose, fractions = data.get("dose_gy"), data.get("fractions")
    if modality in RADIOTHERAPY:
        try:
            dose = Decimal(str(dose)) if dose not in (None, "") else None
        except InvalidOperation:
            dose = Decimal(-1)
        if dose is None or fractions in (None, ""):
            raise InvalidEntry(_("Radiotherapy needs the total dose and the number of fractions."),
                               code="missing_fields")
        if not (Decimal(0) < dose <= Decimal(200)):
            raise InvalidEntry(_("The total dose must be more than 0 and at most 200 Gy."), code="out_of_range")
        if isinstance(fractions, bool) or not isinstance(fractions, int) or not 1 <= fractions <= 60:
            raise InvalidEntry(_("The number of fractions must be a whole number from 1 to 60."),
                               code="out_of_range")
    elif dose not in (None, "") or fractions not in (None, ""):
        raise InvalidEntry(_("Dose and fractions are recorded for radiotherapy only."), code="not_radiotherapy")
    else:
        dose = fractions = None
    completed = data.get("completed_as_planned")
    if end is None:
        if completed is not None:
            raise InvalidEntry(_("Whether it was completed as planned is recorded with the end date."),
                               code="missing_fields")
    else:
        completed = _bool(completed, _("Completed as planned"))
    reason = _text(data.get("reason"), _("Reason not completed as planned"), required=completed is False)
    return {"lesion_id": lesion_id, "modality": modality, "start_date": start, "end_date": end, "dose_gy": dose,
            "fractions": fractions, "completed_as_planned": completed, "reason": reason if completed is False else ""}


def _require_arm(state: PatientState, arm: str, what):
    _require_randomized(state, what)
    if state.arm != arm:
        if arm == Arm.B:
            raise OutOfOrder(_("Metastasis-directed therapy under the protocol is given in arm B only; in arm A "
                               "record local therapy as contamination."), code="wrong_arm")
        raise OutOfOrder(_("Contamination is recorded in arm A only (in arm B, record metastasis-directed "
                           "therapy)."), code="wrong_arm")


@transaction.atomic
def record_mdt(*, patient, data: Mapping, user) -> MetastasisDirectedTherapy:
    state = _lock(patient)
    _require_arm(state, Arm.B, _("metastasis-directed therapy"))
    mdt = MetastasisDirectedTherapy(patient=state.patient, **_mdt_values(state, data))
    _save(mdt, user, "Metastasis-directed therapy recorded")
    _treatment_changed(state, user=user, reason="Metastasis-directed therapy recorded")
    return mdt


@transaction.atomic
def update_mdt(*, mdt: MetastasisDirectedTherapy, data: Mapping, user, reason) -> MetastasisDirectedTherapy:
    reason = _reason(reason)
    state = _lock(mdt.patient_id)
    _require_arm(state, Arm.B, _("metastasis-directed therapy"))
    mdt = MetastasisDirectedTherapy.objects.get(pk=mdt.pk, patient=state.patient)
    for name, value in _mdt_values(state, data).items():
        setattr(mdt, name, value)
    _save(mdt, user, reason)
    _treatment_changed(state, user=user, reason=f"Metastasis-directed therapy corrected: {reason}")
    return mdt


@transaction.atomic
def record_contamination(*, patient, data: Mapping, user) -> Contamination:
    state = _lock(patient)
    _require_arm(state, Arm.A, _("contamination"))
    when = _date(data.get("date"), _("Date"))
    _not_before_origin(state, when, _("Date"))
    _alive_on(state, when, _("Date"))
    _withdrawal_allows(state, when, _("Date"))
    modality = data.get("modality")
    if modality not in Modality.values:
        raise InvalidEntry(_("Choose the modality."), code="missing_fields")
    contamination = Contamination(patient=state.patient, date=when, modality=modality,
                                  reason=_text(data.get("reason"), _("Reason"), required=True))
    _save(contamination, user, "Contamination recorded")
    return contamination


# --- assessments, death, last date known alive ---------------------------------------------------------


@transaction.atomic
def record_assessment(*, patient, data: Mapping, user) -> Assessment:
    """A follow-up assessment: alive on its date, progression by imaging yes/no (and where)."""
    state = _lock(patient)
    _require_randomized(state, _("an assessment"))
    when = _date(data.get("date"), _("Assessment date"))
    _not_before_origin(state, when, _("Assessment date"))
    _alive_on(state, when, _("Assessment date"))
    _withdrawal_allows(state, when, _("Assessment date"), visit=bool(data.get("study_visit", True)))
    progression = _bool(data.get("progression"), _("Progression"))
    sites = list(data.get("progression_sites") or [])
    known = {code for code, _label in PROGRESSION_SITE_CHOICES}
    if any(site not in known for site in sites):
        raise InvalidEntry(_("Unknown site of progression."), code="wrong_choice")
    if progression and not sites:
        raise InvalidEntry(_("Say where the progression was seen."), code="missing_fields")
    if not progression and sites:
        raise InvalidEntry(_("Sites of progression are recorded only with a progression."), code="contradiction")
    assessment = Assessment(patient=state.patient, date=when, progression=progression,
                            progression_sites=sorted(set(sites)), notes=_text(data.get("notes"), _("Notes")))
    _save(assessment, user, "Assessment recorded")
    _freeze_schedule(user)
    return assessment


@transaction.atomic
def record_death(*, patient, data: Mapping, user) -> Death:
    """The death, once. Refused before randomization (F5 `death_before_origin`) and before a recorded
    assessment or date known alive (F5 `alive_after_death`)."""
    state = _lock(patient)
    _require_randomized(state, _("a death"))
    if state.death is not None:
        raise AlreadyRecorded(_("The death of %(patient)s is already recorded (%(date)s).")
                              % {"patient": state.patient.screening_number, "date": _d(state.death.date)},
                              code="already_recorded")
    when = _date(data.get("date"), _("Date of death"))
    _not_before_origin(state, when, _("Date of death"))
    _withdrawal_allows(state, when, _("Date of death"))
    latest = _latest_alive_fact(state.patient)
    if latest is not None and when < latest:
        raise InvalidEntry(_("The date of death %(date)s is before the patient was last known alive (%(alive)s).")
                           % {"date": _d(when), "alive": _d(latest)}, code="alive_after_death")
    cause = data.get("cause")
    if cause not in Death.Cause.values:
        raise InvalidEntry(_("Choose the cause of death."), code="missing_fields")
    death = Death(patient=state.patient, date=when, cause=cause, details=_text(data.get("details"), _("Details")))
    _save(death, user, "Death recorded")
    return death


@transaction.atomic
def record_last_known_alive(*, patient, data: Mapping, user, survey=None) -> LastKnownAlive:
    state = _lock(patient)
    _require_randomized(state, _("a last date known alive"))
    when = _date(data.get("date"), _("Last date known alive"))
    _not_before_origin(state, when, _("Last date known alive"))
    _alive_on(state, when, _("Last date known alive"))
    _withdrawal_allows(state, when, _("Last date known alive"))
    alive = LastKnownAlive(patient=state.patient, date=when, survey=survey,
                           source=_text(data.get("source"), _("Source"))[:200])
    _save(alive, user, "Last date known alive recorded")
    return alive


# --- withdrawal -------------------------------------------------------------------------------------


@transaction.atomic
def record_withdrawal(*, patient, data: Mapping, user) -> Withdrawal:
    """The withdrawal, once, of one of three kinds (FOLLOWUP.md). Its consequences are applied by the
    other services (`_withdrawal_allows`) and, for `all_data`, by the endpoints (F3)."""
    state = _lock(patient)
    _require_randomized(state, _("a withdrawal"))
    if state.withdrawal is not None:
        raise AlreadyRecorded(_("A withdrawal of %(patient)s is already recorded (%(date)s).")
                              % {"patient": state.patient.screening_number, "date": _d(state.withdrawal.date)},
                              code="already_recorded")
    kind = data.get("kind")
    if kind not in Withdrawal.Kind.values:
        raise InvalidEntry(_("Choose the kind of withdrawal."), code="missing_fields")
    when = _date(data.get("date"), _("Withdrawal date"))
    _not_before_origin(state, when, _("Withdrawal date"))
    _alive_on(state, when, _("Withdrawal date"))
    # Facts already recorded after an `all_data` withdrawal stay stored; F3 sets them aside for the
    # endpoints, and the services refuse new ones.
    withdrawal = Withdrawal(patient=state.patient, date=when, kind=kind,
                            details=_text(data.get("details"), _("Details")))
    _save(withdrawal, user, f"Withdrawal ({kind})")
    return withdrawal


# --- the schedule of assessments (trial configuration) -------------------------------------------------


def schedule_frozen() -> bool:
    return ScheduleRule.objects.filter(frozen_at__isnull=False).exists()


@transaction.atomic
def save_schedule_rule(*, rule: ScheduleRule, user, reason) -> ScheduleRule:
    """Add or change a period of the schedule; refused once frozen (the first assessment recorded)."""
    if schedule_frozen():
        raise InvalidEntry(_("The schedule of assessments is frozen: patients' assessments already depend on it."),
                           code="frozen")
    _save(rule, user, reason or "Schedule of assessments")
    return rule


def _freeze_schedule(user) -> None:
    """The first assessment freezes the schedule it was due under (DESIGN.md: trial settings freeze once a
    patient depends on them). Row by row through save(), so each freeze has its audit row."""
    now = timezone.now()
    for rule in ScheduleRule.objects.select_for_update().filter(frozen_at__isnull=True):
        rule.frozen_at = now
        _save(rule, user, "Frozen: first assessment recorded", update_fields=["frozen_at"])


# --- follow-up surveys ---------------------------------------------------------------------------------


@transaction.atomic
def open_survey(*, cutoff_date, user) -> FollowupSurvey:
    """A data manager opens a survey with a cut-off date (not in the future); one survey open at a time."""
    cutoff = _date(cutoff_date, _("Cut-off date"))
    # Lock the open surveys (if any) so that two openings at once cannot both pass the check.
    if FollowupSurvey.objects.select_for_update().filter(closed_at__isnull=True).exists():
        raise InvalidEntry(_("A follow-up survey is already open: close it first."), code="survey_open")
    latest = FollowupSurvey.objects.order_by("-cutoff_date").values_list("cutoff_date", flat=True).first()
    if latest is not None and cutoff <= latest:
        raise InvalidEntry(_("The cut-off date must be after the last survey's (%(date)s).") % {"date": _d(latest)},
                           code="cutoff_order")
    survey = FollowupSurvey(cutoff_date=cutoff, opened_at=timezone.now(), opened_by=user)
    _save(survey, user, f"Survey opened, cut-off {cutoff.isoformat()}")
    return survey


@transaction.atomic
def close_survey(*, survey: FollowupSurvey, user) -> FollowupSurvey:
    survey = FollowupSurvey.objects.select_for_update().get(pk=survey.pk)
    if survey.closed_at is not None:
        raise InvalidEntry(_("The survey is already closed."), code="survey_closed")
    survey.closed_at = timezone.now()
    _save(survey, user, "Survey closed", update_fields=["closed_at"])
    return survey


@transaction.atomic
def confirm_survey_entry(*, survey: FollowupSurvey, patient, data: Mapping, user, reason=None) -> SurveyEntry:
    """The site's status of a randomized patient as of the survey's cut-off: alive with the last date known
    alive (recorded as such), or dead with the date (the death recorded, unless it already is). A second
    confirmation corrects the first and needs a reason."""
    state = _lock(patient)
    _require_randomized(state, _("a survey entry"))
    survey = FollowupSurvey.objects.get(pk=survey.pk)
    if not survey.is_open:
        raise InvalidEntry(_("The survey is closed."), code="survey_closed")
    existing = SurveyEntry.objects.filter(survey=survey, patient=state.patient).first()
    change_reason = _reason(reason) if existing is not None else None
    status = data.get("status")
    if status not in SurveyEntry.Status.values:
        raise InvalidEntry(_("Choose alive or dead as of the cut-off."), code="missing_fields")
    progression = data.get("progression_since_last")
    if progression is not None and not isinstance(progression, bool):
        raise InvalidEntry(_("Progression since the last survey: answer yes or no."), code="wrong_type")
    alive_date = None
    if status == SurveyEntry.Status.ALIVE:
        if state.death is not None:
            raise InvalidEntry(_("A death is recorded on %(date)s: the patient cannot be alive.")
                               % {"date": _d(state.death.date)}, code="after_death")
        alive_date = _date(data.get("last_known_alive"), _("Last date known alive"))
        _not_before_origin(state, alive_date, _("Last date known alive"))
        _withdrawal_allows(state, alive_date, _("Last date known alive"))
        if existing is None or existing.last_known_alive != alive_date:
            alive = LastKnownAlive(patient=state.patient, date=alive_date, survey=survey,
                                   source=f"survey {_d(survey.cutoff_date)}")
            _save(alive, user, "Last date known alive (survey)")
    else:
        death_date = _date(data.get("death_date"), _("Date of death"))
        if state.death is None:
            _not_before_origin(state, death_date, _("Date of death"))
            _withdrawal_allows(state, death_date, _("Date of death"))
            latest = _latest_alive_fact(state.patient)
            if latest is not None and death_date < latest:
                raise InvalidEntry(_("The date of death %(date)s is before the patient was last known alive "
                                     "(%(alive)s).") % {"date": _d(death_date), "alive": _d(latest)},
                                   code="alive_after_death")
            cause = data.get("cause") or Death.Cause.UNKNOWN
            if cause not in Death.Cause.values:
                raise InvalidEntry(_("Choose the cause of death."), code="missing_fields")
            _save(Death(patient=state.patient, date=death_date, cause=cause), user, "Death recorded (survey)")
        elif state.death.date != death_date:
            raise InvalidEntry(_("A death is already recorded on %(date)s.") % {"date": _d(state.death.date)},
                               code="death_differs")
    entry = existing or SurveyEntry(survey=survey, patient=state.patient)
    entry.status = status
    entry.last_known_alive = alive_date
    entry.progression_since_last = progression
    entry.confirmed_at = timezone.now()
    entry.confirmed_by = user
    _save(entry, user, change_reason or "Survey entry confirmed")
    return entry


@transaction.atomic
def confirm_lost_to_follow_up(*, patient, user, survey=None, details="") -> LostToFollowUp:
    """The data manager confirms that a randomized patient is lost to follow-up (once)."""
    state = _lock(patient)
    _require_randomized(state, _("lost to follow-up"))
    if LostToFollowUp.objects.filter(patient=state.patient).exists():
        raise AlreadyRecorded(_("%(patient)s is already confirmed lost to follow-up.")
                              % {"patient": state.patient.screening_number}, code="already_recorded")
    if state.death is not None:
        raise InvalidEntry(_("A death is recorded: the patient is not lost to follow-up."), code="dead")
    lost = LostToFollowUp(patient=state.patient, survey=survey, confirmed_at=timezone.now(), confirmed_by=user,
                          details=_text(details, _("Details")))
    _save(lost, user, "Lost to follow-up confirmed")
    return lost


@transaction.atomic
def save_followup_settings(*, status_unknown_days: int, user, reason, mdt_start_days: int | None = None
                           ) -> FollowupSettings:
    """The one row of follow-up settings (trial configuration), created or changed with a reason."""
    if isinstance(status_unknown_days, bool) or not isinstance(status_unknown_days, int) or \
            not 1 <= status_unknown_days <= 1000:
        raise InvalidEntry(_("The number of days must be a whole number from 1 to 1000."), code="out_of_range")
    if mdt_start_days is not None and (isinstance(mdt_start_days, bool) or not isinstance(mdt_start_days, int)
                                       or not 1 <= mdt_start_days <= 365):
        raise InvalidEntry(_("The days within which MDT starts must be a whole number from 1 to 365, or empty."),
                           code="out_of_range")
    settings = FollowupSettings.objects.select_for_update().first() or FollowupSettings()
    settings.status_unknown_days = status_unknown_days
    settings.mdt_start_days = mdt_start_days
    _save(settings, user, reason or "Follow-up settings")
    return settings
