"""The daily reminder scan: every rule's boundaries through the beat task with a frozen clock, idempotence,
and a query count that does not grow with the number of patients (issue 7)."""

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registration import reminders, windows
from registration.models import REMINDER_KIND_CHOICES, Digest, Notice
from registration.tasks import daily_reminders
from tests.registration.factories import bulk_patients
from tests.registration.reminder_helpers import DAY, LABS, P, eligible, evaluated, messages_to, progressed, registered

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
K = windows.ReminderKind


def run_task_at(day: dt.date):
    """Run the beat-triggered task as beat sends it (no arguments) at 08:00 Tokyo on `day`."""
    with time_machine.travel(dt.datetime.combine(day, dt.time(8, 0), tzinfo=TOKYO), tick=False):
        result = daily_reminders.apply()
    assert result.successful(), result.traceback
    assert result.result["day"] == day.isoformat()
    return result.result


# (kind, patient builder, due date, deadline). Luminal plan 3 x 28: evaluation due P+84. Evaluated patients:
# evaluation P+85, so the window closes P+113 (evaluation + 28 < day 126).
BOUNDARIES = [
    (K.LABS_EXPIRING, "eligible", LABS + 11 * DAY, LABS + 14 * DAY),
    (K.LABS_LAST_DAY, "eligible", LABS + 14 * DAY, LABS + 14 * DAY),
    (K.EVALUATION_DUE_SOON, "registered", P + 77 * DAY, P + 84 * DAY),
    (K.EVALUATION_DUE, "registered", P + 84 * DAY, P + 84 * DAY),
    (K.WINDOW_OPENING, "registered", P + 84 * DAY, P + 84 * DAY),
    (K.WINDOW_CLOSING_7, "evaluated", P + 106 * DAY, P + 113 * DAY),
    (K.WINDOW_CLOSING_2, "evaluated", P + 111 * DAY, P + 113 * DAY),
    (K.WINDOW_MISSED, "evaluated", P + 114 * DAY, P + 113 * DAY),
    # Progression at the evaluation (issue 15): due the day of the evaluation, to the site and the data centre.
    (K.PROGRESSION, "progressed", P + 85 * DAY, P + 85 * DAY),
]


def test_every_rule_has_a_boundary_case_and_a_choice():
    assert {case[0] for case in BOUNDARIES} == set(K)
    assert {value for value, _label in REMINDER_KIND_CHOICES} == {str(k) for k in K}


@pytest.mark.parametrize(("kind", "builder", "due", "deadline"), BOUNDARIES, ids=[str(c[0]) for c in BOUNDARIES])
def test_rule_boundaries_through_the_daily_task(kind, builder, due, deadline, plans, site_a, coordinator_a,
                                                data_manager, mailoutbox):
    patient = {"eligible": lambda: eligible(site_a),
               "registered": lambda: registered(site_a, coordinator_a),
               "evaluated": lambda: evaluated(site_a, coordinator_a),
               "progressed": lambda: progressed(site_a, coordinator_a)}[builder]()
    to_data_centre = kind in (K.WINDOW_MISSED, K.PROGRESSION)
    expected_audiences = {"site_staff", "data_managers"} if to_data_centre else {"site_staff"}

    run_task_at(due - DAY)  # the day before: not yet
    assert not Notice.objects.filter(patient=patient, kind=kind).exists()

    run_task_at(due)  # the day of: due, stored and sent
    notices = Notice.objects.filter(patient=patient, kind=kind)
    assert {(n.due_date, n.deadline, n.audience, n.status) for n in notices} == {
        (due, deadline, audience, "sent") for audience in expected_audiences}
    first_sent = {n.pk: n.sent_at for n in notices}

    run_task_at(due + DAY)  # the day after: the same reminder (same due date) is never stored or sent again
    notices = Notice.objects.filter(patient=patient, kind=kind)
    assert {n.pk: n.sent_at for n in notices} == first_sent

    days_left = (deadline - due).days
    text = windows.RULES_BY_KIND[kind].kind.label % {"deadline": deadline.isoformat(), "days_left": days_left,
                                                     **windows.LABEL_NUMBERS}
    with_text = [m for m in messages_to(coordinator_a.email) if text in m.body]
    assert len(with_text) == 1, f"{kind}: sent {len(with_text)} times to the coordinator"
    if kind == K.WINDOW_MISSED:
        assert len([m for m in messages_to(data_manager.email) if text in m.body]) == 1


def test_running_the_scan_twice_sends_each_notice_once(plans, site_a, coordinator_a, investigator_a, mailoutbox):
    registered(site_a, coordinator_a)
    registered(site_a, coordinator_a)
    today = P + 84 * DAY  # each: evaluation due, window opening
    first, sent = reminders.run_daily(today=today)
    assert first.created == first.due == 4 and sent.sent == ["SITEA: 4 notices to 2 recipients"]
    assert len(mailoutbox) == 2 and {m.to[0] for m in mailoutbox} == {coordinator_a.email, investigator_a.email}

    second, sent_again = reminders.run_daily(today=today)
    assert (second.due, second.created) == (4, 0) and sent_again.sent == []
    assert len(mailoutbox) == 2
    assert Notice.objects.filter(status="sent").count() == 4 and Digest.objects.count() == 1


def test_the_scan_alone_stores_pending_notices_once(plans, site_a, coordinator_a):
    evaluated(site_a, coordinator_a)
    today = P + 111 * DAY
    assert reminders.scan(today=today).created == 1
    assert reminders.scan(today=today).created == 0
    assert list(Notice.objects.values_list("kind", "status")) == [("window_closing_2", "pending")]


@pytest.mark.parametrize(("status", "due"), [("open", 1), ("closed_to_accrual", 1), ("closed", 0), ("pending", 0)])
def test_reminders_go_on_closed_to_accrual_and_stop_when_closed(plans, site_a, site_b, coordinator_a,
                                                                 coordinator_b, status, due):
    evaluated(site_b, coordinator_b)
    site_b.status = status
    site_b.save()
    assert reminders.scan(today=P + 111 * DAY).due == due


def _split(queries):
    inserts = [q for q in queries if q["sql"].startswith("INSERT") and '"registration_notice"' in q["sql"][:60]]
    return len(queries) - len(inserts), len(inserts)


def test_scan_query_count_does_not_grow_with_the_number_of_patients(plans, site_a, coordinator_a):
    built = timezone.localdate()
    today = built + 35 * DAY  # bulk_patients registers them 0..133 days before `built`: many are due then
    counts = {}
    total = 0
    for n in (10, 990):  # 10 patients, then 1,000
        bulk_patients(site_a, n, plan=plans["luminal"], user=coordinator_a, today=built, start=total + 1)
        total += n
        Notice.objects.all().delete()  # every due notice is new in both scans
        with CaptureQueriesContext(connection) as ctx:
            result = reminders.scan(today=today)
        reads, inserts = _split(ctx.captured_queries)
        counts[total] = (len(ctx.captured_queries), reads, inserts, result.created)
    print(f"\nscan queries (total, reads, inserts, notices created): {counts}")
    (all_10, reads_10, inserts_10, created_10), (all_1000, reads_1000, inserts_1000, created_1000) = counts.values()
    assert created_10 > 0 and created_1000 > 50 * created_10 / 10  # the big scan stores many more notices
    assert reads_10 == reads_1000
    if connection.vendor == "postgresql":
        assert all_10 == all_1000 and inserts_10 == inserts_1000 == 1
    else:
        # SQLite: Django splits one INSERT at 999 parameters (76 notices of 13 columns); nothing else grows.
        batch = 999 // 13
        assert (inserts_10, inserts_1000) == (math.ceil(created_10 / batch), math.ceil(created_1000 / batch))
