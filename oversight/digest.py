"""The data queries' section of the daily reminder digest (settings.OLIGAMI_DIGEST_SECTIONS).

registration/reminders.py renders the digest and asks each configured section for its lines, in the
recipient's language; the section names queries by number and patient number only (never a name).
Site staff: the queries waiting for their site, overdue first. Data managers: the queries answered and
waiting for the data centre, and the count overdue at the sites. Two queries at most.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext

from oligami_site.models import EnrolmentRequest
from registration.models import Audience

from . import querystate
from .models import DataQuery

MAX_LINES = 20
ZONE = ZoneInfo(settings.TIME_ZONE)


def _line(query: DataQuery, today: date) -> str:
    age = querystate.age_days(query.waiting_since, today)
    overdue = querystate.is_overdue(querystate.Status(query.status), query.waiting_since, today)
    text = gettext("%(number)s · %(patient)s · waiting %(days)s days") % {
        "number": query.number, "patient": query.patient.screening_number, "days": age}
    return text + (f" ({gettext('overdue')})" if overdue else "")


def data_queries(*, audience: str, site, today: date) -> dict | None:
    url = settings.SITE_URL.rstrip("/") + reverse("queries:list") + "?status=unclosed"
    if audience == Audience.SITE_STAFF and site is not None:
        waiting = [s for s, side in querystate.WAITING_FOR.items() if side == querystate.Side.SITE]
        rows = list(DataQuery.objects.filter(patient__site=site, status__in=waiting).select_related("patient")
                    .order_by("waiting_since", "pk")[:MAX_LINES + 1])
        if not rows:
            return None
        return {"title": gettext("Data queries waiting for your answer"),
                "lines": [_line(q, today) for q in rows[:MAX_LINES]], "more": len(rows) > MAX_LINES, "url": url}
    if audience == Audience.DATA_MANAGERS:
        rows = list(DataQuery.objects.filter(status=DataQuery.Status.ANSWERED).select_related("patient")
                    .order_by("answered_at", "pk")[:MAX_LINES + 1])
        if not rows:
            return None
        return {"title": gettext("Data queries answered, waiting for the data centre"),
                "lines": [gettext("%(number)s · %(patient)s") % {"number": q.number,
                                                                 "patient": q.patient.screening_number}
                          for q in rows[:MAX_LINES]], "more": len(rows) > MAX_LINES, "url": url}
    return None


def enrolment_requests(*, audience: str, site, today: date) -> dict | None:
    """Sites at their enrolment cap waiting for the data centre's decision (issue 17): the data managers' digest.
    One query."""
    if audience != Audience.DATA_MANAGERS:
        return None
    rows = list(EnrolmentRequest.objects.filter(status=EnrolmentRequest.Status.PENDING).select_related("site")
                .order_by("requested_at", "pk")[:MAX_LINES + 1])
    if not rows:
        return None
    return {"title": gettext("Sites asking to screen beyond their enrolment cap"),
            "lines": [gettext("%(site)s · cap %(cap)s, %(screened)s screened · waiting %(days)s days") % {
                "site": r.site.code, "cap": r.cap, "screened": r.screened,
                "days": (today - r.requested_at.astimezone(ZONE).date()).days} for r in rows[:MAX_LINES]],
            "more": len(rows) > MAX_LINES, "url": settings.SITE_URL.rstrip("/") + reverse("sites")}
