"""Where the trial stands: every screened patient's place in the flow, the CONSORT diagram, accrual by site.

A selector module composed on top of the trial apps (core models import none of them; this module may).
Every screened patient is classified once (`classify`), from the same status rules as the coordinator's
worklist (registration.windows.patient_status), into exactly one terminal box of the CONSORT flow:

    screened -> screening in progress | screen failed (first failed criterion) | eligible
    eligible -> not (yet) primary registered | primary registered
    primary registered -> off study (reason) | window missed (why) | before secondary registration (status)
                          | secondary registered, awaiting randomization | randomized (arm A / arm B)

The diagram, the tables, the per-patient "not randomized" list and the analysis data set all read this
one classification, so their numbers cannot disagree. Queries: one for the patients with every
registration record joined (plus the allocation) and one prefetch of their screenings, whatever the size.

The reports page and the "not randomized" list read it through `report_numbers` / `not_randomized_boxes`,
which keep it per patient and, after a write, classify again only the patients the write touched
(`_Numbers`, over oligami_site.dataversion's change log; issue 21: 7-25 s at 100,000 patients before).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from django.db.models import Case, Exists, JSONField, OuterRef, Subquery, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from followup.selectors import ArmFlow
from oligami_site import access, dataversion
from oligami_site.access import Action
from oligami_site.models import Site
from randomization.models import Allocation, Arm
from registration import selectors as registration_selectors
from registration import windows
from registration.models import OffStudy, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration, TherapyPlan
from registration.selectors import related
from screening import eligibility as rules
from screening.models import LabPanel, Patient, Screening


class Box(StrEnum):
    """The terminal boxes of the flow: every screened patient is in exactly one."""

    SCREENING = "screening"
    SCREEN_FAILED = "screen_failed"
    ELIGIBLE = "eligible"
    BEFORE_SECONDARY = "before_secondary"
    WINDOW_MISSED = "window_missed"
    OFF_STUDY = "off_study"
    RANDOMIZED = "randomized"

    @property
    def label(self):
        return BOX_LABELS[self]


BOX_LABELS = {
    Box.SCREENING: _("Screening in progress (facts missing)"),
    Box.SCREEN_FAILED: _("Screen failed"),
    Box.ELIGIBLE: _("Eligible, not primary registered (yet)"),
    Box.BEFORE_SECONDARY: _("Before secondary registration (on therapy or in the window)"),
    Box.WINDOW_MISSED: _("Secondary registration window missed"),
    Box.OFF_STUDY: _("Off study"),
    Box.RANDOMIZED: _("Randomized"),
}
TERMINAL_ORDER = list(Box)
NOT_RANDOMIZED = frozenset(Box) - {Box.RANDOMIZED}

# Why a window was missed (registration.windows, precedence row 7).
MISSED_PROGRESSION = "progression_at_evaluation"
MISSED_EMPTY = "window_can_never_be_met"
MISSED_CLOSED = "window_closed"
MISSED_LABELS = {
    MISSED_PROGRESSION: _("progression or new distant metastasis at the response evaluation (S2)"),
    MISSED_EMPTY: _("the evaluation date leaves no day that meets both S3 and S4"),
    MISSED_CLOSED: _("the window closed without secondary registration (S3/S4)"),
}
UNKNOWN_CRITERION = "?"
_CRITERION_ORDER = {cid: n for n, cid in enumerate(rules.CRITERIA)}


def criterion_sort_key(cid: str):
    return (_CRITERION_ORDER.get(cid, len(_CRITERION_ORDER)), cid)


# --------------------------------------------------------------------------------------------------
# Who sees which sites
# --------------------------------------------------------------------------------------------------


def report_site_ids(user) -> set[int] | None:
    """Sites whose numbers the user may see in reports: None = all (data managers, statisticians).

    Site staff and monitors: their sites. Anyone else: Http404 (nothing to report to them).
    """
    if access.is_data_manager(user) or access.is_statistician(user):
        return None
    ids = access.site_ids_for(user, Action.VIEW)
    if not ids:
        raise Http404
    return ids


# --------------------------------------------------------------------------------------------------
# One patient's place in the flow
# --------------------------------------------------------------------------------------------------


@dataclass
class Flow:
    patient: Patient
    status: windows.Status
    box: Box
    reason: str = ""  # first failed criterion / off-study reason / why missed / status; "" when none
    first_screening_date: dt.date | None = None
    screenings: int = 0
    latest_outcome: str = ""
    failed: list[str] = field(default_factory=list)  # latest screening: failed + excluding criteria
    missing: list[str] = field(default_factory=list)  # latest screening: criteria not yet recorded
    window_close: dt.date | None = None

    @property
    def patient_id(self) -> int:
        return self.patient.pk

    @property
    def site_id(self) -> int:
        return self.patient.site_id

    @property
    def primary(self):
        return related(self.patient, "primary_registration")

    @property
    def primary_date(self) -> dt.date | None:
        primary = self.primary
        return primary.registration_date if primary else None

    @property
    def allocation(self):
        return related(self.patient, "allocation")

    @property
    def randomized_on(self) -> dt.date | None:
        allocation = self.allocation
        return timezone.localdate(allocation.allocated_at) if allocation else None

    @property
    def arm(self) -> str:
        allocation = self.allocation
        return allocation.arm if allocation else ""

    @property
    def reason_label(self) -> str:
        return reason_label(self.box, self.reason)


def reason_label(box: Box, reason: str) -> str:
    if box == Box.SCREEN_FAILED:
        info = rules.CRITERIA.get(reason)
        return f"{reason}: {info.text(gettext)}" if info else gettext("criterion not recorded")
    if box == Box.OFF_STUDY:
        return str(dict(OffStudy.Reason.choices).get(reason, reason))
    if box == Box.WINDOW_MISSED:
        return str(MISSED_LABELS.get(reason, reason))
    if box == Box.BEFORE_SECONDARY:
        return gettext(windows.Status(reason).label) if reason in set(windows.Status) else reason
    if box == Box.RANDOMIZED:
        return str(dict(Arm.choices).get(reason, reason))
    return ""


def flow_queryset(site_ids: set[int] | None):
    """Screened patients (at least one screening) with what the classification reads, in 2 queries."""
    latest = Screening.objects.filter(patient=OuterRef("pk")).order_by("-number")
    patients = Patient.objects.filter(Exists(Screening.objects.filter(patient=OuterRef("pk"))))
    if site_ids is not None:
        patients = patients.filter(site_id__in=site_ids)
    return (
        registration_selectors.patients_with_records(patients)
        .select_related("allocation")
        .defer("allocation__counts_before", "allocation__imbalance", "allocation__weights")
        .annotate(latest_failed=Subquery(latest.values("verdict__failed")[:1], output_field=JSONField()),
                  latest_excluded=Subquery(latest.values("verdict__excluded_by")[:1], output_field=JSONField()),
                  latest_missing=Subquery(latest.values("verdict__missing")[:1], output_field=JSONField()))
        .order_by("site__code", "sequence")
    )


def classify(patient: Patient, today: dt.date, screenings: list[Screening] | None = None) -> Flow:
    """The patient's status (the worklist's rules) and her one terminal box with its reason.

    `screenings`: hers in number order (with their labs) when the caller read them itself (the analysis
    export, oversight.exports, streams them); else the prefetch of `flow_queryset`."""
    if screenings is None:
        screenings = list(patient.screenings.all())  # prefetched, in number order
    timeline = registration_selectors.timeline_of(patient, screenings)
    status = windows.patient_status(timeline, today)
    failed = [*(getattr(patient, "latest_failed", None) or []), *(getattr(patient, "latest_excluded", None) or [])]
    flow = Flow(patient=patient, status=status, box=Box.SCREENING, screenings=len(screenings),
                first_screening_date=screenings[0].screening_date if screenings else None,
                latest_outcome=screenings[-1].outcome if screenings else "", failed=failed,
                missing=list(getattr(patient, "latest_missing", None) or []))
    off_study = related(patient, "off_study")
    flow.box, flow.reason, flow.window_close = place(
        status, timeline, off_study_reason=off_study.reason if off_study else None, arm=flow.arm, failed=failed)
    return flow


def place(status: windows.Status, timeline: windows.PatientTimeline, *, off_study_reason: str | None, arm: str,
          failed: list[str]) -> tuple[Box, str, dt.date | None]:
    """The terminal box of a patient in `status`, its reason, and the window's last day where it matters.

    The one place the boxes are decided: `classify` (model instances) and `flow_rows` (flat rows) both call it.
    """
    S = windows.Status
    window = timeline.window
    if status == S.OFF_STUDY:
        return Box.OFF_STUDY, off_study_reason if off_study_reason is not None else OffStudy.Reason.OTHER, None
    if status == S.RANDOMIZED:
        return Box.RANDOMIZED, arm, None
    if status == S.SCREEN_FAILED:
        return Box.SCREEN_FAILED, min(failed, key=criterion_sort_key) if failed else UNKNOWN_CRITERION, None
    if status == S.ELIGIBLE:
        return Box.ELIGIBLE, "", None
    if status == S.SCREENING:
        return Box.SCREENING, "", None
    close = window.close if window else None
    if status in (S.WINDOW_MISSED, S.PROGRESSION):
        # CONSORT: progression at the evaluation stays a "window missed" box, reason progression.
        if timeline.evaluation_progression:
            return Box.WINDOW_MISSED, MISSED_PROGRESSION, close
        if window is not None and window.is_empty:
            return Box.WINDOW_MISSED, MISSED_EMPTY, close
        return Box.WINDOW_MISSED, MISSED_CLOSED, close
    return Box.BEFORE_SECONDARY, str(status), close  # on therapy, evaluation due, window open, window closing


def flows_for(site_ids: set[int] | None, today: dt.date | None = None) -> list[Flow]:
    today = today or timezone.localdate()
    return [classify(patient, today) for patient in flow_queryset(site_ids)]


# --------------------------------------------------------------------------------------------------
# The same classification from flat rows: what the reports page and the "not randomized" list count
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class FlowRow:
    """A patient's box and the dates the reports count, without model instances (see `flow_rows`)."""

    patient_id: int
    site_id: int
    box: Box
    reason: str
    first_screening_date: dt.date | None
    primary_date: dt.date | None
    randomized_on: dt.date | None


# The columns `flow_rows` reads: a timeline's (registration.selectors) and what the boxes and accrual add.
_ROW_FIELDS = (
    *registration_selectors.TIMELINE_FIELDS, "pk", "site_id", "sequence", "off_study__reason", "allocation__arm",
    "allocation__allocated_at", "first_screening_date", "latest_failed", "latest_excluded",
)


def _latest_verdict_key(key: str, stage: str):
    """A key of the latest screening's verdict snapshot, read only for patients in `stage` (a CASE, so that
    the database does not decompress the ~14 kB snapshot of the others)."""
    latest = Screening.objects.filter(patient=OuterRef("pk")).order_by("-number")
    return Case(When(stage=stage, then=Subquery(latest.values(f"verdict__{key}")[:1])), default=Value(None),
                output_field=JSONField())


def flow_row_queryset(site_ids: set[int] | None, *, exclude_randomized: bool = False,
                      patient_ids: set[int] | None = None):
    """One query: every screened patient of the scope (of `patient_ids` among them, if given) as a dict of
    `_ROW_FIELDS`, in the lists' order.

    The one-to-one records are LEFT JOINs; the screenings are correlated subqueries of the latest or
    first screening. The latest verdict's failed / excluding criteria (inside a ~14 kB JSON document) are
    read only for screen failures, and its lab date only for eligible patients: a CASE keeps PostgreSQL
    from evaluating the subquery for the other rows, which was most of the SQL time of `flow_queryset`.
    """
    screenings = Screening.objects.filter(patient=OuterRef("pk"))
    patients = Patient.objects.filter(Exists(screenings))
    if site_ids is not None:
        patients = patients.filter(site_id__in=site_ids)
    if exclude_randomized:
        patients = patients.exclude(stage=Patient.Stage.RANDOMIZED)
    if patient_ids is not None:
        patients = patients.filter(pk__in=patient_ids)

    failed_only = Patient.Stage.SCREEN_FAILED
    return (
        registration_selectors.with_screening_lab_date(patients)
        .annotate(first_screening_date=Subquery(screenings.order_by("number").values("screening_date")[:1]),
                  latest_failed=_latest_verdict_key("failed", failed_only),
                  latest_excluded=_latest_verdict_key("excluded_by", failed_only))
        .order_by("site__code", "sequence")
        .values(*_ROW_FIELDS)
    )


def _failed_of(row: dict) -> list[str]:
    return [*(row["latest_failed"] or []), *(row["latest_excluded"] or [])]


def _place_values(row: dict, failed: list[str], today: dt.date) -> tuple[Box, str, dt.date | None]:
    """`place` for a values() row carrying TIMELINE_FIELDS, off_study__reason and allocation__arm."""
    timeline = registration_selectors.timeline_from_values(row)
    off_study_reason = row["off_study__reason"] if row["off_study__pk"] is not None else None
    return place(windows.patient_status(timeline, today), timeline, off_study_reason=off_study_reason,
                 arm=row["allocation__arm"] or "", failed=failed)


def flow_rows(site_ids: set[int] | None, today: dt.date | None = None, *,
              exclude_randomized: bool = False) -> list[FlowRow]:
    """Every screened patient's box, as `flows_for` decides it (same timeline, same `place`), in one query.

    tests/oligami_site/test_reports_consort.py checks that both give every patient the same box and reason.
    """
    today = today or timezone.localdate()
    rows = []
    for row in flow_row_queryset(site_ids, exclude_randomized=exclude_randomized):
        box, reason, _close = _place_values(row, _failed_of(row), today)
        allocated_at = row["allocation__allocated_at"]
        rows.append(FlowRow(row["pk"], row["site_id"], box, reason, row["first_screening_date"],
                            row["primary_registration__registration_date"],
                            timezone.localdate(allocated_at) if allocated_at else None))
    return rows


@dataclass
class ListedFlow:
    """A row of the "not randomized" list: the patient's box and reason, as `place` decides them, and what
    the row shows, from one values() query for the page's patients (no model instances)."""

    patient_id: int
    site_code: str
    screening_number: str
    registration_number: str | None
    box: Box
    reason: str
    failed: list[str]
    missing: list[str]
    off_study_date: dt.date | None
    off_study_details: str
    window_close: dt.date | None

    @property
    def reason_label(self) -> str:
        return reason_label(self.box, self.reason)


def listed_flows(patient_ids: list[int], today: dt.date) -> list[ListedFlow]:
    """The list rows of these patients (the page's), in the order given; one query."""
    queryset = registration_selectors.with_screening_lab_date(Patient.objects.filter(pk__in=patient_ids)).annotate(
        latest_failed=_latest_verdict_key("failed", Patient.Stage.SCREEN_FAILED),
        latest_excluded=_latest_verdict_key("excluded_by", Patient.Stage.SCREEN_FAILED),
        latest_missing=_latest_verdict_key("missing", Patient.Stage.SCREENING))
    by_id = {}
    for row in queryset.order_by().values(
            *registration_selectors.TIMELINE_FIELDS, "pk", "site__code", "screening_number",
            "primary_registration__number", "off_study__reason", "off_study__details", "allocation__arm",
            "latest_failed", "latest_excluded", "latest_missing"):
        failed = _failed_of(row)
        box, reason, close = _place_values(row, failed, today)
        by_id[row["pk"]] = ListedFlow(
            row["pk"], row["site__code"], row["screening_number"], row["primary_registration__number"], box, reason,
            failed, list(row["latest_missing"] or []), row["off_study__date"], row["off_study__details"] or "", close)
    return [by_id[pk] for pk in patient_ids if pk in by_id]



def report_numbers(site_ids: set[int] | None, today: dt.date) -> tuple[Consort, Counter]:
    """The CONSORT counts and the accrual counts of a scope: `consort(flow_rows(...))` and
    `accrual_counts(flow_rows(...))`, kept up to date with the committed writes (`_Numbers`)."""
    if not dataversion.enabled():
        rows = flow_rows(site_ids, today)
        return consort(rows), accrual_counts(rows)
    return _kept(site_ids, today, _Numbers.report_numbers)


def not_randomized_boxes(site_ids: set[int] | None, today: dt.date) -> list[tuple[int, str, str]]:
    """(patient id, box, reason) of every screened patient not randomized, in the list's order; kept like
    `report_numbers`. The page then loads only the patients it shows."""
    if not dataversion.enabled():
        return [(row.patient_id, row.box.value, row.reason)
                for row in flow_rows(site_ids, today, exclude_randomized=True) if row.box in NOT_RANDOMIZED]
    return _kept(site_ids, today, _Numbers.not_randomized)


def _kept(site_ids, today, read):
    return dataversion.kept("flows", dataversion.scope_key(site_ids), today,
                            build=lambda: _Numbers.build(site_ids, today),
                            update=lambda numbers, logged: numbers.update(logged), read=read)


# What a committed write can change in `flow_rows` (issue 21: recomputing 100,000 patients after every write
# took 7-10 s). The flat query reads these tables and no other (a test compares them with its SQL): a record of
# a model below names the patient whose row may have moved; a record of any other model cannot move a row.
FLOW_PATIENT = Patient._meta.label_lower  # the record is the patient (object id)
FLOW_PER_PATIENT = frozenset(model._meta.label_lower for model in (  # records with the patient's `patient_id`
    Screening, LabPanel, PrimaryRegistration, ResponseEvaluation, SecondaryRegistration, OffStudy, Allocation))
FLOW_TRIAL_WIDE = frozenset(model._meta.label_lower for model in (Site, TherapyPlan))  # order of sites, plans
MAX_PATCHED = 5_000  # more patients changed: classify the scope again in one query instead


def changed_patients(logged) -> set[int] | None:
    """The patients whose `flow_rows` row the logged changes may have moved; None: possibly every patient.

    A lab panel belongs to its patient and is read only by her screening and evaluation (the services create
    it with them), so its `patient_id` names the one row it can move."""
    return dataversion.patients_changed(logged, patient=FLOW_PATIENT, per_patient=FLOW_PER_PATIENT,
                                        trial_wide=FLOW_TRIAL_WIDE)


class _Numbers:
    """A scope's classification kept per patient, with the counts `report_numbers` returns and the entries of
    `not_randomized_boxes`, patched patient by patient (`update`) instead of recomputed.

    Exactly what the full computation gives: the same rows (`flow_row_queryset`, restricted to the changed
    patients) decide the same boxes (`_place_values`); each changed patient's old contributions are taken
    away and her new ones added, so every count is the one a recount gives (zero counts removed, as a
    recount never creates them; the boxes keep all seven keys, as `consort` does). The list is kept sorted
    by (rank of the site's code in the database's order, sequence): the order of `flow_row_queryset`
    ((site, sequence) is unique), with the database's own collation. It holds the patients the full list
    query selects: not at stage "randomized" (a randomized patient taken off study stays out of it) and
    not in the box "randomized".
    """

    def __init__(self, site_ids, today):
        self.site_ids, self.today = site_ids, today
        self.site_rank = {pk: n for n, pk in enumerate(Site.objects.order_by("code").values_list("pk", flat=True))}
        self.patients: dict[int, tuple] = {}  # id -> (site id, box, reason, 3 accrual months, list entry)
        self.boxes: Counter = Counter(dict.fromkeys(Box, 0))
        self.reasons: dict[Box, Counter] = {box: Counter() for box in Box}
        self.accrual: Counter = Counter()
        self.listed: list[tuple] = []  # sorted (site rank, sequence, id, box, reason)
        self._entries: list[tuple[int, str, str]] | None = None
        self._months: dict[dt.date, dt.date] = {}  # one object per month (100,000 patients share ~100)

    @classmethod
    def build(cls, site_ids, today) -> _Numbers:
        for _attempt in range(3):
            numbers = cls(site_ids, today)
            try:
                for patient_id, placed in numbers._placed(None):
                    numbers._add(patient_id, placed)
            except _UnknownSite:  # a site created between the two queries: read the sites' order again
                continue
            numbers.listed.sort()
            return numbers
        raise RuntimeError("sites keep being created during the classification")

    def update(self, logged) -> bool:
        ids = changed_patients(logged)
        if ids is None or len(ids) > MAX_PATCHED:
            return False
        if not ids:
            return True
        try:
            found = dict(self._placed(ids))  # read before anything changes
        except _UnknownSite:  # a patient at a site the ranks do not know (created since): build again
            return False
        for patient_id in ids:
            old = self.patients.pop(patient_id, None)
            if old is not None:
                self._count(old, -1)
                if old[-1] is not None:
                    del self.listed[bisect.bisect_left(self.listed, old[-1])]
            placed = found.get(patient_id)
            if placed is not None:
                self._add(patient_id, placed, insort=True)
        self._entries = None
        return True

    def _placed(self, patient_ids):
        """(id, placed) of the scope's screened patients (of `patient_ids` only, if given)."""
        today, rank, months = self.today, self.site_rank, self._months
        for row in flow_row_queryset(self.site_ids, patient_ids=patient_ids):
            box, reason, _close = _place_values(row, _failed_of(row), today)
            allocated_at = row["allocation__allocated_at"]
            dates = (row["first_screening_date"], row["primary_registration__registration_date"],
                     timezone.localdate(allocated_at) if allocated_at else None)
            month_of = tuple(None if day is None else months.setdefault(_month(day), _month(day)) for day in dates)
            listed = box in NOT_RANDOMIZED and row["stage"] != Patient.Stage.RANDOMIZED
            if row["site_id"] not in rank:
                raise _UnknownSite
            entry = (rank[row["site_id"]], row["sequence"], row["pk"], box.value, reason) if listed else None
            yield row["pk"], (row["site_id"], box, reason, *month_of, entry)

    def _add(self, patient_id, placed, insort=False):
        self.patients[patient_id] = placed
        self._count(placed, 1)
        entry = placed[-1]
        if entry is not None:
            if insort:
                bisect.insort(self.listed, entry)
            else:
                self.listed.append(entry)

    def _count(self, placed, sign):
        site_id, box, reason, *months, _entry = placed
        self.boxes[box] += sign
        if reason:
            _move(self.reasons[box], reason, sign)
        for key, month in zip(("screened", "primary", "randomized"), months, strict=True):
            if month is not None:
                _move(self.accrual, (site_id, key, month), sign)

    def report_numbers(self) -> tuple[Consort, Counter]:
        """Copies: the caller may keep or change them."""
        return (Consort(boxes=Counter(self.boxes), reasons={box: Counter(c) for box, c in self.reasons.items()}),
                Counter(self.accrual))

    def not_randomized(self) -> list[tuple[int, str, str]]:
        if self._entries is None:
            self._entries = [(patient_id, box, reason) for _rank, _sequence, patient_id, box, reason in self.listed]
        return list(self._entries)


class _UnknownSite(Exception):
    pass


def _move(counter: Counter, key, sign: int) -> None:
    counter[key] += sign
    if not counter[key]:
        del counter[key]


# --------------------------------------------------------------------------------------------------
# CONSORT
# --------------------------------------------------------------------------------------------------


@dataclass
class Consort:
    boxes: Counter  # Box -> patients
    reasons: dict[Box, Counter]  # Box -> reason -> patients

    @property
    def screened(self) -> int:
        return sum(self.boxes.values())

    @property
    def eligible(self) -> int:
        return self.screened - self.boxes[Box.SCREENING] - self.boxes[Box.SCREEN_FAILED]

    @property
    def primary_registered(self) -> int:
        return self.eligible - self.boxes[Box.ELIGIBLE]

    @property
    def not_randomized_after_primary(self) -> int:
        return sum(self.boxes[b] for b in (Box.OFF_STUDY, Box.WINDOW_MISSED, Box.BEFORE_SECONDARY))

    @property
    def randomized(self) -> int:
        return self.boxes[Box.RANDOMIZED]

    def arm(self, arm: str) -> int:
        return self.reasons[Box.RANDOMIZED][arm]

    def breakdown(self, box: Box) -> list[tuple[str, str, int]]:
        """(reason code, label, patients) of a box, in protocol / choice order."""
        counts = self.reasons[box]
        if box == Box.SCREEN_FAILED:
            codes = sorted(counts, key=criterion_sort_key)
        elif box == Box.OFF_STUDY:
            codes = [c for c in OffStudy.Reason.values if counts[c]] + sorted(set(counts) - set(OffStudy.Reason.values))
        elif box == Box.RANDOMIZED:
            codes = [*Arm.values, *sorted(set(counts) - set(Arm.values))]
        elif box == Box.BEFORE_SECONDARY:
            codes = [str(s) for s in windows.Status if counts[str(s)]]
        else:
            codes = sorted(counts)
        return [(code, reason_label(box, code), counts[code]) for code in codes]

    def terminal(self) -> list[tuple[Box, str, int]]:
        return [(box, str(box.label), self.boxes[box]) for box in TERMINAL_ORDER]


def consort(flows: list[Flow]) -> Consort:
    boxes: Counter = Counter(dict.fromkeys(Box, 0))
    reasons: dict[Box, Counter] = {box: Counter() for box in Box}
    for flow in flows:
        boxes[flow.box] += 1
        if flow.reason:
            reasons[flow.box][flow.reason] += 1
    return Consort(boxes=boxes, reasons=reasons)


# The diagram: geometry only (the template draws rect, line and text; no script, no style attributes).
MAIN_X, MAIN_W = 10, 250
SIDE_X, SIDE_W = 320, 500
LINE = 17
INDENT = 18
PAD = 10
GAP = 34
WIDTH = SIDE_X + SIDE_W + 10


@dataclass
class DiagramBox:
    id: str
    x: int
    y: int
    w: int
    lines: list[tuple]  # (text, bold) or (text, bold, indented)
    kind: str = "main"  # main / side / arm

    @property
    def h(self) -> int:
        return PAD * 2 + LINE * len(self.lines) - 4

    @property
    def texts(self):
        return [{"x": self.x + PAD + (INDENT if rest and rest[0] else 0), "y": self.y + PAD + 10 + LINE * n,
                 "text": text, "bold": bold} for n, (text, bold, *rest) in enumerate(self.lines)]


FONT_PX = 12  # the diagram's font size: a wide (CJK) character is about 1 em, any other about 0.6 em


def _text_px(text: str) -> float:
    return sum(FONT_PX if unicodedata.east_asian_width(ch) in "WF" else FONT_PX * 0.6 for ch in text)


def _wrap(text: str, width_px: float) -> list[str]:
    """`text` cut into lines of at most `width_px` (issue 20: a long criterion ran out of its box on Japanese
    pages, where a character is twice as wide). Breaks at a space when there is one, else anywhere."""
    lines, current = [], ""
    for ch in text:
        if current and _text_px(current + ch) > width_px:
            cut = current.rfind(" ")
            if cut > len(current) // 2:
                lines.append(current[:cut])
                current = current[cut + 1:]
            else:
                lines.append(current)
                current = ""
        current += ch
    return [*lines, current] if current or not lines else lines


def _indented(text: str) -> list[tuple]:
    """A breakdown line of a side box ("P5 ...: n"), wrapped inside the box, every part indented."""
    return [(part, False, True) for part in _wrap(text, SIDE_W - 2 * PAD - INDENT)]


def diagram(c: Consort, after: dict | None = None, *, by_arm: bool = True) -> dict:
    """Boxes and arrows of the CONSORT diagram from the live counts; `after` ({arm: followup.selectors.ArmFlow})
    continues each arm past randomization (FOLLOWUP.md).

    `by_arm` False (site staff and monitors): one pooled box under "randomized", no count per arm. Arm counts
    by site are an allocation internal (issue 13: "the arm with fewer at my site" guessed the next one)."""
    boxes: list[DiagramBox] = []
    arrows: list[dict] = []
    y = 10

    def count(label, n):
        return f"{label}: n = {n}"

    stages = [
        ("screened", count(gettext("Screened"), c.screened), [
            (count(gettext("Not eligible or not yet decided"), c.boxes[Box.SCREENING] + c.boxes[Box.SCREEN_FAILED]),
             True),
            (count(str(Box.SCREENING.label), c.boxes[Box.SCREENING]), False),
            (count(str(Box.SCREEN_FAILED.label), c.boxes[Box.SCREEN_FAILED]), False),
            *[part for _code, label, n in c.breakdown(Box.SCREEN_FAILED) for part in _indented(f"{label}: {n}")],
        ]),
        ("eligible", count(gettext("Eligible"), c.eligible), [
            (count(str(Box.ELIGIBLE.label), c.boxes[Box.ELIGIBLE]), True),
        ]),
        ("primary", count(gettext("Primary registered"), c.primary_registered), [
            (count(gettext("Not randomized"), c.not_randomized_after_primary), True),
            (count(str(Box.OFF_STUDY.label), c.boxes[Box.OFF_STUDY]), False),
            *[part for _code, label, n in c.breakdown(Box.OFF_STUDY) for part in _indented(f"{label}: {n}")],
            (count(str(Box.WINDOW_MISSED.label), c.boxes[Box.WINDOW_MISSED]), False),
            *[part for _code, label, n in c.breakdown(Box.WINDOW_MISSED) for part in _indented(f"{label}: {n}")],
            (count(str(Box.BEFORE_SECONDARY.label), c.boxes[Box.BEFORE_SECONDARY]), False),
            *[part for _code, label, n in c.breakdown(Box.BEFORE_SECONDARY) for part in _indented(f"{label}: {n}")],
        ]),
        ("randomized", count(gettext("Randomized"), c.randomized), []),
    ]
    previous = None
    for key, title, side in stages:
        main = DiagramBox(key, MAIN_X, y, MAIN_W, [(title, True)])
        boxes.append(main)
        if previous is not None:
            arrows.append({"x1": MAIN_X + MAIN_W // 2, "y1": previous.y + previous.h,
                           "x2": MAIN_X + MAIN_W // 2, "y2": main.y - 2})
        height = main.h
        if side:
            side_box = DiagramBox(f"{key}-excluded", SIDE_X, y + main.h + GAP // 2, SIDE_W, side, "side")
            boxes.append(side_box)
            mid = side_box.y + 6 + LINE // 2
            arrows.append({"x1": MAIN_X + MAIN_W // 2, "y1": mid, "x2": SIDE_X - 2, "y2": mid, "branch": True})
            height = main.h + GAP // 2 + side_box.h
        y += height + GAP
        previous = main
    # The arms, side by side under "randomized" (or both together, pooled).
    arm_w = (MAIN_W + SIDE_W) // 2
    columns = [(arm, count(gettext("Arm %(arm)s") % {"arm": arm}, c.arm(arm)), str(label), (after or {}).get(arm))
               for arm, label in Arm.choices]
    if not by_arm:
        flows = [f for f in (after or {}).values() if f is not None]
        pooled = (ArmFlow(**{k: sum(getattr(f, k) for f in flows) for k in vars(ArmFlow())})
                  if after is not None else None)
        columns = [("pooled", count(gettext("Randomized"), c.randomized), str(gettext("Both arms together")),
                    pooled)]
    for n, (arm, title, label, flow) in enumerate(columns):
        texts = [(title, True), (label, False)]
        if flow is not None:
            texts += [
                (count(gettext("Received the allocated intervention") if arm != Arm.A else
                       gettext("Received the allocated intervention (no local therapy outside the protocol)"),
                       flow.received), False),
                (count(gettext("Discontinued the intervention"), flow.discontinued), False),
                (count(gettext("Lost to follow-up"), flow.lost), False),
                (count(gettext("Withdrawn (visits or data use)"), flow.withdrawn), False),
                (count(gettext("Analysed"), flow.analysed), True),
            ]
        box = DiagramBox(f"arm-{arm}", MAIN_X + n * (arm_w + 60), y, arm_w, texts, "arm")
        boxes.append(box)
        arrows.append({"x1": MAIN_X + MAIN_W // 2, "y1": previous.y + previous.h,
                       "x2": box.x + arm_w // 2, "y2": box.y - 2})
    height = y + max(b.h for b in boxes if b.kind == "arm") + 10
    return {"boxes": boxes, "arrows": arrows, "width": WIDTH, "height": height}


# --------------------------------------------------------------------------------------------------
# Accrual by site over time
# --------------------------------------------------------------------------------------------------

MEASURES = (
    ("screened", _("Screened")),
    ("primary", _("Primary registered")),
    ("randomized", _("Randomized")),
)
# Okabe-Ito colours (readable with colour-blindness), and a dash pattern per site: colour is never the only
# signal (each line is also labelled with its site code at its end).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999", "#F0E442"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4", "3 6"]


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    months, current = [], _month(first)
    while current <= last:
        months.append(current)
        current = (current + dt.timedelta(days=32)).replace(day=1)
    return months


@dataclass
class SiteSeries:
    site: Site
    monthly: dict[str, list[int]]  # measure -> new patients per month
    cumulative: dict[str, list[int]]  # measure -> cumulative per month


@dataclass
class Accrual:
    months: list[dt.date]
    series: list[SiteSeries]  # one per site, then the total (site None)
    this_month: dt.date

    @property
    def total(self) -> SiteSeries:
        return self.series[-1]

    def this_month_rows(self):
        """(site, screened, primary, randomized) new in the current month, per site and the total."""
        if not self.months:
            return []
        index = len(self.months) - 1
        return [(s.site, *(s.monthly[key][index] for key, _label in MEASURES)) for s in self.series]

    def tables(self):
        """Per measure: (label, rows of (month, [cumulative per site..., total]))."""
        out = []
        for key, label in MEASURES:
            rows = [(month, [s.cumulative[key][i] for s in self.series]) for i, month in enumerate(self.months)]
            out.append((key, label, rows))
        return out


def accrual_counts(flows) -> Counter:
    """New patients per (site id, measure, month): what the accrual tables and charts are drawn from."""
    counts: Counter = Counter()
    for flow in flows:
        for key, day in (("screened", flow.first_screening_date), ("primary", flow.primary_date),
                         ("randomized", flow.randomized_on)):
            if day is not None:
                counts[(flow.site_id, key, _month(day))] += 1
    return counts


def accrual(flows, sites: list[Site], today: dt.date | None = None) -> Accrual:
    """Accrual by site and month from `Flow`s or `FlowRow`s."""
    return accrual_from_counts(accrual_counts(flows), sites, today)


def accrual_from_counts(counts: Counter, sites: list[Site], today: dt.date | None = None) -> Accrual:
    today = today or timezone.localdate()
    this_month = _month(today)
    dated_months = [month for _site, _key, month in counts]
    months = _months(min([*dated_months, this_month]), max([*dated_months, this_month]))
    index = {month: n for n, month in enumerate(months)}

    def empty():
        return {key: [0] * len(months) for key, _label in MEASURES}

    by_site = {site.pk: SiteSeries(site, empty(), {}) for site in sites}
    total = SiteSeries(None, empty(), {})
    for (site_id, key, month), n in counts.items():
        total.monthly[key][index[month]] += n
        series = by_site.get(site_id)
        if series is not None:
            series.monthly[key][index[month]] += n
    result = [*by_site.values(), total]
    for series in result:
        for key, _label in MEASURES:
            running, cumulative = 0, []
            for value in series.monthly[key]:
                running += value
                cumulative.append(running)
            series.cumulative[key] = cumulative
    return Accrual(months=months, series=result, this_month=this_month)


CHART_W, CHART_H = 640, 240
TICK_PX = 56
LEFT, RIGHT, TOP, BOTTOM = 44, 110, 14, 36


def accrual_charts(acc: Accrual) -> list[dict]:
    """One line chart per measure: cumulative patients by month, a line per site and a bold total."""
    charts = []
    months = acc.months
    span = max(len(months) - 1, 1)
    # Taller with many sites, so that every line's end label has its own row.
    plot_h = max(CHART_H - TOP - BOTTOM, 13 * len(acc.series) + 8)
    plot_w, height = CHART_W - LEFT - RIGHT, TOP + plot_h + BOTTOM
    # A month label ("2026-12", 11 px font) needs about TICK_PX: no closer than that, whatever the span.
    step = max(1, math.ceil(TICK_PX * span / plot_w))
    for key, label in MEASURES:
        largest = max([1, *(s.cumulative[key][-1] if months else 0 for s in acc.series)])

        def x(i):
            return LEFT + round(plot_w * i / span) if len(months) > 1 else LEFT + plot_w // 2

        def y(value, largest=largest):
            return TOP + plot_h - round(plot_h * value / largest)

        lines = []
        for n, series in enumerate(acc.series):
            values = series.cumulative[key]
            is_total = series.site is None
            lines.append({
                "points": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
                "colour": "#212529" if is_total else PALETTE[n % len(PALETTE)],
                "dash": "" if is_total else DASHES[n % len(DASHES)], "width": 3 if is_total else 2,
                "label": (gettext("Total") if is_total else series.site.code) + f" {values[-1] if values else 0}",
                "label_x": x(len(values) - 1) + 6, "label_y": (y(values[-1]) if values else TOP + plot_h) + 4,
            })
        _spread_labels(lines, top=TOP + 8, bottom=TOP + plot_h + 4)
        last = len(months) - 1
        # Every step-th month and the last one; a step month too close to the last is left out (their labels
        # overlapped: "2026-112026-12").
        ticks = [{"x": x(i), "text": month.strftime("%Y-%m")} for i, month in enumerate(months)
                 if i == last or (i % step == 0 and last - i >= step)]
        charts.append({
            "key": key, "label": label, "lines": lines, "ticks": ticks, "width": CHART_W, "height": height,
            "axis_x0": LEFT, "axis_x1": LEFT + plot_w, "axis_y0": TOP, "axis_y1": TOP + plot_h,
            "tick_label_y": TOP + plot_h + 16, "largest": largest, "largest_y": TOP + 4, "zero_y": TOP + plot_h + 4,
            "ylabel_x": LEFT - 6,
        })
    return charts


def _spread_labels(lines: list[dict], *, top: int, bottom: int, gap: int = 12) -> None:
    """Move the end labels apart (at least `gap` pixels) and inside [top, bottom], keeping their order.
    The top limit is applied first: applied last, it pushed labels at the top back onto each other."""
    for line in lines:
        line["label_y"] = max(line["label_y"], top)
    ordered = sorted(lines, key=lambda line: line["label_y"])
    for previous, line in zip(ordered, ordered[1:], strict=False):
        line["label_y"] = max(line["label_y"], previous["label_y"] + gap)
    overflow = ordered[-1]["label_y"] - bottom if ordered else 0
    if overflow > 0:
        for line in ordered:
            line["label_y"] -= overflow
        for later, line in reversed(list(zip(ordered[1:], ordered, strict=False))):
            line["label_y"] = min(line["label_y"], later["label_y"] - gap)


def sites_for_report(site_ids: set[int] | None) -> list[Site]:
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(id__in=site_ids)
    return list(sites.order_by("code"))
