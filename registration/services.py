"""Every write of the registration app: keyword-only functions, one transaction each.

Rules: protocol/ELIGIBILITY.md (P-criteria re-run at primary registration, S1-S8, "Dates and day
counts"); the engine is screening/eligibility.py and the windows registration/windows.py.

Locking (fixed order everywhere in this module, so two services can never deadlock each other):
0. register_secondary only: the active randomization configuration row first, because the same
   transaction ends in randomize(), whose order is configuration -> patient;
1. the patient row (select_for_update): serializes every step of one patient, so a double or concurrent
   submit sees the first one's result and is refused with a clear message;
2. the registration counter row, last and only in register_primary: it serializes all primary
   registrations trial-wide, so it is held only for the few inserts before commit.
On SQLite select_for_update is a no-op, but the settings open IMMEDIATE transactions, which take the
database write lock at BEGIN and serialize writers just the same.

Signatures (the core's oligami_site.signatures): the signer re-enters their password. A wrong password
saves nothing of the registration, and is counted like a failed login after the refused transaction has
rolled back (`signatures.counting_failures`); too many recent failures refuse signing for a while.
"""

from collections.abc import Mapping
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from oligami_site import access, auditing, numbering, signatures, sites
from oligami_site.site_status import SiteAction
from randomization.exceptions import RandomizationError
from randomization.services import lock_configuration, randomize, send_pending_alert
from screening import eligibility as rules
from screening import stages, verdicts
from screening.models import LabPanel, Lesion, Patient, Screening
from screening.services import require_step

from . import courses, windows
from .exceptions import (
    AlreadyRegistered,
    InvalidEntry,
    NeedsConfirmation,
    NotAllowed,
    NotEligible,
    NoTherapyPlan,
    OutOfOrder,
)
from .models import (
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
    TherapyPlan,
)

# What registration signs (declared to the core in apps.py): kinds and meanings are stored as these codes
# and shown in the reader's language (oligami_site.signatures.meaning_text).
PRIMARY_KIND = "primary_registration"
SECONDARY_KIND = "secondary_registration"
PRIMARY_MEANING = "primary_registration_confirm"
SECONDARY_MEANING = "secondary_registration_confirm"
SIGNATURE_KINDS = {PRIMARY_KIND: _("Primary registration"), SECONDARY_KIND: _("Secondary registration")}
SIGNATURE_MEANINGS = {
    PRIMARY_MEANING: _("I confirm this patient meets all primary registration criteria"),
    SECONDARY_MEANING: _("I confirm this patient meets all secondary registration criteria"),
}

COUNTER_PRIMARY = "registration.primary"  # the numbering series of the registration number (OLG-0001...)

# No typed "courses given" (issue 16): S1 is derived from the courses recorded (registration.courses), never
# stored on the evaluation, so a course recorded or corrected later can never leave a stale count behind.
EVALUATION_FIELDS = ("date", "overall_response", "progression", "new_distant_metastasis", "remaining_lesions",
                     "mdt_since_primary", "ecog")
LAB_FIELDS = ("date", "anc", "hemoglobin", "platelets", "bilirubin", "ast", "alt", "creatinine")


# --- helpers ----------------------------------------------------------------------------------------




def _d(value: date) -> str:
    """A date as shown in refusals: ISO, the form the protocol and the day counts use."""
    return value.isoformat()


def _today() -> date:
    return timezone.localdate()  # trial-local (Asia/Tokyo) date, whatever the server's clock zone


def _lock_patient(patient) -> Patient:
    pk = patient.pk if isinstance(patient, Patient) else patient
    # of=("self",): lock the patient row only; a plain FOR UPDATE over the join would lock the site row too
    # and needlessly queue every registration of a site behind one another.
    return Patient.objects.select_for_update(of=("self",)).select_related("site").get(pk=pk)


def _registration_date(registration_date: date | None) -> date:
    today = _today()
    registration_date = registration_date or today
    if registration_date > today:
        raise InvalidEntry(_("The registration date %(date)s is in the future (today is %(today)s).")
                           % {"date": _d(registration_date), "today": _d(today)}, code="future_date")
    return registration_date


def criterion_failures(verdict: rules.Verdict) -> list[tuple[str, str]]:
    """(criterion id, reason in the user's language) of every criterion not met or missing."""
    return [(c.id, c.render(gettext)) for c in verdict.criteria if c.status != rules.MET]


# --- therapy plans --------------------------------------------------------------------------------


def plans_in_force(subtype: str, on_date: date) -> list[TherapyPlan]:
    """One plan per regimen of the subtype (issue 16): the newest version of each whose effective date is on
    or before `on_date`, by regimen name."""
    newest: dict[str, TherapyPlan] = {}
    for plan in (TherapyPlan.objects.filter(subtype=subtype, effective_from__lte=on_date)
                 .order_by("name", "-version")):
        newest.setdefault(plan.name, plan)
    return list(newest.values())


def plan_in_force(subtype: str, on_date: date, regimen: str | None = None) -> TherapyPlan | None:
    """The plan in force for the patient: of the regimen named `regimen`, or, when None, of the subtype's one
    regimen (None when it has none, or several: then the regimen must be chosen)."""
    plans = plans_in_force(subtype, on_date)
    if regimen is not None:
        return next((plan for plan in plans if plan.name == regimen), None)
    return plans[0] if len(plans) == 1 else None


@transaction.atomic
def save_therapy_plan(*, subtype: str, regimen: str, planned_courses: int, cycle_length_days: int,
                      effective_from: date, user, reason=None, regimen_ja: str = "", name: str = "") -> TherapyPlan:
    """Save a new version of the therapy plan of one regimen (`name`; empty for a subtype's one regimen) of a
    subtype. Existing versions are never changed, so a patient registered under an earlier version keeps it;
    versions are numbered per regimen."""
    if subtype not in dict(TherapyPlan._meta.get_field("subtype").choices):
        raise InvalidEntry(_("Unknown subtype %(subtype)s.") % {"subtype": subtype})
    for field, value in (("planned_courses", planned_courses), ("cycle_length_days", cycle_length_days)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidEntry(_("%(field)s must be a positive whole number.") % {"field": field})
    if not (regimen or "").strip():
        raise InvalidEntry(_("Describe the regimen."))
    name = (name or "").strip()
    if len(name) > TherapyPlan._meta.get_field("name").max_length:
        raise InvalidEntry(_("The regimen name is too long."))
    # Lock the regimen's versions so that two saves at once get consecutive numbers (the unique
    # constraint on (subtype, name, version) backs this up when there is no row yet to lock).
    versions = (TherapyPlan.objects.select_for_update().filter(subtype=subtype, name=name)
                .values_list("version", flat=True))
    version = max(versions, default=0) + 1
    plan = TherapyPlan(subtype=subtype, name=name, version=version, regimen=regimen.strip(),
                       regimen_ja=(regimen_ja or "").strip(), planned_courses=planned_courses,
                       cycle_length_days=cycle_length_days, effective_from=effective_from)
    label = f"{subtype} {name}".strip()
    auditing.save(plan, user=user, reason=reason or f"Therapy plan {label} version {version}")
    return plan


# --- primary registration -------------------------------------------------------------------------


def _next_registration_sequence() -> int:
    # Gapless and unique under concurrency: the kit's counter (oligami_site.numbering), whose row is locked
    # until this transaction commits; a rolled-back registration gives its number back.
    highest = PrimaryRegistration.objects.aggregate(highest=Max("sequence"))["highest"] or 0
    return numbering.next_number(COUNTER_PRIMARY, floor=highest)


def registration_number(sequence: int) -> str:
    return f"{PrimaryRegistration.NUMBER_PREFIX}{sequence:04d}"


def _already_primary(patient: Patient) -> AlreadyRegistered:
    existing = PrimaryRegistration.objects.filter(patient=patient).first()
    return AlreadyRegistered(
        _("%(patient)s is already primary registered as %(number)s (registration date %(date)s); "
          "nothing was changed.") % {"patient": patient.screening_number, "number": existing.number,
                                     "date": _d(existing.registration_date)},
        code="already_registered")


def primary_checklist(screening: Screening, on_date: date) -> rules.Verdict:
    """The engine re-run on the stored facts of `screening` as of `on_date` (what registration will judge)."""
    return rules.evaluate(screening.to_primary_facts(on_date))


def register_primary(*, screening: Screening, user, password: str, registration_date: date | None = None,
                     request=None, regimen: str | None = None) -> PrimaryRegistration:
    """Primary registration of the patient of an eligible screening, signed by `user`.

    From the patient's latest screening, outcome eligible, only. The engine runs again on the stored
    facts at the registration date (so labs must still be within 14 days); any criterion not met or
    missing refuses with its ID and reason. Assigns the next registration number (OLG-0001...), stores
    the verdict snapshot, the therapy plan version in force and the signature; stage -> registered.
    `regimen`: the name of the patient's regimen where the subtype allows several (refused without it
    then); a subtype's one regimen needs none. `request` (optional) goes with the failed-login signal of a
    wrong password.
    """
    return signatures.counting_failures(_register_primary, kind=PRIMARY_KIND, user=user,
                                        patient=screening.patient_id, request=request, screening=screening,
                                        password=password, registration_date=registration_date, regimen=regimen)


@transaction.atomic
def _register_primary(*, screening, user, patient, password, registration_date, regimen=None):
    registration_date = _registration_date(registration_date)
    signatures.check_password(user, password)
    patient = _lock_patient(patient)
    if PrimaryRegistration.objects.filter(patient=patient).exists():
        raise _already_primary(patient)
    sites.require(patient.site, SiteAction.PRIMARY_REGISTRATION)  # open sites only (site_status)
    require_step(patient, stages.Step.REGISTER_PRIMARY, out_of_order=OutOfOrder)
    screening = Screening.objects.select_related("labs").get(pk=screening.pk)
    screening.patient = patient
    latest = patient.screenings.order_by("-number").values_list("pk", flat=True).first()
    if screening.pk != latest:
        raise OutOfOrder(_("Screening %(number)s is not the latest screening of %(patient)s; register from the "
                           "latest one.") % {"number": screening.number, "patient": patient.screening_number},
                         code="not_latest_screening")
    if screening.outcome != Screening.Outcome.ELIGIBLE:
        raise OutOfOrder(_("The screening of %(patient)s is not judged eligible (%(outcome)s).")
                         % {"patient": patient.screening_number, "outcome": screening.get_outcome_display()},
                         code="screening_not_eligible")

    verdict = primary_checklist(screening, registration_date)
    if not verdict.eligible:
        failures = criterion_failures(verdict)
        raise NotEligible(
            _("Primary registration refused on %(date)s: %(failures)s")
            % {"date": _d(registration_date), "failures": "; ".join(f"{cid}: {text}" for cid, text in failures)},
            failures=failures)
    plans = plans_in_force(verdict.subtype, registration_date)
    plan = plan_in_force(verdict.subtype, registration_date, regimen or None)
    if plan is None and plans:
        names = ", ".join(p.regimen_label for p in plans)
        message = (_("The %(subtype)s subtype has several regimens in force on %(date)s (%(names)s): choose the "
                     "patient's regimen.") if not regimen else
                   _("No regimen named %(regimen)s of the %(subtype)s subtype is in force on %(date)s (%(names)s)."))
        raise NoTherapyPlan(message % {"subtype": verdict.subtype, "date": _d(registration_date), "names": names,
                                       "regimen": regimen}, code="choose_regimen")
    if plan is None:
        raise NoTherapyPlan(_("No therapy plan for the %(subtype)s subtype is in force on %(date)s; the data "
                              "centre sets it in the admin.") % {"subtype": verdict.subtype,
                                                                 "date": _d(registration_date)})

    sequence = _next_registration_sequence()  # takes the trial-wide lock: keep it last
    number = registration_number(sequence)
    signature = signatures.sign(user=user, kind=PRIMARY_KIND, meaning=PRIMARY_MEANING,
                      subject=f"{number} / {patient.screening_number}")
    registration = PrimaryRegistration(
        patient=patient, screening=screening, sequence=sequence, number=number,
        registration_date=registration_date, verdict=verdicts.snapshot(verdict),
        engine_version=verdict.engine_version, subtype=verdict.subtype, plan=plan, signature=signature)
    try:
        with transaction.atomic():  # the OneToOne on patient backs up the patient lock
            auditing.save(registration, user=user, reason="Primary registration")
    except IntegrityError:
        if PrimaryRegistration.objects.filter(patient=patient).exists():
            raise _already_primary(patient) from None
        raise
    patient.stage = Patient.Stage.REGISTERED
    auditing.save(patient, user=user, reason=f"Primary registration {number}", update_fields=["stage"])
    return registration


# --- response evaluation --------------------------------------------------------------------------


def _require_registered(patient: Patient, step: stages.Step) -> PrimaryRegistration:
    """The patient's primary registration when `step` may follow it now, else the stage machine's refusal."""
    require_step(patient, step, out_of_order=OutOfOrder, already_done=AlreadyRegistered)
    return PrimaryRegistration.objects.select_related("plan").get(patient=patient)


def _values(data: Mapping, fields, what) -> dict:
    missing = [name for name in fields if data.get(name) is None or data.get(name) == ""]
    if missing:
        raise InvalidEntry(_("%(what)s: missing %(fields)s.") % {"what": what, "fields": ", ".join(missing)},
                           code="missing_fields")
    return {name: data[name] for name in fields}


def courses_given(primary: PrimaryRegistration, until: date) -> courses.CoursesGiven:
    """S1's fact: the courses recorded from the primary registration date to `until` (CoursesUnavailable
    when no installed app records courses)."""
    return courses.courses_given(primary.patient_id, since=primary.registration_date, until=until)


def evaluation_warnings(primary: PrimaryRegistration, values: Mapping, given: int) -> list[tuple[str, str]]:
    """[(code, message in the user's language)] of windows.evaluation_warnings for an evaluation about to be
    saved: dated before day 56, or fewer courses recorded by its date than the plan of the primary
    registration (S1): `given`, the count of courses_given(primary, values["date"])."""
    args = (primary.registration_date, values["date"], given, primary.plan.planned_courses)
    params = windows.evaluation_warning_params(*args)
    return [(str(warning), gettext(warning.label) % params) for warning in windows.evaluation_warnings(*args)]


def _secondary_rests_on_evaluation(patient: Patient, what) -> None:
    """Refuse to change an evaluation a secondary registration was judged on (it is signed on those facts)."""
    secondary = SecondaryRegistration.objects.filter(patient=patient).only("registration_date").first()
    if secondary is not None:
        raise AlreadyRegistered(
            _("%(what)s is not possible: %(patient)s is already secondary registered (%(date)s) and that "
              "registration rests on this response evaluation. Raise a data query with the data centre instead.")
            % {"what": what, "patient": patient.screening_number, "date": _d(secondary.registration_date)},
            code="secondary_rests_on_evaluation")


@transaction.atomic
def record_evaluation(*, patient: Patient, data: Mapping, labs: Mapping, user, reason=None,
                      confirmed: bool = False) -> ResponseEvaluation:
    """Record (or, with a reason, correct) the response evaluation of a primary registered patient.

    `data` holds EVALUATION_FIELDS, `labs` the lab panel (LAB_FIELDS; the date is required, values may
    be absent and then S8 is missing). Refused before primary registration, after secondary
    registration and off study. Any field may be corrected, the date to any day from primary
    registration to today, while no secondary registration rests on the evaluation; the patient's status
    follows (it is computed from the record: a patient wrongly shown as "window missed" comes back).
    An evaluation dated before day 56 or with fewer courses than planned is saved only when `confirmed`
    (issue 15: a mistyped evaluation was saved without a word); else NeedsConfirmation with the warnings.
    A voided evaluation is replaced by a new entry (the voided one stays on the audit trail).
    """
    reason = auditing.clean_reason(reason, error=InvalidEntry)
    patient = _lock_patient(patient)
    _secondary_rests_on_evaluation(patient, _("Changing the response evaluation"))
    # The evaluation decides secondary registration: allowed where that is (open, closed to accrual).
    sites.require(patient.site, SiteAction.SECONDARY_REGISTRATION)
    primary = _require_registered(patient, stages.Step.RECORD_EVALUATION)
    values = _values(data, EVALUATION_FIELDS, _("Response evaluation"))
    for name, low, high in (("remaining_lesions", 0, 3), ("ecog", 0, 4)):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidEntry(_("%(field)s must be a whole number from %(low)s to %(high)s.")
                               % {"field": ResponseEvaluation._meta.get_field(name).verbose_name, "low": low,
                                  "high": high}, code="out_of_range")
    if values["overall_response"] not in ResponseEvaluation.Response.values:
        raise InvalidEntry(_("Unknown overall response %(value)s.") % {"value": values["overall_response"]})
    lab_values = {name: labs.get(name) for name in LAB_FIELDS}
    if lab_values["date"] is None:
        raise InvalidEntry(_("Laboratory values: the date drawn is required."), code="missing_fields")
    today = _today()
    if not primary.registration_date <= values["date"] <= today:
        raise InvalidEntry(_("The evaluation date %(date)s must be between the primary registration on %(primary)s "
                             "and today (%(today)s).") % {"date": _d(values["date"]),
                                                          "primary": _d(primary.registration_date),
                                                          "today": _d(today)}, code="date")
    if lab_values["date"] > today:
        raise InvalidEntry(_("The laboratory date %(date)s is in the future.") % {"date": _d(lab_values["date"])},
                           code="date")
    if values["overall_response"] == ResponseEvaluation.Response.PD and not values["progression"]:
        raise InvalidEntry(_("Overall response PD means progression: record progression as yes, or correct the "
                             "response."), code="contradiction")

    # The few-courses warning counts the courses recorded by the evaluation date (never typed: issue 16).
    given = courses_given(primary, values["date"]).count
    evaluation = ResponseEvaluation.objects.select_related("labs").filter(patient=patient).first()
    correcting = evaluation is not None and not evaluation.voided
    if correcting and not reason:
        raise InvalidEntry(_("A response evaluation is already recorded for %(patient)s: give a reason for the "
                             "change.") % {"patient": patient.screening_number}, code="reason_required")
    warnings = evaluation_warnings(primary, values, given)
    if warnings and not confirmed:
        raise NeedsConfirmation(_("Check the evaluation before it is saved; confirm to save it as it is."),
                                warnings=warnings)
    if evaluation is None:
        panel = LabPanel(patient=patient, **lab_values)
        auditing.save(panel, user=user, reason=reason or "Laboratory values of the response evaluation")
        evaluation = ResponseEvaluation(patient=patient, labs=panel, **values)
        auditing.save(evaluation, user=user, reason=reason or "Response evaluation recorded")
        return evaluation
    if not correcting:
        # The patient's one evaluation row was voided by the data centre: this entry takes its place; the
        # voided values stay in its history (the audit trail shows both).
        reason = reason or "Response evaluation recorded again after voiding"
        evaluation.voided, evaluation.void_reason = False, ""
    panel = evaluation.labs
    for name, value in lab_values.items():
        setattr(panel, name, value)
    auditing.save(panel, user=user, reason=reason)
    for name, value in values.items():
        setattr(evaluation, name, value)
    evaluation.courses_given = None  # a number typed before issue 16 no longer stands: S1 reads the courses
    auditing.save(evaluation, user=user, reason=reason)
    return evaluation


@transaction.atomic
def void_evaluation(*, patient: Patient, user, reason: str) -> ResponseEvaluation:
    """A data manager voids a mistaken response evaluation (issue 15), with a reason.

    The row stays, flagged, and its history shows who voided it and why; it no longer counts for the
    status, the windows, the reminders or a secondary registration, and the site may record the evaluation
    again. Refused to site staff (the data centre decides what is void), without a reason, and once a
    secondary registration rests on the evaluation.
    """
    if not access.is_data_manager(user):
        raise NotAllowed(_("Only a data manager may void a response evaluation."), code="forbidden")
    reason = auditing.clean_reason(reason, error=InvalidEntry)
    if not reason:
        raise InvalidEntry(_("Give the reason for voiding the response evaluation."), code="reason_required")
    patient = _lock_patient(patient)
    _secondary_rests_on_evaluation(patient, _("Voiding the response evaluation"))
    evaluation = ResponseEvaluation.objects.filter(patient=patient).first()
    if evaluation is None or evaluation.voided:
        raise InvalidEntry(_("%(patient)s has no response evaluation to void.")
                           % {"patient": patient.screening_number}, code="no_evaluation")
    evaluation.voided, evaluation.void_reason = True, reason
    auditing.save(evaluation, user=user, reason=reason, update_fields=["voided", "void_reason"])
    return evaluation


# --- secondary registration -----------------------------------------------------------------------


def primary_lesion_count(primary: PrimaryRegistration) -> int:
    """The oligometastases recorded in the screening the primary registration rests on (S2)."""
    return Lesion.objects.filter(screening_id=primary.screening_id).count()


def secondary_facts(primary: PrimaryRegistration, evaluation: ResponseEvaluation | None,
                    registration_date: date, given: courses.CoursesGiven | None = None) -> rules.SecondaryFacts:
    """The engine's S-facts: subtype from primary registration, the plan's courses vs the courses recorded
    from primary registration to the registration date (S1; `given`, else read through registration.courses,
    which refuses when no app records courses), and the oligometastases recorded at primary registration
    (S2: more remaining ones are new lesions)."""
    if evaluation is None:
        return rules.SecondaryFacts(registration_date=registration_date,
                                    primary_registration_date=primary.registration_date, subtype=primary.subtype)
    if given is None:
        given = courses_given(primary, registration_date)
    return rules.SecondaryFacts(
        registration_date=registration_date,
        primary_registration_date=primary.registration_date,
        subtype=primary.subtype,
        planned_courses_completed=given.completed(primary.plan.planned_courses),
        response_evaluation=evaluation.to_facts(),
        remaining_lesions=evaluation.remaining_lesions,
        primary_lesion_count=primary_lesion_count(primary),
        mdt_since_primary=evaluation.mdt_since_primary,
        ecog=evaluation.ecog,
        labs=evaluation.labs.to_facts(),
    )


def secondary_failures(verdict: rules.Verdict, primary: PrimaryRegistration,
                       evaluation: ResponseEvaluation | None, registration_date: date) -> list[tuple[str, str]]:
    """Failures with the window spelled out in dates for S3 and S4."""
    out = []
    for cid, text in criterion_failures(verdict):
        if cid == "S4" and verdict.criterion("S4").status == rules.NOT_MET:
            p = primary.registration_date
            text = _("day %(day)s after primary registration %(primary)s; the window is day %(low)s-%(high)s "
                     "(%(open)s to %(close)s)") % {
                "day": windows.day_number(p, registration_date), "primary": _d(p),
                "low": windows.WINDOW_OPEN_DAY, "high": windows.WINDOW_CLOSE_DAY,
                "open": _d(windows.window_open(p)), "close": _d(windows.last_window_day(p))}
        elif cid == "S3" and evaluation is not None and verdict.criterion("S3").status == rules.NOT_MET:
            e = evaluation.date
            text = _("day %(days)s after the response evaluation %(evaluation)s; secondary registration must be "
                     "within %(limit)s days of it (%(evaluation)s to %(close)s)") % {
                "days": windows.days_remaining(registration_date, e), "evaluation": _d(e),
                "limit": windows.EVALUATION_TO_SECONDARY_DAYS,
                "close": _d(windows.evaluation_close(e))}
        out.append((cid, text))
    return out


def secondary_checklist(primary: PrimaryRegistration, evaluation: ResponseEvaluation | None,
                        on_date: date, given: courses.CoursesGiven | None = None) -> rules.Verdict:
    return rules.evaluate(secondary_facts(primary, evaluation, on_date, given))


def register_secondary(*, patient: Patient, user, password: str, registration_date: date | None = None,
                       request=None) -> SecondaryRegistration:
    """Secondary registration (S1-S8 from the same engine), signed, and randomization at once.

    One transaction: the patient is randomized by
    randomization.services.randomize with allocation_factors(registration) before it commits, so a
    secondary registration never exists without its allocation (and a refused randomization, e.g. a
    used-up block list, leaves no secondary registration either). Refused outside the window with the
    criterion and the dates.
    """
    try:
        return signatures.counting_failures(_register_secondary, kind=SECONDARY_KIND, user=user,
                                            patient=patient.pk, request=request, password=password,
                                            registration_date=registration_date)
    except RandomizationError as exc:
        # The transaction (and its configuration lock) has ended: now the data managers' alert may go out.
        send_pending_alert(exc)
        raise


@transaction.atomic
def _register_secondary(*, user, patient, password, registration_date):
    registration_date = _registration_date(registration_date)
    signatures.check_password(user, password)
    # Lock order of every transaction that ends in an allocation: the randomization configuration
    # first, then the patient (see randomization.services.randomize). Taking the patient first here
    # would invert the order and could deadlock against another randomization.
    lock_configuration()
    patient = _lock_patient(patient)
    if SecondaryRegistration.objects.filter(patient=patient).exists():
        existing = SecondaryRegistration.objects.get(patient=patient)
        raise AlreadyRegistered(_("%(patient)s is already secondary registered (registration date %(date)s); "
                                  "nothing was changed.") % {"patient": patient.screening_number,
                                                             "date": _d(existing.registration_date)},
                                code="already_registered")
    sites.require(patient.site, SiteAction.SECONDARY_REGISTRATION)
    primary = _require_registered(patient, stages.Step.REGISTER_SECONDARY)
    evaluation = ResponseEvaluation.objects.select_related("labs").filter(patient=patient, voided=False).first()
    if evaluation is None:
        raise OutOfOrder(_("No response evaluation is recorded for %(patient)s: record it before secondary "
                           "registration.") % {"patient": patient.screening_number}, code="no_evaluation")
    verdict = secondary_checklist(primary, evaluation, registration_date)
    if not verdict.eligible:
        failures = secondary_failures(verdict, primary, evaluation, registration_date)
        raise NotEligible(
            _("Secondary registration refused on %(date)s: %(failures)s")
            % {"date": _d(registration_date), "failures": "; ".join(f"{cid}: {text}" for cid, text in failures)},
            failures=failures)
    signature = signatures.sign(user=user, kind=SECONDARY_KIND, meaning=SECONDARY_MEANING,
                      subject=f"{primary.number} / {patient.screening_number}")
    registration = SecondaryRegistration(
        patient=patient, primary=primary, registration_date=registration_date, evaluation=evaluation,
        verdict=verdicts.snapshot(verdict), engine_version=verdict.engine_version, signature=signature)
    try:
        with transaction.atomic():
            auditing.save(registration, user=user, reason="Secondary registration")
    except IntegrityError:
        if not SecondaryRegistration.objects.filter(patient=patient).exists():
            raise
        raise AlreadyRegistered(_("%(patient)s is already secondary registered; nothing was changed.")
                                % {"patient": patient.screening_number}, code="already_registered") from None
    # Randomization follows at once, in this transaction (registration calls randomize): it moves the
    # patient from registered to randomized (screening.stages: there is no stage in between), and a refused
    # randomization rolls this secondary registration back.
    randomize(patient=patient, factors=allocation_factors(registration), user=user, signature=signature)
    return registration


def allocation_factors(secondary_registration: SecondaryRegistration) -> dict[str, str]:
    """The patient's levels of every allocation factor (RANDOMIZATION.md), for randomize(...).

    site: the site code; subtype: luminal / her2 / tnbc (derived at primary registration); lesions:
    remaining oligometastases "1" or "2-3"; bone_only: "yes" when every oligometastasis recorded at
    screening is a bone lesion; response: "PR", "SD", or "other" (CR, PD, NE).
    """
    registration = secondary_registration
    primary = registration.primary
    evaluation = registration.evaluation
    organs = list(Lesion.objects.filter(screening_id=primary.screening_id).values_list("organ", flat=True))
    response = evaluation.overall_response
    return {
        "site": registration.patient.site.code,
        "subtype": primary.subtype,
        "lesions": "1" if evaluation.remaining_lesions <= 1 else "2-3",
        "bone_only": "yes" if organs and all(organ == "bone" for organ in organs) else "no",
        "response": response if response in ("PR", "SD") else "other",
    }


# --- off study ------------------------------------------------------------------------------------


@transaction.atomic
def take_off_study(*, patient: Patient, user, date: date, reason: str, details: str = "") -> OffStudy:
    """Record that a registered patient left the study (withdrawal, death, progression, other)."""
    patient = _lock_patient(patient)
    sites.require(patient.site, SiteAction.FOLLOW_UP)
    existing = OffStudy.objects.filter(patient=patient).first()
    if existing is not None:
        raise AlreadyRegistered(_("%(patient)s is already off study since %(date)s.")
                                % {"patient": patient.screening_number, "date": _d(existing.date)},
                                code="already_off_study")
    require_step(patient, stages.Step.TAKE_OFF_STUDY, out_of_order=OutOfOrder)
    if reason not in OffStudy.Reason.values:
        raise InvalidEntry(_("Unknown off-study reason %(reason)s.") % {"reason": reason})
    details = (details or "").strip()
    if reason == OffStudy.Reason.OTHER and not details:
        raise InvalidEntry(_("Describe the reason in the details."), code="missing_fields")
    primary = PrimaryRegistration.objects.get(patient=patient)
    today = _today()
    if date is None or not primary.registration_date <= date <= today:
        raise InvalidEntry(_("The off-study date must be between the primary registration on %(primary)s and "
                             "today (%(today)s).") % {"primary": _d(primary.registration_date), "today": _d(today)},
                           code="date")
    off_study = OffStudy(patient=patient, date=date, reason=reason, details=details)
    auditing.save(off_study, user=user, reason=f"Off study: {reason}")
    patient.stage = Patient.Stage.OFF_STUDY
    auditing.save(patient, user=user, reason=f"Off study: {reason}", update_fields=["stage"])
    return off_study
