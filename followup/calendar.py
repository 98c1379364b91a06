"""Follow-up assessments in the iCalendar feed (FOLLOWUP.md: the calendar feed shows each patient's next
assessment due and overdue ones, as it does the registration windows). registration/ical.py asks its
registered sources (registration cannot import followup); FollowupConfig.ready registers `events`.

One all-day event for the next assessment due, on its due day, with its window; one per overdue assessment,
on its due day, saying "overdue". Only the patients at `site_ids` (the feed user's membership sites), and
only those still followed with study visits (selectors.assessments_due: not the dead, the lost to follow-up,
nor those withdrawn from visits or all data use). Patients are named by registration and screening number.
A constant number of queries whatever the number of patients.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext

from registration import ical
from screening.models import Patient

from . import selectors


def _event(row: selectors.DueRow, due, label: str) -> ical.Event:
    # One UID per due assessment: when the next one due becomes overdue, calendars update the same event.
    number = row.registration_number or row.screening_number
    url = settings.SITE_URL.rstrip("/") + reverse("followup:patient", kwargs={"pk": row.patient_id})
    return ical.Event(uid=f"oligami-{row.patient_id}-assessment-{due.number}@{ical._domain()}", day=due.date,
                      summary=f"{number}: {label}",
                      description=f"{number} ({row.screening_number}, {row.site_code})\n{label}\n{url}", url=url)


def events(user, site_ids: list[int], today: date) -> list[ical.Event]:
    found = []
    for row in selectors.assessments_due(Patient.objects.filter(site_id__in=site_ids), today, within_days=None):
        for due in row.overdue:
            label = gettext("Assessment %(number)s overdue (due %(date)s, window ended %(end)s)") % {
                "number": due.number, "date": due.date.isoformat(), "end": due.window_end.isoformat()}
            found.append(_event(row, due, label))
        if row.next_due is not None:
            due = row.next_due
            label = gettext("Assessment %(number)s due (window %(start)s to %(end)s)") % {
                "number": due.number, "start": due.window_start.isoformat(), "end": due.window_end.isoformat()}
            found.append(_event(row, due, label))
    return found
