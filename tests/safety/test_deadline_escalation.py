"""Escalation with a frozen clock (time-machine): a report deadline 24 hours away, then passed, appears at
once on the site's worklist and calendar feed, and is e-mailed at once (not in the morning digest) to the
site investigator and the data managers, once per deadline and level (SAFETY.md "Deadlines"; issue 18)."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from icalendar import Calendar

from registration import ical
from safety import deadlines, services, tasks
from safety.models import DeadlineAlert
from tests.factories import PASSWORD
from tests.followup.factories import ORIGIN
from tests.safety.helpers import at, event_data, on_treatment

pytestmark = pytest.mark.django_db

AWARE = at(ORIGIN + dt.timedelta(days=11), 9, 30)  # the site learned of the Grade 4 event


@pytest.fixture
def patient(plans, site_a, coordinator_a, investigator_a, data_manager):
    return on_treatment(site_a, coordinator_a)


def _feed_summaries(user, now) -> list[str]:
    body = ical.feed(user, today=now.date(), now=now)
    return [str(e["SUMMARY"]) for e in Calendar.from_ical(body).walk("VEVENT")]


def _worklist(client, user) -> str:
    client.force_login(user)
    return client.get(reverse("home")).content.decode()


def test_due_soon_then_overdue_on_worklist_calendar_and_at_once_by_mail(client, patient, coordinator_a,
                                                                        investigator_a, data_manager,
                                                                        django_capture_on_commit_callbacks):
    with time_machine.travel(AWARE + dt.timedelta(minutes=20), tick=False):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            event = services.record_event(patient=patient, data=event_data(
                onset_date=AWARE.date(), awareness=AWARE), user=coordinator_a)
        # The service sends the escalation task when its transaction commits (a late entry is escalated at once).
        assert len(callbacks) == 1
        assert deadlines.escalate(now=AWARE + dt.timedelta(minutes=20)) == {"created": 0, "sent": 0, "failed": 0}
        assert not mail.outbox

    first_due = AWARE + dt.timedelta(hours=72)
    with time_machine.travel(first_due - dt.timedelta(hours=24, seconds=1), tick=False):
        assert tasks.scan_deadlines() == {"created": 0, "sent": 0, "failed": 0}
        page = _worklist(client, coordinator_a)
        assert "deadline-open" in page and "deadline-due_soon" not in page

    with time_machine.travel(first_due - dt.timedelta(hours=24), tick=False) as clock:
        # 24 hours away: on the worklist and in the feed at once (computed per request)...
        page = _worklist(client, coordinator_a)
        assert "safety-deadlines-table" in page and "deadline-due_soon" in page
        now = first_due - dt.timedelta(hours=24)
        assert any("due within 24 hours" in s for s in _feed_summaries(coordinator_a, now))
        # ...and by e-mail from the next scan, to the investigator and the data manager (not the coordinator).
        assert tasks.scan_deadlines() == {"created": 1, "sent": 1, "failed": 0}
        assert sorted(m.to[0] for m in mail.outbox) == sorted([investigator_a.email, data_manager.email])
        assert all("due within 24 hours" in m.subject and patient.screening_number in m.subject for m in mail.outbox)
        # A second scan (or the task redelivered) sends nothing again.
        clock.shift(dt.timedelta(minutes=5))
        assert tasks.scan_deadlines() == {"created": 0, "sent": 0, "failed": 0}
        assert tasks.escalate_event(event.pk) == {"created": 0, "sent": 0, "failed": 0}
        assert len(mail.outbox) == 2

    with time_machine.travel(first_due + dt.timedelta(seconds=1), tick=False):
        page = _worklist(client, coordinator_a)
        assert "deadline-overdue" in page
        assert any("OVERDUE" in s for s in _feed_summaries(coordinator_a, first_due + dt.timedelta(seconds=1)))
        assert tasks.scan_deadlines() == {"created": 1, "sent": 1, "failed": 0}
        overdue = mail.outbox[2:]
        assert len(overdue) == 2 and all("OVERDUE" in m.subject for m in overdue)
        assert set(DeadlineAlert.objects.values_list("report", "level")) == {("first", "due_soon"),
                                                                              ("first", "overdue")}
        # The data manager's dashboard counts it for the site.
        client.force_login(data_manager)
        assert 'id="overdue-reports"' in client.get(reverse("home")).content.decode()
        # Signed (late): the first deadline closes; the second is still open and not yet near.
        services.sign_report(event=event, kind="first", narrative="Late first report.", user=investigator_a,
                             password=PASSWORD)
        remaining = deadlines.deadline_of(event, first_due + dt.timedelta(seconds=1))
        assert [(d.report, d.state) for d in remaining] == [("second", "open")]
        assert tasks.scan_deadlines() == {"created": 0, "sent": 0, "failed": 0}


def test_a_late_entry_is_escalated_by_the_task_sent_on_commit(patient, coordinator_a,
                                                             django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.escalate_event, "delay", lambda event_id: sent.append(tasks.escalate_event(event_id)))
    now = AWARE + dt.timedelta(hours=80)  # learned of three days ago, entered now: already overdue
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.record_event(patient=patient, data=event_data(onset_date=AWARE.date(), awareness=AWARE),
                              user=coordinator_a)
    assert sent == [{"created": 1, "sent": 1, "failed": 0}]
    assert "OVERDUE" in mail.outbox[0].subject


def test_a_raised_grade_escalates_from_the_awareness_of_the_change(patient, coordinator_a):
    with time_machine.travel(AWARE + dt.timedelta(hours=1), tick=False):
        event = services.record_event(patient=patient, data=event_data(
            grade=3, hospitalization_24h=False, onset_date=AWARE.date(), awareness=AWARE), user=coordinator_a)
    change = AWARE + dt.timedelta(days=4)
    with time_machine.travel(change + dt.timedelta(minutes=1), tick=False):
        services.update_event(event=event, data=event_data(grade=4, onset_date=AWARE.date(), change_awareness=change),
                              user=coordinator_a, reason="Grade 4")
        # 4 days after the first awareness, but the clock started at the change: nothing near yet.
        assert tasks.scan_deadlines()["created"] == 0
    with time_machine.travel(change + dt.timedelta(hours=48), tick=False):
        assert tasks.scan_deadlines()["created"] == 1
