"""Reads that span the registration models: a patient's timeline, the worklist rows.

Statuses are computed in Python from the pure windows module over rows fetched in a constant number of
queries (select_related for the one-to-one records, one prefetch of the screenings' lab dates). The worklist
page sorts, counts and filters every patient of the sites on keys the database computes with the same rules
(`window_expressions`, built from the windows module's constants and tested equal to it), and builds the
timelines of its page's rows only.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Case, DateField, OuterRef, Prefetch, Subquery, Value, When
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from oligami_site import access
from screening.deadlines import PatientDeadline, ids_at
from screening.models import Patient, Screening

from . import window_expressions, windows

# Patients the coordinator may have to act on: awaiting primary registration, between the two
# registrations (on therapy ... window missed), or secondary registered and awaiting randomization.
WORKLIST_STAGES = (Patient.Stage.ELIGIBLE, Patient.Stage.REGISTERED)

_OUTCOME_BY_STAGE = {
    Patient.Stage.SCREENING: windows.ScreeningOutcome.DRAFT,
    Patient.Stage.SCREEN_FAILED: windows.ScreeningOutcome.SCREEN_FAILED,
}


def related(obj, name):
    """A reverse one-to-one record or None (no query when it was select_related)."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def current_evaluation(patient):
    """The patient's response evaluation that counts, or None: a voided one (issue 15) counts for nothing."""
    evaluation = related(patient, "response_evaluation")
    return None if evaluation is None or evaluation.voided else evaluation


def latest_screening(patient: Patient) -> Screening | None:
    """From a prefetch of `screenings` when there is one (ordered by number), else one query."""
    cache = getattr(patient, "_prefetched_objects_cache", {})
    if "screenings" in cache:
        screenings = list(cache["screenings"])
        return screenings[-1] if screenings else None
    return patient.screenings.select_related("labs").order_by("-number").first()


def timeline_of(patient: Patient, screenings: list[Screening] | None = None) -> windows.PatientTimeline:
    """The patient's dated facts for the windows module (records select_related / prefetched).

    `screenings`: hers in number order with their labs, when the caller has read them already (the analysis
    export streams them beside the patients); else the prefetch, or one query."""
    primary = related(patient, "primary_registration")
    evaluation = current_evaluation(patient)
    secondary = related(patient, "secondary_registration")
    off_study = related(patient, "off_study")
    screening_lab_date = None
    if primary is None and patient.stage == Patient.Stage.ELIGIBLE:
        screening = latest_screening(patient) if screenings is None else next(reversed(screenings), None)
        screening_lab_date = screening.labs.date if screening is not None and screening.labs_id else None
    return timeline_from_fields(
        stage=patient.stage,
        primary_registration_date=primary.registration_date if primary else None,
        planned_courses=primary.plan.planned_courses if primary else None,
        cycle_length_days=primary.plan.cycle_length_days if primary else None,
        evaluated=evaluation is not None,
        evaluation_date=evaluation.date if evaluation else None,
        progression=evaluation.progression if evaluation else None,
        new_distant_metastasis=evaluation.new_distant_metastasis if evaluation else None,
        evaluation_lab_date=evaluation.labs.date if evaluation else None,
        secondary_registration_date=secondary.registration_date if secondary else None,
        off_study_recorded=off_study is not None,
        off_study_date=off_study.date if off_study else None,
        screening_lab_date=screening_lab_date,
    )


def timeline_from_fields(*, stage, primary_registration_date, planned_courses, cycle_length_days, evaluated,
                         evaluation_date, progression, new_distant_metastasis, evaluation_lab_date,
                         secondary_registration_date, off_study_recorded, off_study_date,
                         screening_lab_date) -> windows.PatientTimeline:
    """The timeline from plain column values: `timeline_of` (model instances) and the reports' flat rows
    (`oversight.reports.flow_rows`, one values() query) both build it here, so they cannot disagree.

    ``screening_lab_date`` is read only for an eligible patient not yet primary registered (the labs of her
    latest screening); after primary registration the pending labs are the evaluation's (S8).
    """
    if primary_registration_date is None:
        lab_date = screening_lab_date if stage == Patient.Stage.ELIGIBLE else None
    else:
        lab_date = evaluation_lab_date if evaluated else None
    return windows.PatientTimeline(
        screening_outcome=_OUTCOME_BY_STAGE.get(stage, windows.ScreeningOutcome.ELIGIBLE),
        primary_registration_date=primary_registration_date,
        planned_courses=planned_courses,
        cycle_length_days=cycle_length_days,
        evaluation_date=evaluation_date,
        evaluation_progression=bool(progression or new_distant_metastasis) if evaluated else None,
        secondary_registration_date=secondary_registration_date,
        randomized=stage == Patient.Stage.RANDOMIZED,
        off_study=stage == Patient.Stage.OFF_STUDY or off_study_recorded,
        off_study_date=off_study_date,
        lab_date=lab_date,
    )


def patients_with_records(queryset):
    """Patients with every registration record joined and the screenings' lab dates prefetched."""
    return (
        queryset.select_related("site", "primary_registration__plan", "primary_registration__signature",
                                "response_evaluation__labs", "secondary_registration__signature", "off_study")
        .defer("primary_registration__verdict", "secondary_registration__verdict")
        .prefetch_related(Prefetch(
            "screenings",
            queryset=Screening.objects.select_related("labs").only(
                "id", "patient", "number", "outcome", "screening_date", "labs", "labs__date")
            .order_by("number")))
    )


# The columns a timeline is built from, for values() queries over patients (`timeline_from_values`); the
# queryset must carry `screening_lab_date` (`with_screening_lab_date`).
TIMELINE_FIELDS = (
    "stage", "primary_registration__registration_date", "primary_registration__plan__planned_courses",
    "primary_registration__plan__cycle_length_days", "response_evaluation__pk", "response_evaluation__voided",
    "response_evaluation__date",
    "response_evaluation__progression", "response_evaluation__new_distant_metastasis",
    "response_evaluation__labs__date", "secondary_registration__registration_date", "off_study__pk",
    "off_study__date", "screening_lab_date",
)


def with_screening_lab_date(queryset):
    """Annotate the lab date of the latest screening, for eligible patients only (the only ones whose timeline
    reads it): a CASE, so that the database runs the subquery for them alone."""
    latest = Screening.objects.filter(patient=OuterRef("pk")).order_by("-number")
    return queryset.annotate(screening_lab_date=Case(
        When(stage=Patient.Stage.ELIGIBLE, then=Subquery(latest.values("labs__date")[:1])),
        default=Value(None), output_field=DateField()))


def evaluated_in(row: dict) -> bool:
    """Whether a values() row carrying TIMELINE_FIELDS has an evaluation that counts (not voided)."""
    return row["response_evaluation__pk"] is not None and not row["response_evaluation__voided"]


def timeline_from_values(row: dict) -> windows.PatientTimeline:
    """The timeline of one row of `queryset.values(*TIMELINE_FIELDS, ...)` (no model instances: a page that
    needs hundreds of timelines builds them from one query of plain values)."""
    evaluated = evaluated_in(row)
    return timeline_from_fields(
        stage=row["stage"],
        primary_registration_date=row["primary_registration__registration_date"],
        planned_courses=row["primary_registration__plan__planned_courses"],
        cycle_length_days=row["primary_registration__plan__cycle_length_days"],
        evaluated=evaluated,
        evaluation_date=row["response_evaluation__date"] if evaluated else None,
        progression=row["response_evaluation__progression"] if evaluated else None,
        new_distant_metastasis=row["response_evaluation__new_distant_metastasis"] if evaluated else None,
        evaluation_lab_date=row["response_evaluation__labs__date"] if evaluated else None,
        secondary_registration_date=row["secondary_registration__registration_date"],
        off_study_recorded=row["off_study__pk"] is not None,
        off_study_date=row["off_study__date"],
        screening_lab_date=row["screening_lab_date"],
    )


@dataclass(frozen=True, slots=True)
class PatientRef:
    """What a worklist row shows of its patient (the row is built from plain values, not a Patient)."""

    pk: int
    screening_number: str
    site_id: int
    site_code: str

    def __str__(self):
        return self.screening_number


@dataclass
class WorklistRow:
    patient: PatientRef
    status: windows.Status
    deadline: windows.Deadline | None
    days_left: int | None
    registration_number: str | None
    has_evaluation: bool = False
    stage: str = Patient.Stage.REGISTERED


def _worklist_row(values: dict, today: date) -> WorklistRow:
    status, deadline = windows.status_and_deadline(timeline_from_values(values), today)
    return WorklistRow(
        patient=PatientRef(values["pk"], values["screening_number"], values["site_id"], values["site__code"]),
        status=status,
        deadline=deadline,
        days_left=windows.days_remaining(deadline.date, today) if deadline else None,
        registration_number=values["primary_registration__number"],
        has_evaluation=evaluated_in(values),
        stage=values["stage"],
    )


_WORKLIST_VALUES = (*TIMELINE_FIELDS, "pk", "screening_number", "site_id", "site__code",
                    "primary_registration__number")


def _worklist_patients(user):
    return access.scope(Patient.objects.filter(stage__in=WORKLIST_STAGES), user, access.Action.VIEW,
                        site_field="site")


def worklist_rows(user, today: date) -> list[WorklistRow]:
    """Every patient needing action at the user's sites, nearest deadline first (none: last), each computed in
    Python (one values() query). For a whole list (the data manager's to-do); the worklist page shows a page of
    them (`worklist_keys` for all, `worklist_rows_of` for the rows shown).
    """
    rows = [_worklist_row(values, today)
            for values in with_screening_lab_date(_worklist_patients(user)).order_by().values(*_WORKLIST_VALUES)]
    rows.sort(key=lambda r: (r.deadline is None, r.deadline.date if r.deadline else date.max,
                             r.patient.screening_number))
    return rows


def worklist_queryset(user, today: date):
    """The worklist's patients at the user's sites, annotated in the database with their status and next
    deadline (`window_expressions`, the windows module's rules from its constants)."""
    return window_expressions.annotate_status_and_deadline(with_screening_lab_date(_worklist_patients(user)), today)


@dataclass(frozen=True, slots=True)
class WorklistKey:
    """What the worklist sorts, counts and filters on, for every patient of the sites (no timeline built)."""

    pk: int
    status: windows.Status
    deadline_day: int | None  # window_expressions.epoch_day of the next deadline
    screening_number: str
    site_id: int


def worklist_keys(user, today: date) -> list[WorklistKey]:
    """Every worklist patient's key, nearest deadline first (none: last; then by screening number): the order of
    `worklist_rows`. One query; the rules run in the database, so each row is four small values (a busy site
    has thousands of patients between the registrations; only a page of them gets its timeline)."""
    keys = [WorklistKey(pk, windows.Status(status), day, number, site_id)
            for pk, status, day, number, site_id in worklist_queryset(user, today).order_by().values_list(
                "pk", window_expressions.STATUS, window_expressions.DEADLINE_DAY, "screening_number", "site_id")]
    keys.sort(key=lambda k: (k.deadline_day is None, k.deadline_day or 0, k.screening_number))
    return keys


def filter_keys(keys: list[WorklistKey], today: date, *, status: str | None = None, site: int | None = None,
                due: int | None = None) -> list[WorklistKey]:
    """The worklist's filters. `due`: a deadline no later than today + due days (overdue ones included)."""
    if status:
        keys = [k for k in keys if k.status == status]
    if site:
        keys = [k for k in keys if k.site_id == site]
    if due is not None:
        last = window_expressions.epoch_day(today) + due
        keys = [k for k in keys if k.deadline_day is not None and k.deadline_day <= last]
    return keys


def worklist_rows_of(ids, today: date) -> list[WorklistRow]:
    """The rows of a page's patients, in the order of `ids`, their status and deadline computed by
    `windows.status_and_deadline` (the database only chose and ordered them): one values() query."""
    ids = list(ids)
    if not ids:
        return []
    found = {values["pk"]: values for values in with_screening_lab_date(
        Patient.objects.filter(pk__in=ids)).order_by().values(*_WORKLIST_VALUES)}
    return [_worklist_row(found[pk], today) for pk in ids if pk in found]


# How long a randomized patient stays in the worklist's "recently randomized" list, with her arm: she has
# left the worklist's stages, and the site looks for her arm where it last saw her (issue 15). A display
# choice, not a protocol number.
RECENTLY_RANDOMIZED_DAYS = 30
RECENTLY_RANDOMIZED_SHOWN = 20


@dataclass(frozen=True, slots=True)
class RandomizedRow:
    pk: int
    screening_number: str
    site_code: str
    registration_number: str
    arm: str
    allocated_at: datetime


def recently_randomized(user, today: date) -> tuple[list[RandomizedRow], bool]:
    """The patients of the user's sites randomized within RECENTLY_RANDOMIZED_DAYS, latest first, with their
    arm (at most RECENTLY_RANDOMIZED_SHOWN of them), and whether there are more. One query whatever the
    number of patients; only the arm and the time of the allocation are read, never its internals."""
    queryset = access.scope(Patient.objects.filter(
        stage=Patient.Stage.RANDOMIZED, allocation__isnull=False,
        secondary_registration__registration_date__gte=today - timedelta(days=RECENTLY_RANDOMIZED_DAYS)),
        user, access.Action.VIEW, site_field="site")
    rows = [RandomizedRow(*values) for values in queryset.order_by("-allocation__allocated_at").values_list(
        "pk", "screening_number", "site__code", "primary_registration__number", "allocation__arm",
        "allocation__allocated_at")[:RECENTLY_RANDOMIZED_SHOWN + 1]]
    return rows[:RECENTLY_RANDOMIZED_SHOWN], len(rows) > RECENTLY_RANDOMIZED_SHOWN


# Primary registered and not yet secondary registered: closing their site would strand them inside their
# window (issue 17). Secondary registration moves them straight to randomized (screening.stages).
AWAITING_SECONDARY_STAGES = (Patient.Stage.REGISTERED,)


def awaiting_secondary_count(site_id: int) -> int:
    return Patient.objects.filter(site_id=site_id, stage__in=AWAITING_SECONDARY_STAGES).count()


# --- the patient list's next-deadline column (screening asks through OLIGAMI_PATIENT_DEADLINE_SOURCES) ------

# Short labels: the column shows the date beside them (windows.DEADLINE_LABELS carry the date in the text).
PATIENT_LIST_LABELS = {
    windows.DeadlineKind.LABS_EXPIRE: _("Lab results valid until"),
    windows.DeadlineKind.EVALUATION_DUE: _("Response evaluation due"),
    windows.DeadlineKind.WINDOW_CLOSES: _("Secondary registration window closes"),
}


def patient_list_deadlines(patients: dict[int, str], today: date, now: datetime) -> dict:
    """The windows' next deadline (windows.next_deadline: lab expiry, evaluation due, window close) of the
    page's patients awaiting primary or secondary registration; one values() query, none without them."""
    ids = ids_at(patients, WORKLIST_STAGES)
    if not ids:
        return {}
    found = {}
    for values in with_screening_lab_date(Patient.objects.filter(pk__in=ids)).order_by().values(*TIMELINE_FIELDS,
                                                                                                  "pk"):
        deadline = windows.next_deadline(timeline_from_values(values), today)
        if deadline is not None:
            found[values["pk"]] = PatientDeadline(
                date=deadline.date, label=PATIENT_LIST_LABELS[deadline.kind],
                url=reverse("registration:patient", kwargs={"pk": values["pk"]}),
                overdue=windows.days_remaining(deadline.date, today) < 0)
    return found
