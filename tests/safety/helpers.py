"""Set-up for the safety tests: a randomized patient on protocol treatment, and event data."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from followup import services as followup_services
from registration.models import TherapyPlan
from tests.followup.factories import ORIGIN, PRIMARY_ON, randomized_patient

TOKYO = ZoneInfo("Asia/Tokyo")
COURSE_START = PRIMARY_ON + dt.timedelta(days=3)  # 2026-03-05: protocol treatment starts (SAFETY.md "Terms")


def on_treatment(site, user, *, arm=None, ongoing=True, last_day=None):
    """A randomized patient whose first systemic course started on COURSE_START, still ongoing unless
    `ongoing` is False (then it ended on `last_day`)."""
    patient = randomized_patient(site, user, arm=arm)
    plan = TherapyPlan.objects.filter(subtype=patient.primary_registration.subtype).order_by("-version").first()
    followup_services.record_course(patient=patient, user=user, data={
        "plan": plan, "start_date": COURSE_START, "end_date": None if ongoing else (last_day or ORIGIN),
        "dose_modified": False, "stopped_early": False})
    return patient


def at(day: dt.date, hour=9, minute=30) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO)


def event_data(**overrides) -> dict:
    data = {"term": "Febrile neutropenia", "grade": 4, "onset_date": ORIGIN + dt.timedelta(days=10),
            "resolution_date": None, "hospitalization_24h": True, "causality": "probable",
            "action_taken": "interrupted", "outcome": "recovering",
            "awareness": at(ORIGIN + dt.timedelta(days=11))}
    data.update(overrides)
    return data
