"""Follow-up assessments in the iCalendar feed (issue 16, FOLLOWUP.md): the next assessment due and overdue
ones, like the registration windows; for the patients of the feed user's sites only, none for the dead or
those withdrawn from study visits; parsed with `icalendar`."""

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from followup import calendar, services
from followup.models import ScheduleRule
from registration import ical
from tests.followup.factories import ORIGIN, day, randomized_patient

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
TODAY = ORIGIN + dt.timedelta(days=100)  # example schedule, every 84 days +/- 14: no. 1 overdue, no. 2 due day 168


def on(when):
    return time_machine.travel(dt.datetime.combine(when, dt.time(9, 0), tzinfo=TOKYO), tick=False)


def feed_events(user) -> dict:
    token = ical.issue_token(user=user).token
    with on(TODAY):
        response = Client().get(f"/calendar/{token}.ics")
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(response.content).walk("VEVENT")}


@pytest.fixture
def followed(plans, data_manager, site_a, site_b, coordinator_a, coordinator_b):
    with on(TODAY):
        for from_day, interval, window in ((0, 84, 14), (1092, 182, 28)):  # example values
            services.save_schedule_rule(rule=ScheduleRule(from_day=from_day, interval_days=interval,
                                                          window_days=window), user=data_manager, reason="Example")
        a = randomized_patient(site_a, coordinator_a)
        b = randomized_patient(site_b, coordinator_b)
        dead = randomized_patient(site_a, coordinator_a)
        services.record_death(patient=dead, user=coordinator_a, data={"date": day(50), "cause": "other"})
        no_visits = randomized_patient(site_a, coordinator_a)
        services.record_withdrawal(patient=no_visits, user=coordinator_a, data={"date": day(40), "kind": "visits"})
        no_treatment = randomized_patient(site_a, coordinator_a)  # stops protocol treatment only: still followed
        services.record_withdrawal(patient=no_treatment, user=coordinator_a,
                                   data={"date": day(40), "kind": "treatment"})
    return a, b, dead, no_visits, no_treatment


def assessment_events(by_uid, patient):
    return {uid: e for uid, e in by_uid.items() if uid.startswith(f"oligami-{patient.pk}-assessment-")}


def test_next_due_and_overdue_assessments_for_the_users_sites_only(followed, coordinator_a, coordinator_b):
    a, b, dead, no_visits, no_treatment = followed
    by_uid = feed_events(coordinator_a)
    number = a.primary_registration.number
    mine = assessment_events(by_uid, a)
    assert set(mine) == {f"oligami-{a.pk}-assessment-1@127.0.0.1", f"oligami-{a.pk}-assessment-2@127.0.0.1"}
    overdue, due = mine[f"oligami-{a.pk}-assessment-1@127.0.0.1"], mine[f"oligami-{a.pk}-assessment-2@127.0.0.1"]
    assert overdue["DTSTART"].dt == day(84) and overdue["DTEND"].dt == day(85)  # all-day, on the due day
    assert not isinstance(overdue["DTSTART"].dt, dt.datetime)
    assert str(overdue["SUMMARY"]) == (f"{number}: Assessment 1 overdue (due {day(84).isoformat()}, "
                                       f"window ended {day(98).isoformat()})")
    assert str(due["SUMMARY"]) == (f"{number}: Assessment 2 due (window {day(154).isoformat()} to "
                                   f"{day(182).isoformat()})")
    assert str(due["URL"]).endswith(reverse("followup:patient", kwargs={"pk": a.pk}))
    assert a.screening_number in str(due["DESCRIPTION"])
    # Withdrawn from protocol treatment only: follow-up continues, so do the assessments.
    assert assessment_events(by_uid, no_treatment)
    # Not for the dead, nor those withdrawn from study visits; not another site's patient.
    assert not assessment_events(by_uid, dead) and not assessment_events(by_uid, no_visits)
    assert not assessment_events(by_uid, b) and b.screening_number not in str(
        [e["DESCRIPTION"] for e in by_uid.values()])
    # The other site's coordinator sees theirs and none of site A's.
    other = feed_events(coordinator_b)
    assert assessment_events(other, b) and not assessment_events(other, a)


def test_an_assessment_recorded_in_its_window_moves_the_feed_on(followed, coordinator_a):
    a = followed[0]
    with on(TODAY):
        services.record_assessment(patient=a, user=coordinator_a, data={"date": day(95), "progression": False})
    mine = assessment_events(feed_events(coordinator_a), a)
    assert list(mine) == [f"oligami-{a.pk}-assessment-2@127.0.0.1"]


def test_all_data_withdrawal_leaves_no_assessment_in_the_feed(followed, coordinator_a):
    a = followed[0]
    with on(TODAY):
        services.record_withdrawal(patient=a, user=coordinator_a, data={"date": day(99), "kind": "all_data"})
    assert not assessment_events(feed_events(coordinator_a), a)


def test_the_source_is_registered_and_its_queries_do_not_grow_with_the_patients(followed, site_a, coordinator_a):
    assert calendar.events in ical._sources
    with on(TODAY), CaptureQueriesContext(connection) as few:
        found = calendar.events(coordinator_a, [site_a.pk], TODAY)
    assert len(found) == 4  # a and the patient withdrawn from treatment: one overdue, one due each
    with on(TODAY):
        for _ in range(3):
            randomized_patient(site_a, coordinator_a)
        with CaptureQueriesContext(connection) as many:
            found = calendar.events(coordinator_a, [site_a.pk], TODAY)
    assert len(found) == 10 and len(many) == len(few)


def test_the_assessment_events_are_in_the_users_language(followed, coordinator_a):
    coordinator_a.preferred_language = "ja"
    coordinator_a.save()
    a = followed[0]
    summary = str(feed_events(coordinator_a)[f"oligami-{a.pk}-assessment-1@127.0.0.1"]["SUMMARY"])
    assert summary == (f"{a.primary_registration.number}: 第1回の評価が期限超過（予定日 {day(84).isoformat()}、"
                       f"許容期間は {day(98).isoformat()} に終了）")
