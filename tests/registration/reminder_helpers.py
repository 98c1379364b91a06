"""Patients for the reminder tests, built through the registration services (dates in the past)."""

import datetime as dt

from django.core import mail

from tests.registration.factories import JUDGED_ON, make_eligible_screening, record, register

DAY = dt.timedelta(days=1)
P = JUDGED_ON  # primary registration date of the registered patients: 2026-03-02
LABS = dt.date(2026, 2, 24)  # labs of the eligible patient (make_eligible_screening's default): expiry 03-10


def eligible(site, **overrides):
    """Eligible, awaiting primary registration, labs drawn on LABS (valid to LABS + 14)."""
    return make_eligible_screening(site=site, **overrides).patient


def registered(site, user, **overrides):
    """Primary registered on P, luminal plan 3 x 28 days: evaluation due P + 84, window P + 84 .. P + 126."""
    return register(make_eligible_screening(site=site, **overrides), user, on=P).patient


def evaluated(site, user, **overrides):
    """Registered on P and evaluated on P + 85 (labs the same day): the window closes P + 113 (evaluation + 28)."""
    patient = registered(site, user, **overrides)
    record(patient, user, P + 85 * DAY, courses_given=3)
    return patient


def progressed(site, user, **overrides):
    """Registered on P, evaluated on P + 85 with progression (PD): the progression notice is due that day."""
    patient = registered(site, user, **overrides)
    record(patient, user, P + 85 * DAY, courses_given=3, progression=True, overall_response="PD")
    return patient


def messages_to(address):
    return [m for m in mail.outbox if m.to == [address]]


def html_of(message) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")
