"""Open report deadlines and their escalation (SAFETY.md "Deadlines"; issue 18).

A deadline is open while its report is not signed: the first report from the event's ``first_report_due``,
the second from ``second_report_due`` (both stored by services._judge from reportability.deadlines).
Where ``now`` stands against one is reportability.deadline_state: due soon within 24 hours, overdue after.

Escalation is at once, not in the morning digest: ``escalate`` stores one DeadlineAlert per (event, report,
level, due) with a unique constraint, and e-mails the site investigators of the patient's site and the
data managers for each alert it created (or that an earlier run could not send). It runs
- in a task sent on commit by every service that judges an event (a late entry already due soon or overdue);
- every few minutes from Celery beat (``scan-safety-deadlines``), which is what turns a deadline that is
  48 hours away into a "24 hours away" alert when the hour comes; the worklist and the calendar compute
  the state on every request, so they show it at once.
While an alert's e-mails go out, only that alert's own row is locked (the claim that keeps a scan and a
task from both sending it); nothing trial-wide is held while talking to the mail server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from oligami_site import mail
from oligami_site.access import TrialRole
from oligami_site.models import Membership, User

from . import reportability
from .models import AdverseEvent, DeadlineAlert, ExpeditedReport, ReportKind

log = logging.getLogger(__name__)
DELIVERY_ERRORS = (OSError,)  # SMTP and socket errors; anything else is a bug and propagates


@dataclass(frozen=True)
class Deadline:
    event: AdverseEvent
    report: str  # ReportKind.FIRST or SECOND
    due: datetime
    state: reportability.DeadlineState

    @property
    def report_label(self):
        return ReportKind(self.report).label

    @property
    def state_label(self):
        return {reportability.DeadlineState.OPEN: gettext("open"),
                reportability.DeadlineState.DUE_SOON: gettext("due within 24 hours"),
                reportability.DeadlineState.OVERDUE: gettext("overdue")}[self.state]

    @property
    def urgent(self) -> bool:
        return self.state is not reportability.DeadlineState.OPEN


def with_report_flags(queryset):
    """Annotate ``has_first`` / ``has_second``: a signed report of that kind exists (one query in all)."""
    signed = ExpeditedReport.objects.filter(adverse_event=OuterRef("pk"))
    return queryset.annotate(has_first=Exists(signed.filter(kind=ReportKind.FIRST)),
                             has_second=Exists(signed.filter(kind=ReportKind.SECOND)))


def open_deadlines(queryset, now: datetime) -> list[Deadline]:
    """The unsigned report deadlines of the reportable events of ``queryset``, nearest first (one query).
    Only the events with a deadline still open leave the database (the same test as below, in the query): a
    busy site has hundreds of events whose reports are signed (docs/performance.md, issue 21)."""
    rows = (with_report_flags(queryset.filter(reportable=True))
            .filter(Q(has_first=False, first_report_due__isnull=False)
                    | Q(has_second=False, second_report_due__isnull=False))
            .select_related("patient__site", "patient__primary_registration", "death")
            # Only the registration's number is shown; its verdict snapshot (JSON) stays in the database.
            .defer("patient__primary_registration__verdict")
            .order_by("first_report_due"))
    found = []
    for event in rows:
        if not event.has_first and event.first_report_due:
            found.append(Deadline(event, ReportKind.FIRST, event.first_report_due,
                                  reportability.deadline_state(event.first_report_due, now)))
        if not event.has_second and event.second_report_due:
            found.append(Deadline(event, ReportKind.SECOND, event.second_report_due,
                                  reportability.deadline_state(event.second_report_due, now)))
    found.sort(key=lambda d: d.due)
    return found


def deadline_of(event: AdverseEvent, now: datetime) -> list[Deadline]:
    return open_deadlines(AdverseEvent.objects.filter(pk=event.pk), now)


# --- escalation -------------------------------------------------------------------------------------


def recipients(site_id: int) -> list[User]:
    """The site investigators of the site and the data managers (issue 18), active, with an e-mail."""
    investigators = User.objects.filter(memberships__site_id=site_id, memberships__active=True,
                                        memberships__role=Membership.Role.INVESTIGATOR)
    managers = User.objects.filter(groups__name=TrialRole.DATA_MANAGER)
    return list((investigators | managers).filter(is_active=True).exclude(email="").distinct().order_by("pk"))


def _message(alert: DeadlineAlert, user: User):
    """The alert's e-mail to one recipient, in the recipient's language (the kit's renderer,
    templates/safety/email/deadline*.txt)."""
    event = alert.adverse_event
    patient = event.patient
    return mail.to_user(user, "safety/email/deadline", {
        "overdue": alert.level == DeadlineAlert.Level.OVERDUE,
        "report": ReportKind(alert.report).label,  # lazy: rendered in the recipient's language
        "patient": patient.screening_number, "site": patient.site.code,
        "due": timezone.localtime(alert.due_at).strftime("%Y-%m-%d %H:%M"),
        "term": event.term, "grade": event.grade, "rule": event.rule,
        "url": settings.SITE_URL.rstrip("/") + reverse("safety:event", kwargs={"pk": patient.pk, "event_id": event.pk}),
    })


def escalate(*, now: datetime, event_ids=None) -> dict:
    """Store the alerts due at ``now`` and e-mail them at once; returns counts (idempotent)."""
    queryset = AdverseEvent.objects.all()
    if event_ids is not None:
        queryset = queryset.filter(pk__in=list(event_ids))
    created = 0
    for deadline in open_deadlines(queryset, now):
        if not deadline.urgent:
            continue
        try:
            with transaction.atomic():
                DeadlineAlert.objects.create(adverse_event=deadline.event, report=deadline.report,  # audit-ok
                                             level=str(deadline.state), due_at=deadline.due)
                created += 1
        except IntegrityError:
            pass  # already stored by an earlier run (or one running at the same time)
    pending = DeadlineAlert.objects.filter(sent_at__isnull=True).select_related("adverse_event__patient__site")
    if event_ids is not None:
        pending = pending.filter(adverse_event_id__in=list(event_ids))
    sent = failed = 0
    for alert in pending:
        # Claim the alert so that a scan and a task running at once do not both send it.
        with transaction.atomic():
            claimed = DeadlineAlert.objects.select_for_update(skip_locked=True).filter(
                pk=alert.pk, sent_at__isnull=True).first()
            if claimed is None:
                continue
            people = recipients(alert.adverse_event.patient.site_id)
            try:
                for user in people:
                    _message(alert, user).send()
            except DELIVERY_ERRORS as exc:
                # Left unsent: the next scan (minutes later) tries again.
                log.warning("Safety alert %s not sent: %s", alert.pk, exc)
                failed += 1
                continue
            claimed.sent_at = timezone.now()
            claimed.recipients = ", ".join(user.email for user in people)
            claimed.save(update_fields=["sent_at", "recipients"])  # audit-ok: outbox, not clinical data
            sent += 1
    return {"created": created, "sent": sent, "failed": failed}
