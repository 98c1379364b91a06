"""Reads that span the follow-up models: treatment facts for safety reporting, each randomized patient's
endpoint facts (F1-F5 through followup/endpoints.py), all in a bounded number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, timedelta

from django.db.models import Exists, FilteredRelation, Max, Min, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils.translation import get_language, gettext

from oligami_site import dataversion
from randomization.models import Allocation, Arm
from registration import courses
from registration.models import SecondaryRegistration
from screening.deadlines import PatientDeadline, ids_at
from screening.models import Patient

from . import endpoints, km, schedule
from .models import (
    Assessment,
    Contamination,
    Death,
    FollowupSettings,
    FollowupSurvey,
    LastKnownAlive,
    LostToFollowUp,
    MetastasisDirectedTherapy,
    ScheduleRule,
    SystemicCourse,
    Withdrawal,
)


@dataclass(frozen=True)
class TreatmentFacts:
    start_date: date | None  # first day of the first systemic course after primary registration
    last_day: date | None  # last protocol treatment day (FOLLOWUP.md): latest end of a course or an MDT
    ongoing: bool  # any course or MDT ongoing


NO_TREATMENT = TreatmentFacts(start_date=None, last_day=None, ongoing=False)


def treatment_facts(patient) -> TreatmentFacts:
    pk = patient.pk if isinstance(patient, Patient) else patient
    return treatment_facts_for([pk]).get(pk, NO_TREATMENT)


def treatment_facts_for(patient_ids: Iterable[int]) -> dict[int, TreatmentFacts]:
    """{patient id: TreatmentFacts} of every given patient, in two queries whatever their number.

    "Last protocol treatment day" is the latest end date of any systemic course or metastasis-directed
    therapy given under the protocol (courses are recorded from primary registration on; MDT in arm B
    only; contamination in arm A is not protocol treatment). While something is ongoing, `last_day` is
    the latest end so far and `ongoing` is True: the safety clock has not started yet.
    """
    ids = list(patient_ids)
    if not ids:
        return {}
    rows = defaultdict(lambda: {"start": None, "end": None, "ongoing": False})
    aggregates = {"start": Min("start_date"), "end": Max("end_date"),
                  "open": Max("id", filter=Q(end_date__isnull=True))}
    for model in (SystemicCourse, MetastasisDirectedTherapy):
        for row in model.objects.filter(patient_id__in=ids).values("patient_id").annotate(**aggregates).order_by():
            facts = rows[row["patient_id"]]
            if model is SystemicCourse:
                facts["start"] = row["start"]
            if row["end"] is not None and (facts["end"] is None or row["end"] > facts["end"]):
                facts["end"] = row["end"]
            facts["ongoing"] = facts["ongoing"] or row["open"] is not None
    return {pk: TreatmentFacts(start_date=rows[pk]["start"], last_day=rows[pk]["end"], ongoing=rows[pk]["ongoing"])
            if pk in rows else NO_TREATMENT for pk in ids}


def recorded_courses(patient_id: int, since: date, until: date) -> list[courses.Course]:
    """The patient's systemic therapy courses started from `since` to `until` (inclusive): S1's fact, read by
    registration through registration.courses (registered in FollowupConfig.ready). One query."""
    rows = (SystemicCourse.objects.filter(patient_id=patient_id, start_date__gte=since, start_date__lte=until)
            .order_by("start_date", "number")
            .values_list("number", "plan_id", "plan__name", "plan__regimen", "plan__regimen_ja", "start_date",
                         "end_date", "stopped_early"))
    japanese = (get_language() or "").startswith("ja")  # as TherapyPlan.regimen_text: Japanese when given

    def label(name, regimen, regimen_ja):
        return name or (regimen_ja if japanese and regimen_ja else regimen)

    return [courses.Course(number=number, plan_id=plan_id, regimen=label(name, regimen, regimen_ja), start_date=start,
                           end_date=end, stopped_early=stopped)
            for number, plan_id, name, regimen, regimen_ja, start, end, stopped in rows]


# --- endpoints --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientFollowup:
    """A randomized patient's follow-up as the pages, exports and pictures need it."""

    patient_id: int
    origin: date
    facts: endpoints.Facts
    result: endpoints.Endpoints
    death_cause: str | None
    lost_to_follow_up: bool


def randomized_patients(queryset=None):
    """Randomized patients (stage randomized, with a secondary registration), their origin as `origin`."""
    queryset = queryset if queryset is not None else Patient.objects.all()
    return queryset.filter(stage=Patient.Stage.RANDOMIZED, secondary_registration__isnull=False)


FOLLOWUP_FIELDS = ("id", "secondary_registration__registration_date", "death__date", "death__cause",
                   "withdrawal__date", "withdrawal__kind", "lost_to_follow_up__id")


def _latest_alive():
    """The patient's latest recorded date known alive (the index on (patient, date) answers it)."""
    return Subquery(LastKnownAlive.objects.filter(patient=OuterRef("pk")).order_by("-date").values("date")[:1])


def followup_rows(patients, *fields) -> list[tuple[PatientFollowup, tuple]]:
    """The randomized patients of `patients` (a queryset scoped by the caller, in its order), each as
    (PatientFollowup, the values of `fields`: field paths or expressions, as `values_list` takes them), in
    two queries whatever their number: the patients with their one-to-one facts (death, withdrawal, lost to
    follow-up) and latest date known alive, then their assessments, chosen by a subquery of the same scope
    (never a list of ids: building and sending one cost about a second at 3,000 randomized patients)."""
    scope = randomized_patients(patients)
    rows = list(scope.values_list(*FOLLOWUP_FIELDS, _latest_alive(), *fields))
    if not rows:
        return []
    assessments = defaultdict(list)
    for pid, day, progression in Assessment.objects.filter(patient__in=scope.values("pk")).values_list(
            "patient_id", "date", "progression").order_by():
        assessments[pid].append(endpoints.Assessment(day, progression))
    width = len(FOLLOWUP_FIELDS) + 1
    found = []
    for row in rows:
        pid, origin, death_date, cause, withdrawn_on, kind, lost, alive = row[:width]
        found.append((patient_followup(
            pid, origin, assessments=assessments.get(pid, ()), last_known_alive=alive,
            death=None if death_date is None else (death_date, cause),
            withdrawal=None if withdrawn_on is None else endpoints.Withdrawal(withdrawn_on, kind),
            lost=lost is not None), row[width:]))
    return found


def patient_followup(patient_id: int, origin: date, *, assessments: Iterable[endpoints.Assessment],
                     last_known_alive: date | None, death: tuple[date, str] | None,
                     withdrawal: endpoints.Withdrawal | None, lost: bool) -> PatientFollowup:
    """One randomized patient's PatientFollowup from her facts as read: `death` is (date, cause) and
    `last_known_alive` the latest recorded date. Written once for `followup_rows` (many patients in two
    queries) and the analysis export (oversight.exports, which streams the same facts patient by patient)."""
    facts = endpoints.Facts(randomization_date=origin, assessments=tuple(assessments),
                            last_known_alive=last_known_alive, death_date=death[0] if death else None,
                            withdrawal=withdrawal)
    return PatientFollowup(patient_id=patient_id, origin=origin, facts=facts, result=endpoints.compute(facts),
                           death_cause=death[1] if death else None, lost_to_follow_up=lost)


def followup_for(patients) -> dict[int, PatientFollowup]:
    """{patient id: PatientFollowup} of the randomized patients of `patients` (a queryset, scoped by the
    caller); `followup_rows`' two queries whatever their number."""
    return {f.patient_id: f for f, _extra in followup_rows(patients.order_by())}


def followup_of(patient) -> PatientFollowup | None:
    pk = patient.pk if isinstance(patient, Patient) else patient
    return followup_for(Patient.objects.filter(pk=pk)).get(pk)


# --- follow-up surveys ---------------------------------------------------------------------------------


@dataclass
class SurveyRow:
    patient_id: int
    screening_number: str
    registration_number: str
    site_id: int
    site_code: str
    origin: date
    last_known_alive: date | None  # F1's date known alive (recorded, assessments, origin), None when dead
    death_date: date | None
    withdrawal: endpoints.Withdrawal | None
    lost: bool
    entry_status: str | None  # the site's confirmation for this survey
    entry_alive: date | None
    state: str  # "confirmed" | "dead" | "lost" | "withdrawn" | "to_update"
    status_unknown: bool


COMPLETE_STATES = ("confirmed", "dead", "lost", "withdrawn")


def open_survey():
    """The follow-up survey the sites are answering now (the latest not closed), or None."""
    return FollowupSurvey.objects.filter(closed_at__isnull=True).order_by("-cutoff_date").first()


def status_unknown_days() -> int | None:
    return FollowupSettings.objects.values_list("status_unknown_days", flat=True).first()


def mdt_start_days() -> int | None:
    """Days after randomization within which MDT should start in arm B (trial configuration), or None."""
    return FollowupSettings.objects.values_list("mdt_start_days", flat=True).first()


def survey_rows(survey, patients) -> list[SurveyRow]:
    """Every randomized patient of `patients` (a queryset, already scoped to the user's sites) randomized on
    or before the survey's cut-off, with what the survey needs of them; a constant number of queries."""
    cutoff = survey.cutoff_date
    # The survey's entry of each patient: a LEFT JOIN on the unique (survey, patient), no list of ids.
    scoped = (patients.filter(secondary_registration__registration_date__lte=cutoff)
              .annotate(entry=FilteredRelation("survey_entries", condition=Q(survey_entries__survey=survey)))
              .order_by("site__code", "sequence"))
    followups = followup_rows(scoped, "screening_number", "primary_registration__number", "site_id", "site__code",
                              "entry__status", "entry__last_known_alive")
    threshold = status_unknown_days()
    rows = []
    for f, (number, registration_number, site_id, site_code, entry_status, entry_alive) in followups:
        pid, origin = f.patient_id, f.origin
        death = f.facts.death_date
        withdrawal = f.facts.withdrawal
        alive = None if death is not None else endpoints.last_known_alive(endpoints.usable_facts(f.facts))
        if entry_status is not None:
            state = "confirmed"
        elif death is not None and death <= cutoff:
            state = "dead"
        elif f.lost_to_follow_up:
            state = "lost"
        elif withdrawal is not None and withdrawal.kind == endpoints.WITHDRAWAL_ALL_DATA and withdrawal.date <= cutoff:
            state = "withdrawn"  # nothing after the withdrawal date may be collected (FOLLOWUP.md)
        else:
            state = "to_update"
        unknown = (state == "to_update" and threshold is not None and alive is not None
                   and (cutoff - alive).days > threshold)
        rows.append(SurveyRow(patient_id=pid, screening_number=number, registration_number=registration_number or "",
                              site_id=site_id, site_code=site_code, origin=origin, last_known_alive=alive,
                              death_date=death, withdrawal=withdrawal, lost=f.lost_to_follow_up,
                              entry_status=entry_status, entry_alive=entry_alive,
                              state=state, status_unknown=unknown))
    return rows


def _patients_of(site_ids: set[int] | None):
    return Patient.objects.all() if site_ids is None else Patient.objects.filter(site_id__in=site_ids)


_SURVEY_ROW_FIELDS = tuple(f.name for f in fields(SurveyRow))


def survey_rows_of_sites(survey, site_ids: set[int] | None, today: date) -> list[SurveyRow]:
    """`survey_rows` of the patients of `site_ids` (None: every site), reused while no audited write has
    committed and the day is the same (oligami_site.dataversion): the page and the data manager's home ask
    for every randomized patient's follow-up, seconds at 100,000 patients. The rows carry nothing of the
    language. A fresh list each time (the cache hands out copies), so callers may annotate its rows.

    Cached as plain tuples, rebuilt into rows on the way out: the cache unpickles its entry on every hit, and
    30,000 dataclass instances took 0.13-0.27 s to unpickle at 100,000 bench patients, tuples about a third."""
    def compute():
        return [tuple(getattr(row, name) for name in _SURVEY_ROW_FIELDS)
                for row in survey_rows(survey, _patients_of(site_ids))]

    values = dataversion.cached(f"survey-rows-{survey.pk}", dataversion.scope_key(site_ids), today, compute)
    return [SurveyRow(*row) for row in values]


def survey_completeness_of_sites(survey, site_ids: set[int] | None, today: date) -> list[SiteCompleteness]:
    """`completeness` of `survey_rows_of_sites`, kept the same way (a few rows per site): the data manager's
    home shows only these, and need not unpickle every patient's row on each visit."""
    return dataversion.cached(f"survey-completeness-{survey.pk}", dataversion.scope_key(site_ids), today,
                              lambda: completeness(survey_rows_of_sites(survey, site_ids, today)))


@dataclass(frozen=True)
class StatusAsOf:
    patient_id: int
    site_id: int
    known: bool


def status_as_of(patients, cutoff: date) -> list[StatusAsOf]:
    """Each patient of `patients` randomized on or before `cutoff`, with whether the status at the cut-off is
    known (follow-up complete as of it): died, or withdrew all data use, on or before it; lost to follow-up
    (an ascertained status); or known alive (F1's date) no earlier than status_unknown_days before it (the
    surveys' threshold; without one, on or after the cut-off). A constant number of queries."""
    followups = followup_rows(patients.filter(secondary_registration__registration_date__lte=cutoff).order_by(),
                              "site_id")
    earliest = cutoff - timedelta(days=status_unknown_days() or 0)
    result = []
    for f, (site_id,) in followups:
        pid = f.patient_id
        death, withdrawal = f.facts.death_date, f.facts.withdrawal
        known = ((death is not None and death <= cutoff) or f.lost_to_follow_up
                 or (withdrawal is not None and withdrawal.kind == endpoints.WITHDRAWAL_ALL_DATA
                     and withdrawal.date <= cutoff)
                 or endpoints.last_known_alive(endpoints.usable_facts(f.facts)) >= earliest)
        result.append(StatusAsOf(pid, site_id, bool(known)))
    return result


@dataclass
class SiteCompleteness:
    site_code: str
    total: int
    complete: int

    @property
    def percent(self) -> int:
        return round(100 * self.complete / self.total) if self.total else 100


def completeness(rows: list[SurveyRow]) -> list[SiteCompleteness]:
    by_site: dict[str, SiteCompleteness] = {}
    for row in rows:
        site = by_site.setdefault(row.site_code, SiteCompleteness(row.site_code, 0, 0))
        site.total += 1
        site.complete += row.state in COMPLETE_STATES
    return [by_site[code] for code in sorted(by_site)]


# --- Kaplan-Meier --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalData:
    """(days, event) of OS and PFS per group ("all", or the arms), and the patients left out by F5."""

    os: dict[str, tuple[tuple[int, bool], ...]]
    pfs: dict[str, tuple[tuple[int, bool], ...]]
    unknown: int
    total: int


def survival_data(patients, *, by_arm: bool) -> SurvivalData:
    """From the randomized patients of `patients` (scoped by the caller). `by_arm` is for the statistician
    only (DESIGN.md, blinding): the caller decides, this function only groups."""
    followups = followup_rows(patients, "allocation__arm")
    os_groups, pfs_groups = defaultdict(list), defaultdict(list)
    unknown = 0
    for f, (arm,) in followups:
        result = f.result
        if not result.known:
            unknown += 1
            continue
        group = (arm or "?") if by_arm else "all"
        os_groups[group].append((result.os_days, result.os_event))
        pfs_groups[group].append((result.pfs_days, result.pfs_event))
    return SurvivalData(os={k: tuple(v) for k, v in sorted(os_groups.items())},
                        pfs={k: tuple(v) for k, v in sorted(pfs_groups.items())}, unknown=unknown,
                        total=len(followups))


@dataclass(frozen=True)
class SurvivalCurves:
    """The curves page's computed part: its data and, per chart ("os", "pfs"), km.picture of its groups (None:
    no group). Language-independent: each line and numbers-at-risk row is labelled with its group key ("all",
    or an arm), which the page translates at render (followup.views.curves)."""

    data: SurvivalData
    pictures: dict[str, dict | None]


def survival_curves(site_ids: set[int] | None, *, by_arm: bool, today: date) -> SurvivalCurves:
    """`survival_data` of the patients of `site_ids` (None: every site) and its pictures, reused while no
    audited write has committed and the day is the same (oligami_site.dataversion): every randomized
    patient's follow-up and two Kaplan-Meier estimates, over a second at 10,000 patients.

    Blinding (DESIGN.md): the by-arm result and the pooled one are separate entries (their names differ),
    so a pooled reader can never be handed the statistician's entry, whatever the scope."""
    def compute():
        data = survival_data(_patients_of(site_ids), by_arm=by_arm)
        pictures = {key: km.picture([km.Series(key=group, label=group, observations=obs)
                                     for group, obs in groups.items()]) if groups else None
                    for key, groups in (("os", data.os), ("pfs", data.pfs))}
        return SurvivalCurves(data=data, pictures=pictures)

    name = "survival-curves-by-arm" if by_arm else "survival-curves-pooled"
    return dataversion.cached(name, dataversion.scope_key(site_ids), today, compute)


# --- CONSORT after randomization ----------------------------------------------------------------------


@dataclass
class ArmFlow:
    """CONSORT after randomization for one arm (FOLLOWUP.md "Pictures and who sees them")."""

    allocated: int = 0
    received: int = 0  # arm B: MDT given; arm A: no local therapy outside the protocol (contamination)
    discontinued: int = 0  # withdrawal from protocol treatment
    lost: int = 0  # lost to follow-up, confirmed by the data manager
    withdrawn: int = 0  # no more study visits, or no further data use
    analysed: int = 0  # endpoints known (no F5 contradiction)


ARM_FLOW_FIELDS = tuple(f.name for f in fields(ArmFlow))


def _arm_steps(patients) -> dict[int, tuple[str, tuple[int, ...]]]:
    """{patient id: (arm, what she adds to each ArmFlow field, in ARM_FLOW_FIELDS order)} of the randomized
    patients of `patients`, in a constant number of queries (`followup_rows`, MDT and contamination as EXISTS)."""
    steps = {}
    for f, (arm, with_mdt, contaminated) in followup_rows(
            patients.order_by(), "allocation__arm",  # in no order: sums (no join of the sites)
            Exists(MetastasisDirectedTherapy.objects.filter(patient=OuterRef("pk"))),
            Exists(Contamination.objects.filter(patient=OuterRef("pk")))):
        withdrawal = f.facts.withdrawal
        steps[f.patient_id] = (arm, (
            1,  # allocated
            int(with_mdt if arm == Arm.B else not contaminated),  # received
            int(withdrawal is not None and withdrawal.kind == endpoints.WITHDRAWAL_TREATMENT),  # discontinued
            int(f.lost_to_follow_up),  # lost
            int(withdrawal is not None and withdrawal.kind != endpoints.WITHDRAWAL_TREATMENT),  # withdrawn
            int(f.result.known),  # analysed
        ))
    return steps


def after_randomization(patients) -> dict[str, ArmFlow]:
    """{arm: ArmFlow} of the randomized patients of `patients` (a queryset), in a constant number of queries."""
    totals = _ArmTotals()
    for arm, step in _arm_steps(patients).values():
        totals.add(arm, step, 1)
    return totals.flows()


class _ArmTotals:
    """ArmFlow counts as sums of the patients' steps; an arm outside Arm.values only while someone is in it."""

    def __init__(self):
        self.sums: dict[str, list[int]] = {arm: [0] * len(ARM_FLOW_FIELDS) for arm in Arm.values}

    def add(self, arm, step, sign):
        sums = self.sums.setdefault(arm, [0] * len(ARM_FLOW_FIELDS))
        for n, value in enumerate(step):
            sums[n] += sign * value

    def flows(self) -> dict[str, ArmFlow]:
        return {arm: ArmFlow(*sums) for arm, sums in self.sums.items() if arm in Arm.values or sums[0]}


# What `_arm_steps` reads (a test compares it with its SQL): a record of these names the patient whose step may
# have moved; nothing trial-wide.
ARM_FLOW_PATIENT = Patient._meta.label_lower
ARM_FLOW_PER_PATIENT = frozenset(model._meta.label_lower for model in (
    SecondaryRegistration, Allocation, Assessment, LastKnownAlive, Death, Withdrawal, LostToFollowUp,
    MetastasisDirectedTherapy, Contamination))
MAX_PATCHED = 5_000


class _KeptArmFlows:
    """`after_randomization` of a scope kept per patient and patched with the patients a commit changed
    (oligami_site.dataversion.kept): the same steps (`_arm_steps`), taken away and added again, so the sums are
    those of a full computation (issue 21: 30,000 randomized patients' follow-up took seconds after any write)."""

    def __init__(self, site_ids):
        self.site_ids = site_ids
        self.steps = _arm_steps(_patients_of(site_ids))
        self.totals = _ArmTotals()
        for arm, step in self.steps.values():
            self.totals.add(arm, step, 1)

    def update(self, logged) -> bool:
        ids = dataversion.patients_changed(logged, patient=ARM_FLOW_PATIENT, per_patient=ARM_FLOW_PER_PATIENT,
                                           trial_wide=frozenset())
        if ids is None or len(ids) > MAX_PATCHED:
            return False
        if not ids:
            return True
        found = _arm_steps(_patients_of(self.site_ids).filter(pk__in=ids))
        for pid in ids:
            old = self.steps.pop(pid, None)
            if old is not None:
                self.totals.add(*old, -1)
            new = found.get(pid)
            if new is not None:
                self.steps[pid] = new
                self.totals.add(*new, 1)
        return True


def after_randomization_of_sites(site_ids: set[int] | None, today: date) -> dict[str, ArmFlow]:
    """`after_randomization` of the patients of `site_ids` (None: every site), kept up to date with the committed
    writes (`_KeptArmFlows`)."""
    if not dataversion.enabled():
        return after_randomization(_patients_of(site_ids))
    return dataversion.kept("after-randomization", dataversion.scope_key(site_ids), today,
                            build=lambda: _KeptArmFlows(site_ids), update=lambda kept, logged: kept.update(logged),
                            read=lambda kept: kept.totals.flows())


# --- schedule of assessments: next due and overdue -----------------------------------------------------

DUE_SOON_DAYS = 14  # the worklist shows an assessment from this many days before its window opens


@dataclass
class DueRow:
    patient_id: int
    screening_number: str
    site_code: str
    next_due: schedule.Due | None
    overdue: tuple[schedule.Due, ...]
    arm: str = ""  # the allocated arm, shown beside the patient (issue 15); never an allocation internal
    registration_number: str = ""


def schedule_periods() -> list[schedule.Period]:
    return [schedule.Period(*row) for row in
            ScheduleRule.objects.order_by("from_day").values_list("from_day", "interval_days", "window_days")]


def _followed(patients):
    """Randomized patients still followed with study visits (no death, not lost, visits not withdrawn)."""
    return randomized_patients(patients).filter(death__isnull=True, lost_to_follow_up__isnull=True).exclude(
        withdrawal__kind__in=(endpoints.WITHDRAWAL_VISITS, endpoints.WITHDRAWAL_ALL_DATA))


def _assessment_dates(patients) -> dict[int, list[date]]:
    """{patient id: assessment dates} of `patients`: a queryset of patient ids (a subquery: no list that grows
    with the trial) or a page's ids."""
    dates = defaultdict(list)
    for pid, day in Assessment.objects.filter(patient__in=patients).values_list("patient_id", "date").order_by():
        dates[pid].append(day)
    return dates


def assessments_due(patients, today: date, *, within_days: int | None = DUE_SOON_DAYS) -> list[DueRow]:
    """Randomized patients of `patients` (scoped by the caller) still followed with study visits whose next
    assessment's window opens within `within_days` (None: whenever it is, as the calendar feed shows it), or
    with an overdue one; overdue first, then by date. Not the dead, the lost to follow-up, nor those withdrawn
    from visits or from all data use (withdrawn from treatment only: follow-up continues, FOLLOWUP.md).
    A constant number of queries: the schedule, the patients, their assessments and the stops."""
    periods = schedule_periods()
    if not periods:
        return []
    rows = list(_followed(patients).values_list("id", "screening_number", "site__code",
                                                "secondary_registration__registration_date", "allocation__arm",
                                                "primary_registration__number"))
    dates = _assessment_dates(_followed(patients).values("pk"))
    result = []
    horizon = today + timedelta(days=within_days) if within_days is not None else None
    for pid, number, site_code, origin, arm, registration_number in rows:
        status = schedule.status(origin, periods, dates.get(pid, ()), today)
        soon = status.next_due is not None and (horizon is None or status.next_due.window_start <= horizon)
        if status.overdue or soon:
            result.append(DueRow(pid, number, site_code, status.next_due if soon else None, status.overdue,
                                 arm or "", registration_number or ""))
    result.sort(key=lambda r: (not r.overdue, r.overdue[0].date if r.overdue else r.next_due.date, r.site_code,
                               r.screening_number))
    return result


def patient_list_deadlines(patients: dict[int, str], today: date, now) -> dict[int, PatientDeadline]:
    """The patient list's next deadline of the page's randomized patients still followed: the first overdue
    assessment of the schedule (FOLLOWUP.md, the schedule of assessments), else the next one due (its due
    day; its window runs on after it). Three queries (schedule, patients, assessments), none without them."""
    ids = ids_at(patients, (Patient.Stage.RANDOMIZED,))
    if not ids:
        return {}
    periods = schedule_periods()
    if not periods:
        return {}
    rows = list(_followed(Patient.objects.filter(pk__in=ids)).values_list(
        "id", "secondary_registration__registration_date"))
    dates = _assessment_dates([pid for pid, _origin in rows])  # the page's patients
    found = {}
    for pid, origin in rows:
        status = schedule.status(origin, periods, dates.get(pid, ()), today)
        due = status.overdue[0] if status.overdue else status.next_due
        if due is not None:
            found[pid] = PatientDeadline(
                date=due.date, label=gettext("Follow-up assessment %(number)s due") % {"number": due.number},
                url=reverse("followup:assessment", kwargs={"pk": pid}), overdue=due.window_end < today)
    return found
