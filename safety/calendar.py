"""Expedited report deadlines in the iCalendar feed (registration/ical.py asks through its registered
sources: registration cannot import safety). One all-day event per unsigned report deadline, on its due
day in Japan; the summary says "overdue" or "due within 24 hours" as soon as it is (the feed is computed
on every request)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from registration import ical

from . import deadlines, reportability
from .models import AdverseEvent


def events(user, site_ids: list[int], today: date) -> list[ical.Event]:
    now = timezone.now()
    found = []
    for deadline in deadlines.open_deadlines(AdverseEvent.objects.filter(patient__site_id__in=site_ids), now):
        event, patient = deadline.event, deadline.event.patient
        primary = getattr(patient, "primary_registration", None)
        number = primary.number if primary else patient.screening_number
        due = timezone.localtime(deadline.due)
        state = {reportability.DeadlineState.OVERDUE: gettext("OVERDUE"),
                 reportability.DeadlineState.DUE_SOON: gettext("due within 24 hours")}.get(deadline.state)
        label = gettext("%(report)s due %(due)s") % {"report": gettext(deadline.report_label),
                                                     "due": due.strftime("%Y-%m-%d %H:%M")}
        summary = f"{number}: {label}" + (f" ({state})" if state else "")
        url = settings.SITE_URL.rstrip("/") + reverse("safety:event", kwargs={"pk": patient.pk, "event_id": event.pk})
        found.append(ical.Event(uid=f"oligami-safety-{event.pk}-{deadline.report}@{ical._domain()}", day=due.date(),
                                summary=summary, description=f"{patient.screening_number} ({patient.site.code})\n"
                                f"{event.term} G{event.grade}\n{label}\n{url}", url=url))
    return found
