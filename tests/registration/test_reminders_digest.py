"""Reminder digests: one per site per day, numbers only, the recipient's language, SMTP failures retried
and never marked sent, the send_reminders command, the patient page history and the admin (issue 7)."""

import datetime as dt
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation
from django.utils.translation import gettext

from registration import reminders, windows
from registration.models import Digest, Notice
from registration.tasks import MAX_RETRIES, RETRY_BACKOFF_MAX, daily_reminders
from tests.factories import MembershipFactory
from tests.registration.mail_backends import FlakyBackend
from tests.registration.reminder_helpers import DAY, LABS, P, eligible, evaluated, html_of, messages_to, registered

pytestmark = pytest.mark.django_db
K = windows.ReminderKind
CLOSING_2 = P + 111 * DAY  # evaluated patients: "2 days left" (window closes P + 113)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.registration.mail_backends.FlakyBackend"
    FlakyBackend.script, FlakyBackend.attempts = [], 0
    yield FlakyBackend
    FlakyBackend.script = []


# --- content --------------------------------------------------------------------------------------


def test_one_digest_per_site_with_numbers_only_in_each_recipients_language(
        plans, site_a, site_b, coordinator_a, investigator_a, coordinator_b, settings, mailoutbox):
    settings.SITE_URL = "https://oligami.example.org"
    investigator_a.preferred_language = "ja"
    investigator_a.save()
    a1 = evaluated(site_a, coordinator_a, patient__initials="ZQ", patient__birth_date=dt.date(1961, 4, 17))
    a2 = evaluated(site_a, coordinator_a, patient__initials="XW")
    b1 = evaluated(site_b, coordinator_b, patient__initials="VY")
    numbers = {p.pk: p.primary_registration.number for p in (a1, a2, b1)}

    scanned, sent = reminders.run_daily(today=CLOSING_2)
    assert scanned.created == 3 and sent.sent == ["SITEA: 2 notices to 2 recipients",
                                                   "SITEB: 1 notices to 1 recipients"]
    assert len(mailoutbox) == 3  # one message per recipient, one digest per site
    by_user = [messages_to(user.email) for user in (coordinator_a, investigator_a, coordinator_b)]
    assert [len(messages) for messages in by_user] == [1, 1, 1]
    en, ja, other = (messages[0] for messages in by_user)

    for message in (en, ja):
        html = html_of(message)
        for part in (message.subject, message.body, html):
            assert numbers[a1.pk] in part or part is message.subject
            assert numbers[b1.pk] not in part and b1.screening_number not in part  # only the site's patients
            for secret in ("ZQ", "XW", "1961-04-17", "1961", a1.birth_date.isoformat()):  # no initials/birth dates
                assert secret not in part
        assert numbers[a2.pk] in message.body and a1.screening_number in message.body
        assert f"https://oligami.example.org/registration/patients/{a1.pk}/" in message.body
        assert f'href="https://oligami.example.org/registration/patients/{a1.pk}/"' in html
        assert "2026-06-23" in message.body  # the deadline (window close P + 113) and days left
    assert numbers[b1.pk] in other.body and numbers[a1.pk] not in other.body

    label = windows.ReminderKind.WINDOW_CLOSING_2.label
    params = {"deadline": "2026-06-23", "days_left": 2}
    assert label % params in en.body and "Site A Hospital" in en.subject
    assert 'lang="en"' in html_of(en)
    with translation.override("ja"):
        japanese = gettext(label) % params
    assert japanese in ja.body and japanese in html_of(ja) and "Aサイト病院" in ja.subject
    assert 'lang="ja"' in html_of(ja) and label % params not in ja.body
    digest = Digest.objects.get(site=site_a)
    assert digest.status == "sent" and set(digest.deliveries) == {str(coordinator_a.pk), str(investigator_a.pk)}
    assert digest.deliveries[str(investigator_a.pk)]["message_id"] == ja.extra_headers["Message-ID"]


def test_window_missed_goes_to_the_site_and_a_data_manager_digest(plans, site_a, site_b, coordinator_a,
                                                                  coordinator_b, data_manager, mailoutbox):
    a = evaluated(site_a, coordinator_a)
    b = evaluated(site_b, coordinator_b)
    reminders.run_daily(today=P + 114 * DAY)  # the day after the close
    assert Notice.objects.filter(kind="window_missed").count() == 4  # (site staff, data managers) x 2
    to_dm = messages_to(data_manager.email)
    assert len(to_dm) == 1 and "SITEA" in to_dm[0].body and "SITEB" in to_dm[0].body
    assert a.primary_registration.number in to_dm[0].body and b.primary_registration.number in to_dm[0].body
    assert len(messages_to(coordinator_a.email)) == len(messages_to(coordinator_b.email)) == 1
    assert Digest.objects.get(audience="data_managers").site is None


def test_a_digest_sent_for_the_day_is_never_sent_again(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    reminders.run_daily(today=CLOSING_2)
    eligible(site_a, on=CLOSING_2 - 8 * DAY)  # labs drawn on - 6 days: last valid day CLOSING_2, found later that day
    scanned, sent = reminders.run_daily(today=CLOSING_2)
    assert scanned.created == 1 and sent.waiting == ["SITEA"] and len(mailoutbox) == 1
    assert Notice.objects.get(kind="labs_last_day").status == "pending"
    _scanned, sent = reminders.run_daily(today=CLOSING_2 + DAY)  # goes out with the next day's digest
    assert len(mailoutbox) == 2 and "labs" in mailoutbox[1].body.lower()
    assert Notice.objects.get(kind="labs_last_day").status == "sent"


def test_a_site_without_recipients_fails_its_notices_visibly(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    coordinator_a.memberships.update(active=False)
    _scanned, sent = reminders.run_daily(today=CLOSING_2)
    notice = Notice.objects.get()
    assert (notice.status, notice.sent_at) == ("failed", None) and "no active coordinator" in notice.last_error
    assert sent.failed and not mailoutbox


# --- failures -------------------------------------------------------------------------------------


def test_smtp_failure_then_success_sends_one_email_and_marks_sent_only_after(plans, site_a, coordinator_a, flaky,
                                                                             mailoutbox):
    evaluated(site_a, coordinator_a)
    flaky.script = ["fail"]
    with pytest.raises(reminders.DeliveryFailed, match="connection unexpectedly closed"):
        reminders.run_daily(today=CLOSING_2)
    notice = Notice.objects.get()
    assert (notice.status, notice.sent_at, notice.attempts, notice.digest) == ("pending", None, 1, None)
    assert "SMTPServerDisconnected" in notice.last_error and not mailoutbox
    assert Digest.objects.get().status == "pending"

    reminders.run_daily(today=CLOSING_2)  # the retry
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error) == ("sent", 2, "") and notice.sent_at is not None
    assert len(mailoutbox) == 1 and flaky.attempts == 2


def test_a_retry_after_a_partial_failure_sends_only_to_the_others(plans, site_a, coordinator_a, investigator_a,
                                                                  flaky, mailoutbox):
    evaluated(site_a, coordinator_a)
    flaky.script = ["ok", "fail"]  # the coordinator gets it, the investigator's message is refused
    with pytest.raises(reminders.DeliveryFailed):
        reminders.run_daily(today=CLOSING_2)
    assert [m.to for m in mailoutbox] == [[coordinator_a.email]]
    assert Notice.objects.get().status == "pending"
    reminders.run_daily(today=CLOSING_2)
    assert sorted(m.to[0] for m in mailoutbox) == sorted([coordinator_a.email, investigator_a.email])
    assert Notice.objects.get().status == "sent"


def test_the_task_retries_smtp_errors_with_capped_backoff(plans, site_a, coordinator_a, flaky, mailoutbox, settings):
    evaluated(site_a, coordinator_a)
    flaky.script = ["fail", "fail"]
    result = daily_reminders.apply(kwargs={"day": CLOSING_2.isoformat()})  # eager: retries run at once
    assert result.successful(), result.traceback
    assert len(mailoutbox) == 1 and flaky.attempts == 3
    notice = Notice.objects.get()
    assert (notice.status, notice.attempts) == ("sent", 3)
    # Each retry countdown stays far below the broker's visibility timeout (a waiting retry is never
    # redelivered to a second worker), and retries are bounded.
    assert daily_reminders.acks_late and daily_reminders.max_retries == MAX_RETRIES <= 10
    assert daily_reminders.retry_backoff_max == RETRY_BACKOFF_MAX
    assert MAX_RETRIES * RETRY_BACKOFF_MAX < 3600 <= settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(
        "visibility_timeout", 3600)


def test_a_notice_is_given_up_after_max_attempts(plans, site_a, coordinator_a, flaky, mailoutbox):
    evaluated(site_a, coordinator_a)
    reminders.scan(today=CLOSING_2)
    Notice.objects.update(attempts=reminders.MAX_ATTEMPTS - 1)
    flaky.script = ["fail"]
    with pytest.raises(reminders.DeliveryFailed):
        reminders.send_digests(today=CLOSING_2)
    notice = Notice.objects.get()
    assert (notice.status, notice.attempts, notice.sent_at) == ("failed", reminders.MAX_ATTEMPTS, None)
    reminders.run_daily(today=CLOSING_2)
    assert not mailoutbox and Notice.objects.get().status == "failed"


def test_claims_of_a_dead_sender_are_taken_back_after_the_timeout(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    reminders.scan(today=CLOSING_2)
    long_ago = timezone.now() - reminders.CLAIM_TIMEOUT - timedelta(minutes=1)
    digest = Digest.objects.create(day=CLOSING_2, audience="site_staff", site=site_a, status="claimed",
                                   claimed_at=long_ago, attempts=1)
    Notice.objects.update(status="claimed", claimed_at=long_ago, digest=digest)
    reminders.send_digests(today=CLOSING_2)
    assert len(mailoutbox) == 1 and Notice.objects.get().status == "sent"


def test_a_fresh_claim_of_another_sender_is_left_alone(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    reminders.scan(today=CLOSING_2)
    Digest.objects.create(day=CLOSING_2, audience="site_staff", site=site_a, status="claimed",
                          claimed_at=timezone.now(), attempts=1)
    reminders.send_digests(today=CLOSING_2)
    assert not mailoutbox and Notice.objects.get().status == "pending"


# --- command ----------------------------------------------------------------------------------------


def test_send_reminders_dry_run_writes_nothing(plans, site_a, coordinator_a, mailoutbox):
    patient = evaluated(site_a, coordinator_a)
    out = io.StringIO()
    call_command("send_reminders", "--date", CLOSING_2.isoformat(), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "dry run" in text and "digest SITEA" in text and coordinator_a.email in text
    assert patient.primary_registration.number in text and "window_closing_2" in text
    assert not Notice.objects.exists() and not Digest.objects.exists() and not mailoutbox


def test_send_reminders_with_a_date_sends_and_reports(plans, site_a, coordinator_a, mailoutbox):
    evaluated(site_a, coordinator_a)
    out = io.StringIO()
    call_command("send_reminders", "--date", CLOSING_2.isoformat(), stdout=out)
    assert "1 reminders due, 1 new" in out.getvalue() and "sent SITEA" in out.getvalue()
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("value", ["2026-13-01", "tomorrow", "01/04/2026", ""])
def test_send_reminders_refuses_a_bad_date(value):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("send_reminders", "--date", value or " ")


def test_send_reminders_reports_delivery_failure(plans, site_a, coordinator_a, flaky):
    evaluated(site_a, coordinator_a)
    flaky.script = ["fail"]
    with pytest.raises(CommandError, match="not sent"):
        call_command("send_reminders", "--date", CLOSING_2.isoformat(), stdout=io.StringIO())


# --- patient page and admin -----------------------------------------------------------------------


def test_patient_page_shows_the_reminder_history(client, plans, site_a, coordinator_a, mailoutbox):
    patient = evaluated(site_a, coordinator_a)
    reminders.run_daily(today=P + 106 * DAY)
    reminders.run_daily(today=CLOSING_2)
    client.force_login(coordinator_a)
    html = client.get(f"/registration/patients/{patient.pk}/").content.decode()
    assert 'id="reminder-history"' in html
    assert "Window closes in 7 days" in html and "Window closes in 2 days" in html
    assert "2026-06-16" in html and "2026-06-21" in html and html.count("✔ Sent") == 2


def test_data_managers_see_sent_and_failed_notices_read_only_in_the_admin(client, plans, site_a, coordinator_a,
                                                                          data_manager, flaky):
    evaluated(site_a, coordinator_a)
    registered(site_a, coordinator_a)
    reminders.run_daily(today=P + 84 * DAY)
    flaky.script = ["fail"]
    reminders.scan(today=CLOSING_2)
    Notice.objects.filter(status="pending").update(attempts=reminders.MAX_ATTEMPTS - 1)
    with pytest.raises(reminders.DeliveryFailed):
        reminders.send_digests(today=CLOSING_2)
    client.force_login(data_manager)
    page = client.get("/admin/registration/notice/")
    assert page.status_code == 200
    assert client.get("/admin/registration/notice/?status__exact=failed").context["cl"].result_count == 1
    sent = Notice.objects.filter(status="sent").count()
    assert sent >= 2 and client.get("/admin/registration/notice/?status__exact=sent").context["cl"].result_count == sent
    assert client.get(f"/admin/registration/notice/?site__id__exact={site_a.pk}").status_code == 200
    assert client.get("/admin/registration/notice/?kind__exact=window_closing_2").context["cl"].result_count == 1
    assert client.get("/admin/registration/digest/").status_code == 200
    assert client.get("/admin/registration/notice/add/").status_code == 403
    notice = Notice.objects.first()
    assert client.post(f"/admin/registration/notice/{notice.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Notice.objects.filter(pk=notice.pk).exists()


def test_site_staff_of_another_site_get_nothing_from_the_scan(plans, site_a, site_b, coordinator_a, mailoutbox):
    """A coordinator with a membership at site B only never receives site A's digest."""
    MembershipFactory(site=site_b, role="investigator", user__username="pi_b")
    evaluated(site_a, coordinator_a)
    reminders.run_daily(today=CLOSING_2)
    assert [m.to for m in mailoutbox] == [[coordinator_a.email]]


def test_labs_reminder_names_the_screening_number_before_registration(plans, site_a, coordinator_a, mailoutbox):
    patient = eligible(site_a)
    reminders.run_daily(today=LABS + 14 * DAY)
    assert patient.screening_number in mailoutbox[0].body and "OLG-" not in mailoutbox[0].body
