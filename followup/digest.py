"""The follow-up's sections of the daily reminder digest (settings.OLIGAMI_DIGEST_SECTIONS, issue 16):
assessments overdue or due soon, and the open follow-up survey's patients still to update, for the site's
staff. Patients by screening number only; at most MAX_LINES lines each. A bounded number of queries."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext

from registration.models import Audience
from screening.models import Patient

from . import selectors

MAX_LINES = 20


def _url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def assessments(*, audience: str, site, today: date) -> dict | None:
    if audience != Audience.SITE_STAFF or site is None:
        return None
    rows = selectors.assessments_due(Patient.objects.filter(site=site), today)
    if not rows:
        return None
    lines = []
    for row in rows[:MAX_LINES]:
        if row.overdue:
            due = row.overdue[0]
            lines.append(gettext("%(patient)s · assessment %(number)s was due %(date)s, its window ended %(end)s "
                                 "(overdue)") % {"patient": row.screening_number, "number": due.number,
                                                 "date": due.date.isoformat(), "end": due.window_end.isoformat()})
        else:
            due = row.next_due
            lines.append(gettext("%(patient)s · assessment %(number)s due %(date)s (window %(start)s to %(end)s)")
                         % {"patient": row.screening_number, "number": due.number, "date": due.date.isoformat(),
                            "start": due.window_start.isoformat(), "end": due.window_end.isoformat()})
    return {"title": gettext("Follow-up assessments overdue or due soon"), "lines": lines,
            "more": len(rows) > MAX_LINES, "url": _url(reverse("home"))}


def surveys(*, audience: str, site, today: date) -> dict | None:
    """Reminders until the open survey is complete at the site (FOLLOWUP.md: the sites update their patients
    as of the cut-off)."""
    if audience != Audience.SITE_STAFF or site is None:
        return None
    survey = selectors.open_survey()
    if survey is None:
        return None
    rows = [r for r in selectors.survey_rows(survey, Patient.objects.filter(site=site))
            if r.state not in selectors.COMPLETE_STATES]
    if not rows:
        return None
    return {"title": gettext("Follow-up survey (cut-off %(date)s): %(n)s patients to update")
            % {"date": survey.cutoff_date.isoformat(), "n": len(rows)},
            "lines": [row.screening_number for row in rows[:MAX_LINES]], "more": len(rows) > MAX_LINES,
            "url": _url(reverse("followup:survey", kwargs={"survey_id": survey.pk}))}
