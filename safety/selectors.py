"""Reads that span the safety models: the SAE log (page and CSV), overdue reports per site, AE frequency by
grade, deaths waiting for their safety assessment. Each in a constant number of queries."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from followup.models import Death
from oligami_site import access
from randomization.models import Arm
from screening.deadlines import PatientDeadline, ids_at
from screening.models import Patient

from . import deadlines, reportability
from .models import AdverseEvent, ExpeditedReport, ReportKind


def deaths_to_assess(deaths) -> list[Death]:
    """Deaths recorded in follow-up without their safety assessment yet (R1 needs it), oldest first."""
    return list(deaths.filter(safety_assessment__isnull=True).select_related("patient__site").order_by("date", "pk"))


def _unacknowledged():
    return Exists(ExpeditedReport.objects.filter(adverse_event=OuterRef("pk"), acknowledged_at__isnull=True))


def _overdue(now: datetime) -> Q:
    return Q(reportable=True) & ((Q(has_first=False) & Q(first_report_due__lt=now))
                                 | (Q(has_second=False) & Q(second_report_due__lt=now)))


def log_queryset(user, filters: dict, now: datetime):
    """The adverse events of the user's sites (all for the data centre) with the report flags, newest first."""
    queryset = access.scope(AdverseEvent.objects.all(), user, site_field="patient__site")
    queryset = deadlines.with_report_flags(queryset).annotate(unacknowledged=_unacknowledged())
    if filters.get("site"):
        queryset = queryset.filter(patient__site_id=filters["site"])
    if filters.get("grade"):
        queryset = queryset.filter(grade=filters["grade"])
    if filters.get("serious"):
        queryset = queryset.filter(reportable=True)
    state = filters.get("state")
    if state == "overdue":
        queryset = queryset.filter(_overdue(now))
    elif state == "open":
        queryset = queryset.filter(Q(reportable=True) & (Q(has_first=False) | Q(has_second=False)))
    elif state == "unacknowledged":
        queryset = queryset.filter(unacknowledged=True)
    # Newest first, read off the index on (created_at, id); the primary registration's verdict snapshot is not
    # shown (its number is).
    return (queryset.select_related("patient__site", "patient__primary_registration", "death")
            .defer("patient__primary_registration__verdict").order_by("-created_at", "-pk"))


def next_deadline(event: AdverseEvent, now: datetime) -> deadlines.Deadline | None:
    """The nearest unsigned deadline of an event annotated by ``with_report_flags`` (no query)."""
    if not event.reportable:
        return None
    for kind, signed, due in ((ReportKind.FIRST, event.has_first, event.first_report_due),
                              (ReportKind.SECOND, event.has_second, event.second_report_due)):
        if not signed and due is not None:
            return deadlines.Deadline(event, kind, due, reportability.deadline_state(due, now))
    return None


CSV_HEADER = ("site", "screening_number", "registration_number", "event_id", "ctcae_term", "ctcae_version", "grade",
              "death", "onset_or_death_date", "resolution_date", "expected", "hospitalization_24h",
              "life_threatening", "disability", "other_serious", "causality", "action_taken", "outcome", "awareness",
              "reportable", "rule", "clock_start", "first_report_due", "first_report_signed",
              "second_report_due", "second_report_signed", "next_deadline_state", "unacknowledged_reports")


def log_csv(user, filters: dict, now: datetime):
    """The SAE log as CSV rows (the filters of the page), streamed by oligami_site.csvfiles."""
    def rows():
        for event in log_queryset(user, filters, now).iterator(chunk_size=2000):
            primary = getattr(event.patient, "primary_registration", None)
            upcoming = next_deadline(event, now)
            yield (event.patient.site.code, event.patient.screening_number, primary.number if primary else "",
                   event.pk, event.term, event.ctcae_version, event.grade, event.death_id is not None,
                   event.event_date, event.resolution_date, event.expected, event.hospitalization_24h,
                   event.life_threatening, event.disability, event.other_serious, event.causality,
                   event.action_taken, event.outcome, event.awareness, event.reportable, event.rule,
                   event.clock_start, event.first_report_due, event.has_first, event.second_report_due,
                   event.has_second, str(upcoming.state) if upcoming else "", event.unacknowledged)
    return CSV_HEADER, rows()


def overdue_by_site(now: datetime, site_ids=None) -> dict[int, int]:
    """{site id: events with a report deadline passed unsigned} (the data manager's dashboard; one query)."""
    queryset = deadlines.with_report_flags(AdverseEvent.objects.all()).filter(_overdue(now))
    if site_ids is not None:
        queryset = queryset.filter(patient__site_id__in=site_ids)
    return dict(queryset.values("patient__site_id").annotate(n=Count("pk")).values_list("patient__site_id", "n")
                .order_by())


GRADES = (*reportability.GRADES, reportability.DEATH_GRADE)


def frequency_by_grade(*, by_arm: bool) -> dict:
    """Events and patients by CTCAE grade, pooled over the trial; with ``by_arm`` also per arm (the
    statistician's). A patient counts once per grade however many events of that grade they had.

    Counted in the database (grouped counts, distinct patients): loading every event to count it in Python
    grew with the trial (50,000 events at 100,000 bench patients: 8x the floor, issue 21)."""
    counts = {row["grade"]: row for row in AdverseEvent.objects.order_by().values("grade").annotate(
        events=Count("id"), patients=Count("patient_id", distinct=True))}
    table = {"grades": [{"grade": g, "events": counts[g]["events"] if g in counts else 0,
                         "patients": counts[g]["patients"] if g in counts else 0} for g in GRADES],
             "total_events": sum(row["events"] for row in counts.values()),
             "total_patients": AdverseEvent.objects.order_by().values("patient_id").distinct().count()}
    if by_arm:
        arm_counts = {(row["patient__allocation__arm"], row["grade"]): row for row in AdverseEvent.objects.filter(
            patient__allocation__isnull=False).order_by().values("patient__allocation__arm", "grade").annotate(
            events=Count("id"), patients=Count("patient_id", distinct=True))}
        empty = {"events": 0, "patients": 0}
        table["arms"] = [{"arm": arm, "label": arm.label,
                          "grades": [{"grade": g, **{k: arm_counts.get((arm.value, g), empty)[k]
                                                     for k in ("events", "patients")}} for g in GRADES]}
                         for arm in Arm]
    return table


# The stages a patient can have an adverse event at (from primary registration on, services.record_event).
EVENT_STAGES = (Patient.Stage.REGISTERED, Patient.Stage.RANDOMIZED, Patient.Stage.OFF_STUDY)


def patient_list_deadlines(patients: dict[int, str], today, now: datetime) -> dict[int, PatientDeadline]:
    """The patient list's next deadline from safety: each page patient's nearest unsigned expedited report
    (SAFETY.md "Deadlines"; overdue ones included), its day and hour in Japan. One query, none when no row
    can have an event."""
    ids = ids_at(patients, EVENT_STAGES)
    if not ids:
        return {}
    found = {}
    for deadline in deadlines.open_deadlines(AdverseEvent.objects.filter(patient_id__in=ids), now):  # nearest first
        pid = deadline.event.patient_id
        if pid in found:
            continue
        due = timezone.localtime(deadline.due)
        found[pid] = PatientDeadline(
            date=due.date(), time=due.strftime("%H:%M"),
            label=gettext("%(report)s due") % {"report": gettext(deadline.report_label)},
            url=reverse("safety:event", kwargs={"pk": pid, "event_id": deadline.event.pk}),
            overdue=deadline.state is reportability.DeadlineState.OVERDUE)
    return found
