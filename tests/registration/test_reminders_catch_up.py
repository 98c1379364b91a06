"""A schedule that survives an outage (issue 21): the hourly "has today's job run?" check runs the day's
reminder job when the 08:00 firing was lost, does nothing before 08:00 or once the day has run, and the
scan's "created" counts the rows really inserted."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command

from registration import reminders
from registration.models import Notice, ReminderRun
from registration.tasks import catch_up_reminders, daily_reminders
from tests.registration.mail_backends import FlakyBackend
from tests.registration.reminder_helpers import DAY, P, evaluated, messages_to

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
DUE = P + 111 * DAY  # an evaluated patient's "2 days left" reminder (reminder_helpers.evaluated)


def at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TOKYO).isoformat()


def test_beat_checks_every_hour_after_the_daily_firing():
    daily = settings.CELERY_BEAT_SCHEDULE["daily-reminders"]["schedule"]
    check = settings.CELERY_BEAT_SCHEDULE["reminders-catch-up"]
    assert check["task"] == "registration.tasks.catch_up_reminders" and not check.get("args")
    assert (daily.hour, daily.minute) == ({reminders.DAILY_AT.hour}, {reminders.DAILY_AT.minute})
    # Every hour from the firing to the end of the Tokyo day, after the firing's minute.
    assert check["schedule"].hour == set(range(reminders.DAILY_AT.hour, 24))
    assert check["schedule"].minute == {30}
    assert settings.CELERY_BROKER_CONNECTION_MAX_RETRIES is None  # a worker keeps reconnecting to Redis


def test_a_lost_firing_is_caught_up_by_the_next_hourly_check(plans, site_a, coordinator_a, mailoutbox):
    patient = evaluated(site_a, coordinator_a)
    # 08:00: beat's firing never reached a worker (broker down). 07:59 is too early to catch up anything.
    assert catch_up_reminders.apply(kwargs={"now": at(DUE, 7, 59)}).result == {"caught_up": False}
    assert not Notice.objects.exists() and not ReminderRun.objects.exists()

    result = catch_up_reminders.apply(kwargs={"now": at(DUE, 8, 30)}).result
    assert result["caught_up"] and result["day"] == DUE.isoformat() and result["created"] == 1
    assert result["sent"] == [f"{site_a.code}: 1 notices to 1 recipients"]
    assert Notice.objects.get().patient == patient and Notice.objects.get().status == "sent"
    run = ReminderRun.objects.get()
    assert (run.day, run.due, run.created) == (DUE, 1, 1)
    assert len(messages_to(coordinator_a.email)) == 1

    # The next hours' checks find the day run and do nothing (no second e-mail).
    for hour in (9, 23):
        assert catch_up_reminders.apply(kwargs={"now": at(DUE, hour, 30)}).result == {"caught_up": False}
    assert len(messages_to(coordinator_a.email)) == 1 and ReminderRun.objects.count() == 1


def test_after_the_firing_ran_the_check_does_nothing(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    daily_reminders.apply(kwargs={"day": DUE.isoformat()})
    assert ReminderRun.objects.filter(day=DUE).exists() and len(mailoutbox) == 1
    assert catch_up_reminders.apply(kwargs={"now": at(DUE, 8, 30)}).result == {"caught_up": False}
    # The next day is a new day: its own check runs its job.
    assert catch_up_reminders.apply(kwargs={"now": at(DUE + DAY, 8, 30)}).result["caught_up"]
    assert set(ReminderRun.objects.values_list("day", flat=True)) == {DUE, DUE + DAY}


def test_the_tokyo_date_decides_the_day(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    # 23:30 UTC on DUE - 1 is 08:30 on DUE in Tokyo.
    utc = dt.datetime.combine(DUE - DAY, dt.time(23, 30), tzinfo=dt.UTC).isoformat()
    assert catch_up_reminders.apply(kwargs={"now": utc}).result["day"] == DUE.isoformat()


def test_a_run_by_hand_counts_as_the_days_run(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    call_command("send_reminders", "--date", DUE.isoformat())
    assert ReminderRun.objects.filter(day=DUE).exists()
    assert catch_up_reminders.apply(kwargs={"now": at(DUE, 9, 30)}).result == {"caught_up": False}
    call_command("send_reminders", "--date", (DUE + DAY).isoformat(), "--dry-run")  # a dry run writes nothing
    assert not ReminderRun.objects.filter(day=DUE + DAY).exists()


def test_a_failed_delivery_leaves_the_day_to_the_next_check(plans, site_a, coordinator_a, settings, mailoutbox,
                                                              monkeypatch):
    evaluated(site_a, coordinator_a)
    settings.EMAIL_BACKEND = "tests.registration.mail_backends.FlakyBackend"
    monkeypatch.setattr(FlakyBackend, "script", ["fail"])
    with pytest.raises(reminders.DeliveryFailed):
        reminders.catch_up(now=dt.datetime.fromisoformat(at(DUE, 8, 30)))
    assert not ReminderRun.objects.exists() and Notice.objects.get().status == "pending"
    result = catch_up_reminders.apply(kwargs={"now": at(DUE, 9, 30)}).result
    assert result["caught_up"] and result["created"] == 0  # the notice was stored by the failed run
    assert Notice.objects.get().status == "sent" and ReminderRun.objects.get().created == 0


def test_created_counts_only_rows_really_inserted(plans, site_a, coordinator_a, monkeypatch):
    for _ in range(3):
        evaluated(site_a, coordinator_a)
    assert reminders.scan(today=DUE).created == 3
    # A concurrent scan inserted the notices after this one read what was stored: it must count none.
    monkeypatch.setattr(reminders, "_stored_keys", lambda today: set())
    again = reminders.scan(today=DUE)
    assert (again.due, again.created) == (3, 0) and Notice.objects.count() == 3


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01T08:00"])
def test_a_bad_moment_is_refused_and_changes_nothing(bad, plans, site_a, coordinator_a):
    evaluated(site_a, coordinator_a)
    result = catch_up_reminders.apply(kwargs={"now": bad})
    assert result.failed() and isinstance(result.result, ValueError)
    assert not Notice.objects.exists() and not ReminderRun.objects.exists()
