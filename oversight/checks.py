"""Automatic checks: rules that look at the data every day and open a data query for what they find.

Each check has a code (the query's `rule`), a title, a question (a translatable text whose values come
from the finding, so the site reads it in its own language) and a `find(today)` that returns findings
with a key; the runner (`run`) opens one query per finding unless one for the same key is still not
closed (queries.open_automatic; a partial unique constraint makes it exact under concurrency). Each
`find` runs a bounded number of queries whatever the number of patients.

The follow-up checks (mdt_late, assessment_overdue, survey_incomplete, endpoint_contradiction) read through
followup.selectors; report_overdue reads safety.deadlines (an expedited report past its deadline).

A finding's key carries what was found (a date, a code), so a closed query is not opened again for the same
finding: closing means resolved or accepted by the data centre (queries.open_automatic).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, timedelta

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from followup import endpoints, selectors
from followup.models import FollowupSurvey, MetastasisDirectedTherapy
from randomization.models import Arm
from registration.models import PrimaryRegistration, SecondaryRegistration
from safety import deadlines as safety_deadlines
from safety import reportability
from safety.models import AdverseEvent
from screening.models import Patient

from . import queries


@dataclass(frozen=True)
class Finding:
    patient_id: int
    key: str  # what was found, stable from day to day (the duplicate guard)
    record_type: str = ""
    record_id: int | None = None
    field: str = ""
    details: dict = dataclass_field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    code: str
    title: object
    question: object  # translatable, with %(name)s values from Finding.details
    find: Callable[[date], Iterable[Finding]]


def _labs_after_registration(today: date) -> Iterable[Finding]:
    """P-criteria and S-criteria rest on labs drawn before the registration they support (P16/S8 count
    back from the registration day); a panel dated after it cannot have supported the decision."""
    primary = (PrimaryRegistration.objects.filter(screening__labs__date__gt=F("registration_date"))
               .values_list("patient_id", "pk", "registration_date", "screening__labs_id", "screening__labs__date"))
    for patient_id, pk, registered, labs_id, drawn in primary:
        yield Finding(patient_id, f"primary:{pk}:{drawn.isoformat()}", "labpanel", labs_id, "date",
                      {"registration": "primary", "drawn": drawn.isoformat(), "registered": registered.isoformat()})
    secondary = (SecondaryRegistration.objects.filter(evaluation__labs__date__gt=F("registration_date"))
                 .values_list("patient_id", "pk", "registration_date", "evaluation__labs_id",
                              "evaluation__labs__date"))
    for patient_id, pk, registered, labs_id, drawn in secondary:
        yield Finding(patient_id, f"secondary:{pk}:{drawn.isoformat()}", "labpanel", labs_id, "date",
                      {"registration": "secondary", "drawn": drawn.isoformat(), "registered": registered.isoformat()})


def mdt_late(patients, today: date, *fields) -> Iterable[tuple[Finding, tuple]]:
    """Arm B: metastasis-directed therapy should start within FollowupSettings.mdt_start_days of
    randomization (trial configuration; FOLLOWUP.md gives no number, so no setting means no check). Found,
    among `patients` (a queryset, scoped by the caller): no MDT started by that day, the deadline passed, and
    the patient neither died nor withdrew by then. Each finding with the values of `fields` (paths from the
    patient). Two queries (the setting, the patients with their first MDT start), no list of ids."""
    days = selectors.mdt_start_days()
    if not days:
        return
    allowance = timedelta(days=days)
    first_start = Subquery(MetastasisDirectedTherapy.objects.filter(patient=OuterRef("pk")).order_by("start_date")
                           .values("start_date")[:1])
    rows = (selectors.randomized_patients(patients.filter(allocation__arm=Arm.B))
            .filter(secondary_registration__registration_date__lt=today - allowance)
            .values_list("id", "secondary_registration__registration_date", "death__date", "withdrawal__date",
                         first_start, *fields))
    for patient_id, origin, died, withdrew, first, *extra in rows:
        deadline = origin + allowance
        if first is not None and first <= deadline:
            continue
        if (died is not None and died <= deadline) or (withdrew is not None and withdrew <= deadline):
            continue  # the protocol treatment ended for another reason first
        yield (Finding(patient_id, f"deadline:{deadline.isoformat()}", "", None, "",
                       {"randomized": origin.isoformat(), "days": days, "deadline": deadline.isoformat(),
                        "started": first.isoformat() if first else "-"}), tuple(extra))


def _mdt_late(today: date) -> Iterable[Finding]:
    for finding, _extra in mdt_late(Patient.objects.all(), today):
        yield finding


def _assessment_overdue(today: date) -> Iterable[Finding]:
    """An assessment of the schedule (followup.schedule) whose window ended without one: one finding per
    missed due assessment, for patients still followed with study visits."""
    for row in selectors.assessments_due(Patient.objects.all(), today):
        for due in row.overdue:
            yield Finding(row.patient_id, f"assessment:{due.number}:{due.date.isoformat()}", "", None, "",
                          {"number": due.number, "due": due.date.isoformat(),
                           "window_end": due.window_end.isoformat()})


def _survey_incomplete(today: date) -> Iterable[Finding]:
    """A closed follow-up survey with patients whose status as of its cut-off was never given (neither
    confirmed, nor dead, lost or withdrawn by then): the survey is incomplete at its cut-off."""
    for survey in FollowupSurvey.objects.filter(closed_at__isnull=False, cutoff_date__lte=today).order_by("pk"):
        for row in selectors.survey_rows(survey, Patient.objects.all()):
            if row.state not in selectors.COMPLETE_STATES:
                yield Finding(row.patient_id, f"survey:{survey.pk}", "", None, "",
                              {"cutoff": survey.cutoff_date.isoformat()})


def _endpoint_contradiction(today: date) -> Iterable[Finding]:
    """F5 (FOLLOWUP.md): the endpoint rules report contradictions around a death (before the origin; alive
    or progressing after it); each problem code is one finding on the death record."""
    for followup, (death_id,) in selectors.followup_rows(Patient.objects.filter(death__isnull=False),
                                                         "death__id"):
        for code in endpoints.contradictions(endpoints.usable_facts(followup.facts)):
            yield Finding(followup.patient_id, f"f5:{code}", "death", death_id, "date",
                          {"problem": code, "death": followup.facts.death_date.isoformat()})


def _report_overdue(today: date) -> Iterable[Finding]:
    """SAFETY.md: an expedited report (first or second) of a reportable event not signed by its deadline
    (safety.deadlines: the deadlines still open, one query). One finding per event and report."""
    now = timezone.now()
    for deadline in safety_deadlines.open_deadlines(AdverseEvent.objects.all(), now):
        if deadline.state is reportability.DeadlineState.OVERDUE:
            yield Finding(deadline.event.patient_id, f"report:{deadline.event.pk}:{deadline.report}", "", None, "",
                          {"report": deadline.report, "term": deadline.event.term,
                           "due": timezone.localtime(deadline.due).strftime("%Y-%m-%d %H:%M")})


CHECKS: list[Check] = [
    Check("labs_after_registration", _("Labs drawn after the registration they support"),
          _("The lab panel is dated %(drawn)s, after the %(registration_label)s on %(registered)s that it "
            "supports. Please check the date drawn (and correct it, naming this query in the reason), or "
            "explain."),
          _labs_after_registration),
    Check("mdt_late", _("Metastasis-directed therapy not started in time (arm B)"),
          _("Randomized to arm B on %(randomized)s: metastasis-directed therapy should have started within "
            "%(days)s days, by %(deadline)s (first start recorded: %(started)s). Please record the therapy, "
            "or explain why it did not start."),
          _mdt_late),
    Check("assessment_overdue", _("Assessment overdue"),
          _("Assessment %(number)s was due on %(due)s; its window ended on %(window_end)s with no assessment "
            "recorded. Please record it, or explain."),
          _assessment_overdue),
    Check("survey_incomplete", _("Follow-up survey incomplete at its cut-off"),
          _("The follow-up survey with cut-off %(cutoff)s closed without this patient's status. Please record "
            "the last date known alive (or the death), or explain."),
          _survey_incomplete),
    Check("endpoint_contradiction", _("Contradiction around the death (F5)"),
          _("The follow-up contradicts the death recorded on %(death)s: %(problem_label)s. Please correct the "
            "dates, or explain."),
          _endpoint_contradiction),
    Check("report_overdue", _("Expedited safety report past its deadline"),
          _("The %(report_label)s of the adverse event \"%(term)s\" was due %(due)s (Japan Standard Time) and is "
            "not signed. Please have the site investigator sign it now, or explain."),
          _report_overdue),
]
BY_CODE = {check.code: check for check in CHECKS}
REGISTRATION_LABELS = {"primary": _("primary registration"), "secondary": _("secondary registration")}
REPORT_LABELS = {"first": _("first report"), "second": _("second (detailed) report")}
PROBLEM_LABELS = {
    endpoints.DEATH_BEFORE_ORIGIN: _("the death is dated before randomization"),
    endpoints.ALIVE_AFTER_DEATH: _("the patient is recorded alive or assessed after the death"),
    endpoints.PROGRESSION_AFTER_DEATH: _("a progression is recorded after the death"),
}


def describe(rule: str, details: dict) -> str:
    """An automatic query's question in the reader's language."""
    check = BY_CODE.get(rule)
    if check is None:
        return ""
    values = dict(details)
    if "registration" in values:
        values["registration_label"] = gettext(str(REGISTRATION_LABELS.get(values["registration"], "")))
    if "report" in values:
        values["report_label"] = gettext(str(REPORT_LABELS.get(values["report"], values["report"])))
    if "problem" in values:
        values["problem_label"] = gettext(str(PROBLEM_LABELS.get(values["problem"], values["problem"])))
    try:
        return gettext(str(check.question)) % values
    except (KeyError, ValueError, TypeError):
        return str(check.title)


def run(*, today: date) -> dict[str, dict[str, int]]:
    """Run every check; {code: {"found": n, "created": m}}, m counting only queries actually inserted."""
    counts = {}
    for check in CHECKS:
        found = created = 0
        for finding in check.find(today):
            found += 1
            query = queries.open_automatic(
                rule=check.code, patient_id=finding.patient_id, finding=finding.key,
                text=describe(check.code, finding.details) or str(check.title), details=finding.details,
                record_type=finding.record_type, record_id=finding.record_id, field=finding.field)
            created += query is not None
        counts[check.code] = {"found": found, "created": created}
    return counts
