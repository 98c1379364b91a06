"""Window arithmetic at every boundary, through the services, with the clock frozen at Asia/Tokyo
midnight edges: 23:59:59 JST is still the earlier day, 00:00:00 JST already the next (15:00 UTC of the
previous UTC day, so a service that took the UTC date would fail these).

Primary registration on 2026-03-02 unless said otherwise: day 84 = 2026-05-25, day 126 = 2026-07-06.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from registration import selectors, services, windows
from registration.exceptions import NotEligible
from screening.models import Patient
from tests.factories import PASSWORD
from tests.registration.factories import JUDGED_ON, make_eligible_screening, record

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
DAY = dt.timedelta(days=1)


def last_second(day: dt.date):
    return time_machine.travel(dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=TOKYO), tick=False)


def midnight(day: dt.date):
    return time_machine.travel(dt.datetime.combine(day, dt.time(0, 0, 0), tzinfo=TOKYO), tick=False)


def registered(user, site, on=JUDGED_ON, **kwargs) -> Patient:
    """Primary registration 'today' = `on`, at 00:00 JST (still the previous day in UTC)."""
    screening = make_eligible_screening(site=site, on=on, **kwargs)
    with midnight(on):
        registration = services.register_primary(screening=screening, user=user, password=PASSWORD)
    assert registration.registration_date == on  # the Tokyo date, not the UTC one
    return registration.patient


def secondary_today(patient, user, evaluation_on, labs_on=None):
    """Record the evaluation and register secondary with today's date (the frozen clock)."""
    record(patient, user, evaluation_on, labs_on=labs_on or evaluation_on, courses_given=3)
    return services.register_secondary(patient=patient, user=user, password=PASSWORD)


# --- primary registration: labs 14 / 15 days -----------------------------------------------------------


def test_primary_labs_14_days_old_at_the_last_second_accepted(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)  # labs drawn 2026-02-24
    with last_second(dt.date(2026, 3, 10)):  # day 14 after the labs
        registration = services.register_primary(screening=screening, user=coordinator_a, password=PASSWORD)
    assert registration.registration_date == dt.date(2026, 3, 10)


def test_primary_labs_15_days_old_at_midnight_refused(plans, coordinator_a, site_a):
    screening = make_eligible_screening(site=site_a)
    with midnight(dt.date(2026, 3, 11)), pytest.raises(NotEligible) as refused:
        services.register_primary(screening=screening, user=coordinator_a, password=PASSWORD)
    assert refused.value.failures[0][0] == "P16"
    assert "2026-02-24, 15 days before registration (limit 14 days)" in refused.value.message


@pytest.mark.parametrize(("today", "ok"), [(dt.date(2026, 1, 7), True), (dt.date(2026, 1, 8), False)])
def test_primary_labs_across_the_year_end(plans, coordinator_a, site_a, today, ok):
    screening = make_eligible_screening(site=site_a, on=dt.date(2026, 1, 6), labs_on=dt.date(2025, 12, 24))
    with (midnight(today) if not ok else last_second(today)):
        if ok:
            assert services.register_primary(screening=screening, user=coordinator_a, password=PASSWORD)
        else:
            with pytest.raises(NotEligible, match="P16"):
                services.register_primary(screening=screening, user=coordinator_a, password=PASSWORD)


# --- secondary registration: days 83 / 84 and 126 / 127 (S4) -------------------------------------------


def test_day_83_at_the_last_second_refused(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)
    with last_second(JUDGED_ON + 83 * DAY), pytest.raises(NotEligible) as refused:
        secondary_today(patient, coordinator_a, JUDGED_ON + 80 * DAY)
    assert refused.value.failures == [
        ("S4", "day 83 after primary registration 2026-03-02; the window is day 84-126 (2026-05-25 to 2026-07-06)")]


def test_day_84_at_midnight_accepted(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)
    with midnight(JUDGED_ON + 84 * DAY):
        secondary = secondary_today(patient, coordinator_a, JUDGED_ON + 80 * DAY)
    assert secondary.registration_date == dt.date(2026, 5, 25)
    # Randomization follows at once in the same transaction.
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.RANDOMIZED


def test_day_126_at_the_last_second_accepted(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)
    with last_second(JUDGED_ON + 126 * DAY):
        secondary = secondary_today(patient, coordinator_a, JUDGED_ON + 120 * DAY)
    assert secondary.registration_date == dt.date(2026, 7, 6)


def test_day_127_at_midnight_refused_with_the_window_dates(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)
    with midnight(JUDGED_ON + 127 * DAY), pytest.raises(NotEligible) as refused:
        secondary_today(patient, coordinator_a, JUDGED_ON + 120 * DAY)
    assert "S4: day 127 after primary registration 2026-03-02; the window is day 84-126 (2026-05-25 to 2026-07-06)" \
        in refused.value.message
    assert Patient.objects.get(pk=patient.pk).stage == Patient.Stage.REGISTERED


# --- evaluation + 28 / + 29 (S3) ----------------------------------------------------------------------


def test_evaluation_plus_28_at_the_last_second_accepted(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)
    evaluation = JUDGED_ON + 90 * DAY  # 2026-05-31
    with last_second(evaluation + 28 * DAY):
        secondary = secondary_today(patient, coordinator_a, evaluation, labs_on=evaluation + 20 * DAY)
    assert secondary.registration_date == dt.date(2026, 6, 28)


def test_evaluation_plus_29_at_midnight_refused(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)
    evaluation = JUDGED_ON + 90 * DAY
    with midnight(evaluation + 29 * DAY), pytest.raises(NotEligible) as refused:
        secondary_today(patient, coordinator_a, evaluation, labs_on=evaluation + 20 * DAY)
    assert refused.value.failures == [
        ("S3", "day 29 after the response evaluation 2026-05-31; secondary registration must be within 28 days "
               "of it (2026-05-31 to 2026-06-28)")]


# --- secondary labs 14 / 15 days (S8) -----------------------------------------------------------------


@pytest.mark.parametrize(("age", "ok"), [(14, True), (15, False)])
def test_secondary_labs_14_and_15_days(plans, coordinator_a, site_a, age, ok):
    patient = registered(coordinator_a, site_a)
    today = JUDGED_ON + 100 * DAY
    with (last_second(today) if ok else midnight(today)):
        if ok:
            assert secondary_today(patient, coordinator_a, today - 20 * DAY, labs_on=today - age * DAY)
        else:
            with pytest.raises(NotEligible) as refused:
                secondary_today(patient, coordinator_a, today - 20 * DAY, labs_on=today - age * DAY)
            assert [cid for cid, _ in refused.value.failures] == ["S8"]


# --- month and year ends ------------------------------------------------------------------------------


def test_day_83_on_a_month_end_refused_day_84_on_the_first_accepted(plans, coordinator_a, site_a):
    primary = dt.date(2026, 3, 9)  # day 83 = 2026-05-31, day 84 = 2026-06-01
    patient = registered(coordinator_a, site_a, on=primary)
    with last_second(dt.date(2026, 5, 31)), pytest.raises(NotEligible, match="S4: day 83"):
        secondary_today(patient, coordinator_a, dt.date(2026, 5, 30))
    with midnight(dt.date(2026, 6, 1)):
        assert services.register_secondary(patient=patient, user=coordinator_a, password=PASSWORD)


def test_day_126_on_new_years_eve_accepted_day_127_on_new_years_day_refused(plans, coordinator_a, site_a):
    primary = dt.date(2026, 8, 27)  # day 126 = 2026-12-31, day 127 = 2027-01-01
    patient = registered(coordinator_a, site_a, on=primary)
    other = registered(coordinator_a, site_a, on=primary)
    with midnight(dt.date(2027, 1, 1)), pytest.raises(NotEligible) as refused:
        secondary_today(other, coordinator_a, dt.date(2026, 12, 20))
    assert "S4: day 127 after primary registration 2026-08-27; the window is day 84-126 (2026-11-19 to 2026-12-31)" \
        in refused.value.message
    with last_second(dt.date(2026, 12, 31)):
        assert secondary_today(patient, coordinator_a, dt.date(2026, 12, 20)).registration_date == dt.date(2026, 12, 31)


# --- the status the worklist shows, at the same edges --------------------------------------------------


def _status(patient):
    patient = selectors.patients_with_records(Patient.objects.filter(pk=patient.pk)).get()
    from django.utils import timezone

    return windows.patient_status(selectors.timeline_of(patient), timezone.localdate())


def test_status_window_closing_until_the_last_second_then_missed_at_midnight(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)
    evaluation = JUDGED_ON + 90 * DAY  # closes 2026-06-28 (evaluation + 28)
    with midnight(evaluation):
        record(patient, coordinator_a, evaluation, courses_given=3)
    with last_second(evaluation + 20 * DAY):
        assert _status(patient) == windows.Status.WINDOW_OPEN  # 8 days left
    with midnight(evaluation + 21 * DAY):
        assert _status(patient) == windows.Status.WINDOW_CLOSING  # 7 days left
    with last_second(evaluation + 28 * DAY):
        assert _status(patient) == windows.Status.WINDOW_CLOSING  # the close day: 0 days left, still open
    with midnight(evaluation + 29 * DAY):
        assert _status(patient) == windows.Status.WINDOW_MISSED


def test_status_evaluation_due_from_midnight_of_the_due_date(plans, coordinator_a, site_a):
    patient = registered(coordinator_a, site_a)  # luminal: 3 x 28 days, due day 84
    with last_second(JUDGED_ON + 83 * DAY):
        assert _status(patient) == windows.Status.ON_THERAPY
    with midnight(JUDGED_ON + 84 * DAY):
        assert _status(patient) == windows.Status.EVALUATION_DUE
