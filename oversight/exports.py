"""Data-manager exports: a CSV of each clinical table and the analysis data set (one row per patient) with
its data dictionary, all streamed.

Streaming: each export is a generator over ``QuerySet.iterator(chunk_size=...)`` written row by row into a
StreamingHttpResponse, so 100,000 rows never sit in memory at once. Minimisation: patients carry no names;
rows name them by screening and registration number only; initials and full dates of birth are never
exported (the analysis set gives the age at first screening, the patients table the year of birth); staff
names are not exported either. The concealed allocation list (BlockListEntry) and its seed never are.
Codes, not translated labels, are exported in the plain CSV (stable across languages, for R, SAS, Python);
the dictionary explains them. The Excel variant (``?excel=1``) is for people: the coded columns of
CODE_LABELS show their labels in the reader's language (Japanese on a Japanese page, the GLOSSARY's terms),
everything else as in the plain CSV (docs/data-management.md, "Codes and labels in exports").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from followup import selectors as followup_selectors
from followup.models import Death, SystemicCourse, Withdrawal
from oligami_site import csvfiles
from randomization.models import Allocation, Arm
from registration.models import (
    SUBTYPE_CHOICES,
    OffStudy,
    PrimaryRegistration,
    ResponseEvaluation,
    SecondaryRegistration,
)
from registration.selectors import related
from registration.windows import Status
from screening import services as screening_services
from screening.models import ORGAN_CHOICES, LabPanel, Lesion, Patient, Screening

from . import reports

CHUNK_SIZE = 1000  # rows per fetch of a table export
ANALYSIS_CHUNK_SIZE = 250  # patients per fetch of the analysis set (each with its records and screenings)


# One CSV kit for every app (oligami_site.csvfiles): the cell rules and the formula-injection guard.
cell = csvfiles.cell


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    return csvfiles.lines(header, rows)


# --------------------------------------------------------------------------------------------------
# The clinical tables: (column, lookup) pairs read with values_list(...).iterator()
# --------------------------------------------------------------------------------------------------

PATIENT = [("site", "patient__site__code"), ("screening_number", "patient__screening_number"),
           ("registration_number", "patient__primary_registration__number")]


def _screening_facts():
    return [(name, name) for name in screening_services.FACT_FIELDS]


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    queryset: Callable
    columns: list[tuple[str, str]]
    transform: dict[str, Callable] | None = None  # column -> function of the raw value

    def header(self) -> list[str]:
        return [name for name, _lookup in self.columns]

    def rows(self) -> Iterator[tuple]:
        names = self.header()
        transform = self.transform or {}
        funcs = [transform.get(name) for name in names]
        values = self.queryset().values_list(*[lookup for _name, lookup in self.columns])
        for row in values.iterator(chunk_size=CHUNK_SIZE):
            yield tuple(f(v) if f else v for f, v in zip(funcs, row, strict=True))


def _evaluations_with_courses():
    """Evaluations with S1's count: the courses recorded from primary registration to the evaluation date
    (issue 16: derived, never typed; a count typed before issue 16 is used where no course is recorded)."""
    recorded = (SystemicCourse.objects.filter(patient_id=OuterRef("patient_id"),
                                              start_date__gte=OuterRef("patient__primary_registration__registration_date"),
                                              start_date__lte=OuterRef("date"))
                .order_by().values("patient_id").annotate(n=Count("id")).values("n"))
    return ResponseEvaluation.objects.annotate(
        courses_recorded=Coalesce(Subquery(recorded), "courses_given", Value(0), output_field=IntegerField()))


def _year(value):
    return value.year if value else None


TABLES = {t.key: t for t in [
    Table("patients", _("Patients"), lambda: Patient.objects.order_by("site__code", "sequence"), [
        ("site", "site__code"), ("screening_number", "screening_number"),
        ("registration_number", "primary_registration__number"), ("sex", "sex"), ("birth_year", "birth_date"),
        ("stage", "stage"), ("created_at", "created_at")], {"birth_year": _year}),
    Table("screenings", _("Screenings"), lambda: Screening.objects.order_by("patient__site__code",
                                                                            "patient__sequence", "number"), [
        *PATIENT, ("screening_no", "number"), ("outcome", "outcome"), ("subtype", "subtype"),
        *_screening_facts(), ("labs_id", "labs_id"), ("failed", "verdict__failed"),
        ("excluded_by", "verdict__excluded_by"), ("missing", "verdict__missing"),
        ("engine_version", "engine_version"), ("evaluated_at", "evaluated_at"), ("created_at", "created_at")]),
    Table("lesions", _("Lesions"), lambda: Lesion.objects.order_by("screening__patient__site__code",
                                                                    "screening__patient__sequence",
                                                                    "screening__number", "position"), [
        ("site", "screening__patient__site__code"), ("screening_number", "screening__patient__screening_number"),
        ("screening_no", "screening__number"), ("lesion_id", "id"), ("position", "position"),
        *[(name, name) for name in screening_services.LESION_FIELDS]]),
    Table("lab-panels", _("Lab panels"), lambda: LabPanel.objects.order_by("patient__site__code",
                                                                           "patient__sequence", "id"), [
        *PATIENT, ("labs_id", "id"), *[(name, name) for name in screening_services.LAB_FIELDS]]),
    Table("primary-registrations", _("Primary registrations"),
          lambda: PrimaryRegistration.objects.order_by("sequence"), [
              *PATIENT, ("registration_date", "registration_date"), ("subtype", "subtype"),
              ("screening_no", "screening__number"), ("plan_version", "plan__version"),
              ("planned_courses", "plan__planned_courses"), ("cycle_length_days", "plan__cycle_length_days"),
              ("engine_version", "engine_version"), ("signed_at", "signature__signed_at"),
              ("created_at", "created_at")]),
    Table("evaluations", _("Response evaluations"), lambda: _evaluations_with_courses().order_by(
        "patient__site__code", "patient__sequence"), [
        *PATIENT, ("date", "date"), ("overall_response", "overall_response"), ("progression", "progression"),
        ("new_distant_metastasis", "new_distant_metastasis"), ("remaining_lesions", "remaining_lesions"),
        ("courses_given", "courses_recorded"), ("mdt_since_primary", "mdt_since_primary"), ("ecog", "ecog"),
        ("labs_id", "labs_id"), ("voided", "voided"), ("void_reason", "void_reason"), ("created_at", "created_at")]),
    Table("secondary-registrations", _("Secondary registrations"), lambda: SecondaryRegistration.objects.order_by(
        "primary__sequence"), [
        *PATIENT, ("registration_date", "registration_date"), ("engine_version", "engine_version"),
        ("signed_at", "signature__signed_at"), ("created_at", "created_at")]),
    Table("off-study", _("Off study"), lambda: OffStudy.objects.order_by("patient__site__code", "patient__sequence"),
          [*PATIENT, ("date", "date"), ("reason", "reason"), ("details", "details"), ("created_at", "created_at")]),
    Table("allocations", _("Allocations"), lambda: Allocation.objects.order_by("sequence"), [
        # Not the internals (randomization.models.ALLOCATION_INTERNALS: counts before, preferred arm, uniform
        # draw...): with them the next allocation was predictable (issue 13). The statistician's export of
        # the log has them (randomization:allocations_csv).
        ("sequence", "sequence"), *PATIENT, ("arm", "arm"), ("method", "method"),
        ("algorithm_version", "algorithm_version"), ("factors", "factors"), ("stratum", "stratum"),
        ("allocated_at", "allocated_at"), ("prev_hash", "prev_hash"), ("hash", "hash")]),
]}


# --------------------------------------------------------------------------------------------------
# The analysis data set: one row per patient, and its dictionary (one list, so they cannot drift apart)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text, date, integer, code
    description: str
    values: str | Callable[[], str]  # callable: rendered when asked (in the reader's language)
    get: Callable


def _age(flow: reports.Flow):
    born, first = flow.patient.birth_date, flow.first_screening_date
    if not born or not first:
        return None
    return first.year - born.year - ((first.month, first.day) < (born.month, born.day))


def _rel(name, attr):
    def get(flow):
        record = related(flow.patient, name)
        return getattr(record, attr) if record is not None else None
    return get


def _evaluation(attr):
    """An attribute of the evaluation that counts: a voided one (issue 15) is blank in the analysis data set."""
    def get(flow):
        record = related(flow.patient, "response_evaluation")
        return getattr(record, attr) if record is not None and not record.voided else None
    return get


def _factor(key):
    def get(flow):
        allocation = flow.allocation
        return (allocation.factors or {}).get(key) if allocation else None
    return get


def _not_randomized_reason(flow: reports.Flow):
    return "" if flow.box == reports.Box.RANDOMIZED else flow.reason


def _codes(choices) -> str:
    return ", ".join(str(value) for value, _label in choices)


def _box_codes() -> str:
    return "; ".join(f"{box.value} = {box.label}" for box in reports.Box)


def _reason_codes() -> str:
    return "; ".join([
        str(_("screen failed: the first criterion ID in protocol order")),
        str(_("off study: %(codes)s") % {"codes": _codes(OffStudy.Reason.choices)}),
        str(_("window missed: %(codes)s") % {"codes": ", ".join(reports.MISSED_LABELS)}),
        str(_("before secondary registration: the status")),
    ])


ANALYSIS_COLUMNS = [
    Column("site", "code", _("Site code."), _("site codes"), lambda f: f.patient.site.code),
    Column("screening_number", "text", _("Screening number (per site), the patient's only identifier."),
           "SITE-Snnnn", lambda f: f.patient.screening_number),
    Column("registration_number", "text", _("Trial registration number, given at primary registration."),
           "OLG-nnnn", _rel("primary_registration", "number")),
    Column("sex", "code", _("Sex."), _codes(Patient.Sex.choices), lambda f: f.patient.sex),
    Column("age_at_screening", "integer", _("Age in whole years on the first screening date (P9)."), "",
           _age),
    Column("subtype", "code", _("Subtype derived at primary registration (blank before it)."),
           "luminal, her2, tnbc", _rel("primary_registration", "subtype")),
    Column("screenings", "integer", _("Number of screenings (re-screenings included)."), "1, 2, ...",
           lambda f: f.screenings),
    Column("first_screening_date", "date", _("Screening date of the first screening."), "YYYY-MM-DD",
           lambda f: f.first_screening_date),
    Column("latest_screening_outcome", "code", _("Outcome of the latest screening."),
           _codes(Screening.Outcome.choices), lambda f: f.latest_outcome),
    Column("failed_criteria", "text", _("Criteria the latest screening failed (P) or that exclude (E)."),
           "P1-P18, E1-E13", lambda f: " ".join(f.failed)),
    Column("missing_criteria", "text", _("Criteria the latest screening could not judge yet (facts missing)."),
           "P1-P18, E1-E13", lambda f: " ".join(f.missing)),
    Column("primary_registration_date", "date", _("Date of primary registration."), "YYYY-MM-DD",
           _rel("primary_registration", "registration_date")),
    Column("evaluation_date", "date", _("Date of the response evaluation."), "YYYY-MM-DD",
           _evaluation("date")),
    Column("overall_response", "code", _("Overall response at the evaluation."),
           _codes(ResponseEvaluation.Response.choices), _evaluation("overall_response")),
    Column("remaining_lesions", "integer", _("Oligometastases remaining and feasible for local therapy."), "0-3",
           _evaluation("remaining_lesions")),
    Column("secondary_registration_date", "date", _("Date of secondary registration."), "YYYY-MM-DD",
           _rel("secondary_registration", "registration_date")),
    Column("randomization_date", "date", _("Date of randomization (Asia/Tokyo)."), "YYYY-MM-DD",
           lambda f: f.randomized_on),
    Column("allocation_sequence", "integer", _("Sequence number in the allocation log."), "1, 2, ...",
           _rel("allocation", "sequence")),
    # No "arm" column: with the endpoint columns below it would give comparative results, which are for the
    # statistician only (DESIGN.md, blinding of results).
    *[Column(f"factor_{key}", "code", format_lazy(_("Allocation factor \"{factor}\" as used at randomization "
                                                     "(blank when not randomized or not a factor)."), factor=key),
             "", _factor(key)) for key in ("site", "subtype", "lesions", "bone_only", "response")],
    Column("stage", "code", _("Stage of the patient in the trial."), _codes(Patient.Stage.choices),
           lambda f: f.patient.stage),
    Column("status", "code", _("Status today (the worklist's rules: windows, deadlines)."),
           ", ".join(s.value for s in Status), lambda f: f.status.value),
    Column("consort_box", "code", _("The one terminal box of the CONSORT flow the patient is in."), _box_codes,
           lambda f: f.box.value),
    Column("reason_not_randomized", "code",
           _("Why the patient did not reach randomization: first failed criterion (screen failed), off-study "
             "reason, why the window was missed, or the status still before secondary registration."),
           _reason_codes, _not_randomized_reason),
    Column("off_study_date", "date", _("Date the patient went off study."), "YYYY-MM-DD",
           _rel("off_study", "date")),
    Column("off_study_reason", "code", _("Reason for going off study."), _codes(OffStudy.Reason.choices),
           _rel("off_study", "reason")),
    Column("off_study_details", "text", _("Details of the off-study reason as entered by the site."), "",
           _rel("off_study", "details")),
]


def _endpoint(attr):
    def get(followup):
        if followup is None or not followup.result.known:
            return None
        value = getattr(followup.result, attr)
        return int(value) if isinstance(value, bool) else value
    return get


def _fact(getter):
    def get(followup):
        return getter(followup) if followup is not None else None
    return get


_F_NOTE = _("Blank when not randomized or when the records contradict each other (see endpoint_problems).")

# The endpoints of protocol/FOLLOWUP.md, from followup/endpoints.py (the function the pages, the pictures and
# `manage.py compute_endpoints` use). `get` takes the patient's followup.selectors.PatientFollowup.
ENDPOINT_COLUMNS = [
    Column("os_days", "integer", format_lazy("{} {}", _(
        "Overall survival (F1): days from the randomization date to death from any cause, else to the last date "
        "known alive (the latest of the recorded date, every assessment and the randomization date); after a "
        "withdrawal of all data use only facts up to its date count (F3); facts before randomization are "
        "ignored (F4)."), _F_NOTE), "0, 1, ...", _endpoint("os_days")),
    Column("os_event", "code", format_lazy("{} {}", _("Overall survival: 1 = death, 0 = censored."), _F_NOTE),
           "0, 1", _endpoint("os_event")),
    Column("pfs_days", "integer", format_lazy("{} {}", _(
        "Progression-free survival (F2): days to the first progression (any site) or death, whichever is "
        "earlier, else to the latest assessment without progression (or the randomization date); F3 and F4 "
        "as for OS."), _F_NOTE), "0, 1, ...", _endpoint("pfs_days")),
    Column("pfs_event", "code", format_lazy("{} {}", _("Progression-free survival: 1 = progression or death, "
                                                       "0 = censored."), _F_NOTE), "0, 1", _endpoint("pfs_event")),
    Column("endpoint_problems", "code", _("Contradictions that make both endpoints unknown (F5), sorted."),
           "alive_after_death, death_before_origin, progression_after_death",
           _fact(lambda f: " ".join(f.result.problems))),
    Column("death_date", "date", _("Date of death as recorded."), "YYYY-MM-DD", _fact(lambda f: f.facts.death_date)),
    Column("death_cause", "code", _("Cause of death as recorded."),
           "breast_cancer, treatment_related, other, unknown", _fact(lambda f: f.death_cause)),
    Column("withdrawal_date", "date", _("Date of the withdrawal, if any."), "YYYY-MM-DD",
           _fact(lambda f: f.facts.withdrawal.date if f.facts.withdrawal else None)),
    Column("withdrawal_kind", "code", _("Kind of withdrawal: treatment, visits or all_data (FOLLOWUP.md)."),
           "treatment, visits, all_data", _fact(lambda f: f.facts.withdrawal.kind if f.facts.withdrawal else None)),
    Column("lost_to_follow_up", "code", _("1 when the data manager confirmed the patient lost to follow-up."),
           "0, 1", _fact(lambda f: int(f.lost_to_follow_up))),
]


# The columns that name a patient; the statistician's data set has a pseudonym instead (analysis_rows).
IDENTIFIERS = ("screening_number", "registration_number")


def analysis_id(patient_id: int) -> str:
    """A stable pseudonym of the patient for the statistician's data set: a keyed hash (HMAC with the
    SECRET_KEY) that links the statistician's exports to each other but not to a screening number."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"oligami-analysis:{patient_id}".encode(), hashlib.sha256)
    return "A-" + digest.hexdigest()[:12]


def analysis_rows(today: dt.date | None = None, *, with_arm: bool = False) -> Iterator[tuple]:
    """One row per screened patient. `with_arm`: the statistician's data set for the comparative analysis
    (DESIGN.md, blinding: nobody else gets arm and endpoints together): the allocated arm last, and the
    patient's identifiers replaced by a pseudonym (the statistician sees no patient numbers)."""
    today = today or timezone.localdate()
    hidden = {n for n, column in enumerate(ANALYSIS_COLUMNS) if column.name in IDENTIFIERS} if with_arm else set()
    # Every randomized patient's follow-up in a handful of queries up front (not per patient).
    followups = followup_selectors.followup_for(Patient.objects.all())
    for patient in reports.flow_queryset(None).iterator(chunk_size=ANALYSIS_CHUNK_SIZE):
        flow = reports.classify(patient, today)
        followup = followups.get(patient.pk)
        row = (*(column.get(flow) for column in ANALYSIS_COLUMNS),
               *(column.get(followup) for column in ENDPOINT_COLUMNS))
        if with_arm:
            row = (analysis_id(patient.pk), *(value for n, value in enumerate(row) if n not in hidden),
                   flow.arm or "")
        _release(patient)
        yield row


def _release(patient) -> None:
    """Drop the patient's links to her joined records. A reverse one-to-one joined by select_related points
    back at the patient (a reference cycle), so without this every streamed patient would wait for the
    cyclic garbage collector and memory would grow with the export instead of staying flat."""
    for record in patient._state.fields_cache.values():
        if record is not None:
            record._state.fields_cache.clear()
    patient._state.fields_cache.clear()
    patient._prefetched_objects_cache = {}


def analysis_header(*, with_arm: bool = False) -> list[str]:
    names = [column.name for column in (*ANALYSIS_COLUMNS, *ENDPOINT_COLUMNS)]
    if not with_arm:
        return names
    return ["analysis_id", *(name for name in names if name not in IDENTIFIERS), "arm"]


# --------------------------------------------------------------------------------------------------
# Codes and labels (issue 20): the Excel variant shows labels, the plain CSV codes
# --------------------------------------------------------------------------------------------------

# The coded columns (by name, in the tables and the analysis data set) whose every code has a label: the
# Excel variant shows the label in the reader's language. Not here, so codes in both variants: criterion IDs
# (failed_criteria, excluded_by...: the protocol's own IDs), reason_not_randomized (a mix of criterion IDs and
# codes of several lists), the allocation factors other than the subtype, method, engine versions, JSON cells.
CODE_LABELS: dict[str, Callable[[], Iterable[tuple[str, str]]]] = {
    "sex": lambda: Patient.Sex.choices,
    "stage": lambda: Patient.Stage.choices,
    "subtype": lambda: SUBTYPE_CHOICES,
    "factor_subtype": lambda: SUBTYPE_CHOICES,
    "outcome": lambda: Screening.Outcome.choices,
    "latest_screening_outcome": lambda: Screening.Outcome.choices,
    "organ": lambda: ORGAN_CHOICES,
    "overall_response": lambda: ResponseEvaluation.Response.choices,
    "reason": lambda: OffStudy.Reason.choices,
    "off_study_reason": lambda: OffStudy.Reason.choices,
    "status": lambda: [(s.value, gettext(s.label)) for s in Status],
    "consort_box": lambda: [(b.value, b.label) for b in reports.Box],
    "death_cause": lambda: Death.Cause.choices,
    "withdrawal_kind": lambda: Withdrawal.Kind.choices,
    "arm": lambda: Arm.choices,
}


def labels() -> dict[str, dict[str, str]]:
    """{column: {code: label}} in the active language (call it in the view, before the response streams)."""
    return {name: {str(code): str(label) for code, label in choices()} for name, choices in CODE_LABELS.items()}


def for_excel(header: list[str], rows: Iterable[Iterable], excel: bool) -> Iterable[Iterable]:
    """The rows of an export as its variant shows them: labels for the Excel variant, codes otherwise."""
    return csvfiles.labelled(header, rows, labels()) if excel else rows


DICTIONARY_HEADER = ["column", "type", "description", "values", "excel_variant"]


def dictionary_rows() -> list[tuple[str, str, str, str, str]]:
    """(column, type, description, values, what the Excel variant shows: "label" or "as in the CSV")."""
    return [(c.name, c.kind, str(c.description), str(c.values() if callable(c.values) else c.values),
             str(_("label")) if c.name in CODE_LABELS else str(_("as in the CSV")))
            for c in (*ANALYSIS_COLUMNS, *ENDPOINT_COLUMNS)]
