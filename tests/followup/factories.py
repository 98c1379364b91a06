"""Randomized patients for the follow-up tests, through the registration services (randomization included)."""

from __future__ import annotations

import datetime as dt

from followup.models import SystemicCourse
from randomization.models import Allocation
from registration import services as registration_services
from screening.models import Patient
from tests.factories import PASSWORD
from tests.registration.factories import JUDGED_ON, make_eligible_screening, record, register

PRIMARY_ON = JUDGED_ON  # 2026-03-02
ORIGIN = JUDGED_ON + dt.timedelta(days=86)  # the secondary registration (randomization) date: 2026-05-27


def randomized_patient(site, user, *, arm: str | None = None, keep_courses: bool = False) -> Patient:
    """Screened, primary registered, evaluated, secondary registered and randomized on ORIGIN. With `arm`,
    the allocation is set to it afterwards (test set-up only: the concealed decision is not under test).

    S1 reads the courses recorded before the evaluation (issue 16), so the planned courses are recorded first;
    unless `keep_courses`, they are removed again after randomization (test set-up only, like the arm: the
    follow-up and safety tests record the courses their rules are about on a clean treatment record)."""
    screening = make_eligible_screening(site=site)
    patient = register(screening, user).patient
    record(patient, user, JUDGED_ON + dt.timedelta(days=85))
    registration_services.register_secondary(patient=patient, user=user, password=PASSWORD, registration_date=ORIGIN)
    if not keep_courses:
        SystemicCourse.objects.filter(patient=patient).delete()
    if arm is not None:
        Allocation.objects.filter(patient=patient).update(arm=arm)
    patient.refresh_from_db()
    return patient


def day(n: int) -> dt.date:
    return ORIGIN + dt.timedelta(days=n)
